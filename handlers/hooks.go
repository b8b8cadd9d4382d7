package handlers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/webhook"
)

// Webhook intake. The order of work is package webhook's: read the raw body
// (bounded), verify it, and only then parse it; each lead it carries goes
// through its source's form and keep(), the path form posts take too.

const (
	// maxKeptPayload bounds the part of a delivery's body kept on each of
	// its submissions for the admin console; Payload.Truncated says when
	// it was cut (a lead is a few KB; a 1 MiB body is an attack or a bug).
	maxKeptPayload = 64 << 10
	// maxLeadsPerDelivery bounds the leads one delivery may carry: HubSpot
	// batches up to 100 events, Meta a handful; a million-element array
	// must not become a million Redis writes in one request.
	maxLeadsPerDelivery = 500
)

// hookLead is what became of one lead of a delivery, as its sender is told.
type hookLead struct {
	ID     string `json:"id,omitempty"` // the submission's id
	Status string `json:"status"`       // accepted | duplicate | failed | test
}

// hookAnswer is the body of a 200 to a delivery.
type hookAnswer struct {
	Leads []hookLead `json:"leads"`
}

// hookInvalid: a delivery whose mapped fields do not pass its form's rules.
// Its submissions were kept as failed, so an admin sees them; the sender
// gets a 422 naming the fields of the first invalid lead.
type hookInvalid struct {
	id     string            // the first invalid lead's submission
	fields map[string]string // its field problems
	leads  []hookLead
}

func (e *hookInvalid) Error() string {
	return fmt.Sprintf("webhook lead %s: %d invalid fields", e.id, len(e.fields))
}

func (e *hookInvalid) body() any {
	return struct {
		apiError
		ID    string     `json:"id"`
		Leads []hookLead `json:"leads"`
	}{apiError{Error: "validation_failed", Fields: e.fields,
		Message: "The delivery's fields do not pass the form's rules. It is kept as a failed submission for an admin to review; resending it changes nothing."},
		e.id, e.leads}
}

// source returns the source of /hooks/:source. An unknown one is a plain
// 404 that lists none of the configured sources.
func (s *server) source(c echo.Context) (*webhook.Source, error) {
	src, ok := s.Sources[c.Param("source")]
	if !ok {
		s.Metrics.Webhooks.WithLabelValues("", "unknown_source").Inc()
		s.Log.Info("webhook to an unknown source", "source", truncate(c.Param("source"), 100), "request_id", requestID(c))
		return nil, echo.NewHTTPError(http.StatusNotFound, "There is no webhook source at this URL.")
	}
	return src, nil
}

// receiveHook is POST /hooks/:source.
func (s *server) receiveHook(c echo.Context) error {
	src, err := s.source(c)
	if err != nil {
		return err
	}
	body, err := readHookBody(c)
	if err != nil {
		s.refused(c, src, outcomeOf(err), err)
		return err
	}
	r := c.Request()
	req := webhook.Request{Method: r.Method, URL: s.publicURL(r), Header: r.Header, Body: body}
	if err := src.Verify(req, s.Now()); err != nil {
		// The reason (which header, how stale) is for the log only: telling
		// it to the sender would help a forger.
		s.refused(c, src, "unauthorized", err)
		return echo.NewHTTPError(http.StatusUnauthorized, "The delivery could not be authenticated.")
	}
	if err := s.limitHook(c, src); err != nil {
		return err
	}
	if !validJSONText(body) {
		// encoding/json would turn such bytes into U+FFFD without a word.
		s.refused(c, src, "unparsable", errors.New("the body is not valid UTF-8 text"))
		return echo.NewHTTPError(http.StatusBadRequest, "The body is not valid UTF-8 text.")
	}
	leads, err := src.Leads(req)
	if err != nil {
		s.refused(c, src, "unparsable", err)
		return echo.NewHTTPError(http.StatusBadRequest, "The body could not be read as this source's payload.")
	}
	if len(leads) > maxLeadsPerDelivery {
		s.refused(c, src, "too_large", fmt.Errorf("%d leads in one delivery", len(leads)))
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("A delivery may carry at most %d leads.", maxLeadsPerDelivery))
	}
	f := s.Forms[src.Form] // config.LoadSources refuses a source of an unknown form
	payload := keptPayload(src, r.Header.Get(echo.HeaderContentType), body)
	answer := hookAnswer{Leads: make([]hookLead, 0, len(leads))}
	var invalid *hookInvalid
	for _, l := range leads {
		res, problems, err := s.keepLead(c, src, f, l, payload)
		if err != nil {
			// Redis did not confirm: 503. The leads before this one are
			// durable, and the platform's retry finds them by their ids.
			return err
		}
		answer.Leads = append(answer.Leads, res)
		if problems != nil && invalid == nil {
			invalid = &hookInvalid{id: res.ID, fields: problems}
		}
	}
	if invalid != nil {
		invalid.leads = answer.Leads
		return invalid
	}
	if len(leads) == 0 {
		// An event the source does not take (a cancellation, an
		// unsubscribe): acknowledged, so the platform does not retry it.
		s.hookOutcome(c, src, "ignored", "")
	}
	return c.JSON(http.StatusOK, answer)
}

// keepLead makes one lead durable through keep(): mapped and validated like
// a form post, or, for a lead that arrived as ids only, with what the worker
// needs to read it. Its idempotency key is the platform's delivery id in the
// source's own key space, kept for the platform's retry horizon; a repeat
// creates nothing. problems is set when the lead was kept as failed.
func (s *server) keepLead(c echo.Context, src *webhook.Source, f *forms.Form, l webhook.Lead, payload *submission.Payload) (hookLead, map[string]string, error) {
	if l.Test {
		s.hookOutcome(c, src, "test", "")
		return hookLead{Status: "test"}, nil, nil
	}
	r := c.Request()
	rec := &submission.Record{
		Form:           f.ID,
		Source:         src.ID,
		ClientIP:       c.RealIP(),
		UserAgent:      truncate(r.UserAgent(), 500),
		IdempotencyKey: hookKey(src.ID, l.ID),
		KeyTTL:         src.Kind.RetryHorizon(),
		RequestID:      requestID(c),
		Payload:        payload,
	}
	var problems map[string]string
	if l.Fetch != nil {
		rec.Fetch = &submission.Fetch{From: l.Fetch.From, ID: l.Fetch.ID, Page: l.Fetch.Page, Form: l.Fetch.Form,
			Ad: l.Fetch.Ad, Portal: l.Fetch.Portal, Object: l.Fetch.Object}
	} else if rec.Fields, problems = s.Validator.Clean(f, l.Values); problems != nil {
		// Kept as it came, so that an admin sees what was wrong and can
		// correct it and retry.
		rec.Fields = formValues(f, l.Values)
		rec.LastError = &submission.ErrorInfo{Category: submission.CategoryInvalidData, Message: invalidMessage(src, problems)}
	}
	id, duplicate, err := s.keep(r.Context(), rec, 0) // the waiting cap: limitHook, once per delivery
	switch {
	case errors.Is(err, submission.ErrKeyReused):
		// The platform sent this delivery id before with other content (a
		// retry after the lead changed upstream): the first one stands.
		s.Log.Warn("webhook delivery id seen before with other content; the first delivery stands",
			"source", src.ID, "request_id", requestID(c))
		s.hookOutcome(c, src, "duplicate", "")
		return hookLead{Status: "duplicate"}, nil, nil
	case err != nil:
		s.Metrics.Webhooks.WithLabelValues(src.ID, "unavailable").Inc()
		return hookLead{}, nil, err
	case duplicate: // keep queued it again if it was still waiting without a task
		s.hookOutcome(c, src, "duplicate", id)
		return hookLead{ID: id, Status: "duplicate"}, nil, nil
	case problems != nil:
		s.hookOutcome(c, src, "invalid", id)
		return hookLead{ID: id, Status: submission.StatusFailed}, problems, nil
	}
	s.hookOutcome(c, src, "accepted", id)
	return hookLead{ID: id, Status: submission.StatusAccepted}, nil, nil
}

// hookKey is a webhook lead's idempotency key. Keys are per form; the
// source id (which has no ":") keeps two sources of one form apart, and
// form intake refuses client keys with this prefix, so that no form post
// can take a delivery's key before the delivery arrives.
func hookKey(source, leadID string) string { return hookKeyPrefix + source + ":" + leadID }

const hookKeyPrefix = "hook:"

// hookHandshake is GET /hooks/:source: Meta's subscription check and
// Mailchimp's validation GET (webhook.Source.Handshake).
func (s *server) hookHandshake(c echo.Context) error {
	src, err := s.source(c)
	if err != nil {
		return err
	}
	status, body := src.Handshake(c.QueryParams())
	if status != http.StatusOK {
		s.Log.Info("webhook handshake refused", "source", src.ID, "status", status, "request_id", requestID(c))
		return echo.NewHTTPError(status, http.StatusText(status)+".")
	}
	s.Log.Info("webhook handshake", "source", src.ID, "request_id", requestID(c))
	return c.Blob(http.StatusOK, echo.MIMETextPlainCharsetUTF8, []byte(body))
}

// readHookBody reads the raw body, at most webhook.MaxBody bytes: 413 beyond
// it, 408 when the client stops sending before the server's read timeout,
// 400 when the body breaks off.
func readHookBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	tooLarge := echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("A delivery may be at most %d KB.", webhook.MaxBody>>10))
	if r.ContentLength > webhook.MaxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, webhook.MaxBody))
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case errors.As(err, &ne) && ne.Timeout():
		return nil, echo.NewHTTPError(http.StatusRequestTimeout, "The body did not arrive in time.").SetInternal(err)
	case err != nil:
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The body could not be read.").SetInternal(err)
	}
	return body, nil
}

// outcomeOf names a body-reading error for the metrics.
func outcomeOf(err error) string {
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
		return "too_large"
	}
	return "unreadable"
}

// publicURL is the URL the sender called, for the schemes that sign it
// (HubSpot) or carry a token in its query (Mailchimp, Unbounce): scheme and
// host as the sender saw them, path and query exactly as received. Behind a
// proxy they come from X-Forwarded-Proto and X-Forwarded-Host, believed only
// from LEADBRIDGE_TRUSTED_PROXIES (a forged host would only make a HubSpot
// signature fail, but a header anyone can set decides nothing).
func (s *server) publicURL(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.fromTrustedProxy(r) {
		if p := strings.ToLower(firstForwarded(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI() // an absolute-form request line
	}
	return scheme + "://" + host + target
}

// fromTrustedProxy reports whether the socket peer is a trusted proxy.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && slices.ContainsFunc(s.TrustedProxies, func(n *net.IPNet) bool { return n.Contains(ip) })
}

// firstForwarded is the first of a forwarded header's comma-separated
// values: the one the first proxy, nearest the sender, set.
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// googleKey finds the google_key member of a Google Ads lead: the source's
// secret, which is not kept with the payload.
var googleKey = regexp.MustCompile(`"google_key"\s*:\s*"(?:[^"\\]|\\.)*"`)

// keptPayload is the part of a delivery's body kept on its submissions: at
// most maxKeptPayload bytes, cut at a character boundary, without a secret
// that travels inside it (Google's google_key).
func keptPayload(src *webhook.Source, contentType string, body []byte) *submission.Payload {
	text := string(body)
	if src.Kind == webhook.KindGoogleAds {
		text = googleKey.ReplaceAllString(text, `"google_key":"[redacted]"`)
	}
	p := &submission.Payload{ContentType: truncate(contentType, 200), Size: len(body), Body: truncate(text, maxKeptPayload)}
	p.Truncated = len(p.Body) < len(text)
	return p
}

// formValues keeps the mapped values that are fields of the form.
func formValues(f *forms.Form, values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for name, v := range values {
		if _, ok := f.Field(name); ok {
			out[name] = v
		}
	}
	return out
}

// invalidMessage is the failed record's error: every field's problem, in
// field order, and where the values came from.
func invalidMessage(src *webhook.Source, problems map[string]string) string {
	names := make([]string, 0, len(problems))
	for n := range problems {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + problems[n]
	}
	return fmt.Sprintf("the fields mapped from webhook source %s do not pass the form's rules (%s); correct them and retry, or fix the source's fields: mapping",
		src.ID, strings.Join(parts, "; "))
}

// hookOutcome counts what became of a lead and logs it once: source, form,
// submission id and outcome — never a field value nor the platform's ids.
func (s *server) hookOutcome(c echo.Context, src *webhook.Source, outcome, id string) {
	s.Metrics.Webhooks.WithLabelValues(src.ID, outcome).Inc()
	s.Log.Info("webhook lead", "source", src.ID, "form", src.Form, "id", id, "outcome", outcome, "request_id", requestID(c))
}

// refused counts and logs a delivery refused before any lead was taken from
// it, with the reason, which is never sent back.
func (s *server) refused(c echo.Context, src *webhook.Source, outcome string, reason error) {
	s.Metrics.Webhooks.WithLabelValues(src.ID, outcome).Inc()
	s.Log.Warn("webhook refused", "source", src.ID, "kind", string(src.Kind), "outcome", outcome, "reason", reason.Error(), "request_id", requestID(c))
}
