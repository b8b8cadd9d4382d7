package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/spam"
	"github.com/leadbridge/leadbridge/web/static"
)

// Reserved fields the hosted page and embed.js send besides the form's own.
const (
	fieldLang     = "_lang"     // the language the form was shown in
	fieldReferrer = "_referrer" // the page the visitor came from (document.referrer)
)

// embedScript is GET /embed.js: the script, made once, with its ETag.
type embedScript struct {
	body []byte
	etag string
}

// prepareWebForms builds what the website forms need besides the routes:
// a spam checker per form and the embed script.
func (s *server) prepareWebForms() error {
	if s.Tokens == nil {
		key := make([]byte, spam.MinKeyLen)
		rand.Read(key)
		t, err := spam.NewTokens([][]byte{key}, 0)
		if err != nil {
			return err
		}
		s.Tokens = t
	}
	s.checkers = map[string]*spam.Checker{}
	for id, f := range s.Forms {
		ch, err := spam.NewChecker(id, f.Spam, spam.Options{Tokens: s.Tokens, Client: s.CaptchaHTTP, Now: s.Now})
		if err != nil {
			return fmt.Errorf("handlers: %w", err)
		}
		s.checkers[id] = ch
	}
	script, err := static.File("embed.js")
	if err != nil {
		return fmt.Errorf("static assets: %w", err)
	}
	// The base URL posts go to: LEADBRIDGE_PUBLIC_URL when set, else the
	// script works it out from its own src.
	base, _ := json.Marshal(s.PublicURL)
	script = []byte(strings.Replace(string(script), `var BASE = "";`, "var BASE = "+string(base)+";", 1))
	sum := sha256.Sum256(script)
	s.embed = embedScript{body: script, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	return nil
}

// embedJS is GET /embed.js. Its URL is the one sites paste, so it cannot
// carry a content hash: it is cached for five minutes and revalidated with
// its ETag. Any site may load it; what it may do is each form's business.
func (s *server) embedJS(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", s.embed.etag)
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if etagMatches(c.Request().Header.Get("If-None-Match"), s.embed.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", s.embed.body)
}

// etagMatches implements If-None-Match's weak comparison: any listed tag,
// W/ or not, or *.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// definition is what embed.js renders a form from: GET /f/:form/definition.
type definition struct {
	forms.View
	Action     string            `json:"action"`   // the path to POST to, on the API's base URL
	Token      string            `json:"token"`    // the form token (_lb_token): proves when the form was served
	Honeypot   string            `json:"honeypot"` // the field to leave empty; "" = none
	Captcha    *captchaView      `json:"captcha,omitempty"`
	SuccessURL string            `json:"success_url,omitempty"`
	Messages   map[string]string `json:"messages"`
}

type captchaView struct {
	Provider string `json:"provider"`
	SiteKey  string `json:"site_key"`
	Script   string `json:"script"`
	Field    string `json:"field"` // the field the widget fills with its response
	Action   string `json:"action,omitempty"`
}

// embedMessages are the built-in messages embed.js shows itself.
var embedMessages = []string{
	forms.MsgSending, forms.MsgSummaryOne, forms.MsgSummaryMany, forms.MsgRetrying, forms.MsgFailed,
	forms.MsgChoose, forms.MsgRequiredMark, forms.MsgThanksTitle, forms.MsgRateLimited, forms.MsgBusy,
	forms.MsgKeyReused, forms.MsgNotSaved,
}

// formDefinition is GET /f/:form/definition[?lang=]: the form in the
// visitor's language, with a fresh form token. Origins are checked as for
// posts: a site the form does not allow gets 403, so that it cannot show
// a form whose posts would be refused.
func (s *server) formDefinition(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Add("Vary", "Origin")
	h.Add("Vary", "Accept-Language")
	h.Set("Cache-Control", "no-store") // the token is new every time
	if origin := c.Request().Header.Get("Origin"); origin != "" {
		if !s.originAllowed(c, f, origin) {
			return echo.NewHTTPError(http.StatusForbidden, "This form cannot be shown on this site: its origin is not in the form's allowed_origins.")
		}
		setCORS(c, origin)
	}
	lang := f.PickLanguage(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language"))
	d := definition{
		View:       f.View(lang),
		Action:     "/f/" + url.PathEscape(f.ID),
		Token:      s.Tokens.Issue(f.ID, s.Now()),
		Honeypot:   f.Spam.Honeypot,
		SuccessURL: f.SuccessURL,
		Messages:   map[string]string{},
	}
	if cp := f.Spam.Captcha; cp != nil {
		d.Captcha = &captchaView{Provider: string(cp.Provider), SiteKey: cp.SiteKey, Script: cp.Provider.ScriptURL(cp.SiteKey),
			Field: cp.Provider.ResponseField(), Action: cp.Action}
	}
	for _, k := range embedMessages {
		d.Messages[k] = f.Message(lang, k)
	}
	return c.JSON(http.StatusOK, d)
}

// originAllowed reports whether a request with that Origin header may
// post to form f (or read its definition): the form allows it, or it is
// leadbridge's own origin (the hosted page). Origins compare as browsers
// write them; "null" (a sandboxed frame, a file) is allowed only by "*".
func (s *server) originAllowed(c echo.Context, f *forms.Form, origin string) bool {
	for _, o := range f.AllowedOrigins {
		if o == "*" {
			return true
		}
	}
	n, ok := forms.NormalizeOrigin(origin)
	if !ok {
		return false
	}
	for _, o := range f.AllowedOrigins {
		if o == n {
			return true
		}
	}
	return n == s.ownOrigin(c)
}

// ownOrigin is the origin leadbridge's pages are served from: that of
// LEADBRIDGE_PUBLIC_URL, or of the request.
func (s *server) ownOrigin(c echo.Context) string {
	base := s.PublicURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	n, _ := forms.NormalizeOrigin(u.Scheme + "://" + u.Host)
	return n
}

// ownURL is the absolute URL of the request, as the visitor sees it.
func (s *server) ownURL(c echo.Context) string {
	base := s.PublicURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	return base + c.Request().URL.RequestURI()
}

// clientAddr is the client's address as a netip.Addr: the socket's, or
// the trusted proxies' X-Forwarded-For (routes.go sets the extractor).
func clientAddr(c echo.Context) netip.Addr {
	a, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// refused is a flood check's refusal: 429 (too fast) or 503 (full), with
// the Retry-After the check gave.
type refused struct{ d flood.Decision }

func (e *refused) Error() string { return "refused by the " + e.d.Limit + " limit" }

// floodCheck runs the checks that come before a submission is looked at:
// the rate limits of f (with the server's per-address limit when the form
// has any) and Redis's memory; the form's waiting submissions are counted
// by the write that stores it (keep, waitingCap). A check
// Redis cannot answer lets the submission through (fail open): the durable
// write that follows answers 503 itself when Redis is down.
func (s *server) floodCheck(ctx context.Context, c echo.Context, f *forms.Form) error {
	if s.Limiter != nil {
		lim := f.Spam.RateLimits
		lim.Token = flood.Rate{} // checked after the token is verified
		if !lim.IPForm.IsZero() || !lim.Form.IsZero() {
			lim.IP = s.RateLimitIP
		}
		d, err := s.Limiter.Allow(ctx, flood.Request{IP: clientAddr(c), Form: f.ID}, lim)
		if err := s.floodDecision(c, f, d, err); err != nil {
			return err
		}
	}
	if s.Memory != nil {
		d, err := s.Memory.Check(ctx)
		return s.floodDecision(c, f, d, err)
	}
	return nil
}

// waitingCap is form f's waiting cap: its own, or the API's (0 = none).
// The script that stores a submission checks it (keep), after validation:
// no round trip of its own, and exact where a count read before the write
// lets concurrent submissions past the cap.
func (s *server) waitingCap(f *forms.Form) int64 {
	if f.Spam.WaitingCap != 0 {
		return f.Spam.WaitingCap
	}
	return s.WaitingCap
}

// tokenCheck counts a verified form token's uses (replay of one token).
func (s *server) tokenCheck(ctx context.Context, c echo.Context, f *forms.Form, replayKey string) error {
	if s.Limiter == nil || replayKey == "" || f.Spam.RateLimits.Token.IsZero() {
		return nil
	}
	d, err := s.Limiter.Allow(ctx, flood.Request{IP: clientAddr(c), Form: f.ID, Token: replayKey}, flood.Limits{Token: f.Spam.RateLimits.Token})
	return s.floodDecision(c, f, d, err)
}

// floodDecision turns a Decision into nil (go on) or a *refused, and logs
// and counts what could not be checked. No address is logged.
func (s *server) floodDecision(c echo.Context, f *forms.Form, d flood.Decision, err error) error {
	if err != nil || d.Unchecked {
		s.Metrics.Submissions.WithLabelValues(f.ID, "unchecked").Inc()
		if err != nil {
			s.Log.Warn("flood check not made; let through", "form", f.ID, "err", err, "request_id", requestID(c))
		}
	}
	if d.Allowed {
		return nil
	}
	outcome := "rate_limited"
	if d.Overloaded() {
		outcome = "overloaded"
	}
	s.Metrics.Submissions.WithLabelValues(f.ID, outcome).Inc()
	s.Log.Info("submission refused", "form", f.ID, "limit", d.Limit, "retry_after", d.RetryAfterSeconds(), "request_id", requestID(c))
	return &refused{d}
}

// spamCheck judges a submission of f by its raw values.
func (s *server) spamCheck(ctx context.Context, c echo.Context, f *forms.Form, raw map[string]string) spam.Verdict {
	ch := s.checkers[f.ID]
	if ch == nil {
		return spam.Verdict{}
	}
	return ch.Check(ctx, spam.Submission{Value: func(name string) string { return raw[name] }, RemoteIP: c.RealIP()})
}

// backLink is where the thank-you page leads back to: the page the visitor
// came from, when it is a web address on a site the form allows ("" else).
func backLink(f *forms.Form, page string) string {
	if page == "" || len(page) > 2000 || !forms.WebURL(page) {
		return ""
	}
	u, _ := url.Parse(page)
	origin, ok := forms.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if !ok {
		return ""
	}
	for _, o := range f.AllowedOrigins {
		if o == "*" || o == origin {
			return page
		}
	}
	return ""
}

// retryAfter sets Retry-After from a refusal.
func retryAfter(c echo.Context, d flood.Decision) int {
	n := d.RetryAfterSeconds()
	c.Response().Header().Set("Retry-After", strconv.Itoa(n))
	return n
}
