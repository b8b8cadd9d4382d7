package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

// Reserved field names: not form fields, but instructions to leadbridge.
const (
	fieldIdempotencyKey = "_idempotency_key"
	fieldPage           = "_page"
)

// maxFields bounds how many fields one submission may carry.
const maxFields = 200

func (s *server) form(c echo.Context) (*forms.Form, error) {
	f, ok := s.Forms[c.Param("form")]
	if !ok {
		return nil, echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("There is no form called %q.", c.Param("form")))
	}
	return f, nil
}

// submitForm is POST /f/:form.
func (s *server) submitForm(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	raw, err := readValues(c)
	if err != nil {
		return err
	}
	idem := strings.TrimSpace(c.Request().Header.Get("Idempotency-Key"))
	if idem == "" {
		idem = strings.TrimSpace(raw[fieldIdempotencyKey])
	}
	if len(idem) > 200 {
		return echo.NewHTTPError(http.StatusBadRequest, "Idempotency-Key must be at most 200 characters.")
	}
	values, problems := s.Validator.Clean(f, raw)
	if problems != nil {
		s.count(f.ID, "invalid")
		return &invalidInput{form: f, values: raw, fields: problems, idem: idem}
	}
	r := c.Request()
	rec := &submission.Record{
		Form:           f.ID,
		Source:         "form",
		Fields:         values,
		ClientIP:       c.RealIP(),
		UserAgent:      truncate(r.UserAgent(), 500),
		Page:           truncate(firstNonEmpty(raw[fieldPage], r.Header.Get("Origin")), 2000),
		Referrer:       truncate(r.Referer(), 2000),
		IdempotencyKey: idem,
	}
	// The store-and-queue sequence runs to its end even if the client goes
	// away, and no longer than the client would sensibly wait.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	existing, err := s.Store.Create(ctx, rec)
	if errors.Is(err, submission.ErrKeyReused) {
		s.count(f.ID, "key_reused")
		return &sentForm{form: f, values: raw, idem: idem, err: err}
	}
	if err != nil {
		s.count(f.ID, "unavailable")
		return &notDurable{err}
	}
	if existing != "" {
		s.count(f.ID, "duplicate")
		return s.accepted(c, f, existing)
	}
	if err := s.Queue.Enqueue(ctx, rec.ID); err != nil {
		// The record is durable; only its task is missing. The worker's
		// janitor queues records left "accepted" without a task, so this is
		// still a 202. (Taking the record back instead would break a retry
		// with the same Idempotency-Key that was already answered with it.)
		s.Log.Warn("submission stored but not queued; the janitor will queue it", "id", rec.ID, "err", err)
	}
	s.count(f.ID, "accepted")
	s.Log.Info("accepted", "id", rec.ID, "form", f.ID, "email", maskEmail(values["email"]), "ip", rec.ClientIP)
	return s.accepted(c, f, rec.ID)
}

func (s *server) accepted(c echo.Context, f *forms.Form, id string) error {
	if wantsJSON(c) {
		return c.JSON(http.StatusAccepted, map[string]string{"id": id, "status": submission.StatusAccepted})
	}
	if f.SuccessURL != "" {
		return c.Redirect(http.StatusSeeOther, f.SuccessURL)
	}
	return c.Redirect(http.StatusSeeOther, "/f/"+url.PathEscape(f.ID)+"/thanks?id="+url.QueryEscape(id))
}

// readValues reads a url-encoded, multipart or JSON body into field values.
func readValues(c echo.Context) (map[string]string, error) {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json.")
	}
	switch mt {
	case echo.MIMEApplicationJSON:
		return readJSON(r.Body)
	case echo.MIMEApplicationForm, echo.MIMEMultipartForm:
		params, err := c.FormParams()
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) {
				return nil, err // 413 from the body limit
			}
			if strings.Contains(err.Error(), "too large") {
				return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
			}
			return nil, echo.NewHTTPError(http.StatusBadRequest, "The form data could not be read.").SetInternal(err)
		}
		if len(params) > maxFields {
			return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("A submission may have at most %d fields.", maxFields))
		}
		out := make(map[string]string, len(params))
		for k, vs := range params {
			out[k] = strings.Join(vs, ", ")
		}
		return out, nil
	}
	return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, fmt.Sprintf("Content type %q is not accepted: send application/x-www-form-urlencoded, multipart/form-data or application/json.", mt))
}

// readJSON reads a flat JSON object. Numbers and booleans become their text;
// nested objects and arrays of objects are refused.
func readJSON(body io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.").SetInternal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The body is not valid JSON: "+jsonProblem(err))
	}
	if obj == nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The body must be a JSON object of field names and values.")
	}
	if dec.More() {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The body must hold exactly one JSON object.")
	}
	if len(obj) > maxFields {
		return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("A submission may have at most %d fields.", maxFields))
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		switch v := v.(type) {
		case nil:
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case json.Number:
			out[k] = v.String()
		case []any:
			parts := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Field %q must be text, a number, true/false or a list of text.", k))
				}
				parts = append(parts, s)
			}
			out[k] = strings.Join(parts, ", ")
		default:
			return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Field %q must be text, a number, true/false or a list of text.", k))
		}
	}
	return out, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d).", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "expected an object of field names and values."
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the body is empty or cut short."
	}
	return err.Error()
}

// checkOrigin refuses cross-origin posts from sites the form does not allow.
// Browsers send Origin on cross-site posts; server-to-server clients don't.
func (s *server) checkOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, err := s.form(c)
		if err != nil {
			return err
		}
		origin := c.Request().Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		if !originAllowed(f, origin) && !sameOrigin(c, origin) {
			return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("This form does not accept submissions from %s.", origin))
		}
		setCORS(c, origin)
		return next(c)
	}
}

// preflight answers CORS preflights for JSON posts from allowed origins.
func (s *server) preflight(c echo.Context) error {
	f, err := s.form(c)
	if err != nil {
		return err
	}
	origin := c.Request().Header.Get("Origin")
	if origin == "" || !originAllowed(f, origin) {
		return echo.NewHTTPError(http.StatusForbidden, "Origin not allowed for this form.")
	}
	setCORS(c, origin)
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, Idempotency-Key")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}

func originAllowed(f *forms.Form, origin string) bool {
	for _, o := range f.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

func sameOrigin(c echo.Context, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, c.Request().Host)
}

func setCORS(c echo.Context, origin string) {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
}

func maskEmail(s string) string {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		if s == "" {
			return ""
		}
		return "***"
	}
	return s[:1] + "***" + s[at:]
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
