package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

// invalidInput is a submission that failed validation: field name → message.
type invalidInput struct {
	form   *forms.Form
	values map[string]string
	fields map[string]string
	idem   string
	lang   string // the language the form is shown in
}

func (e *invalidInput) Error() string {
	return fmt.Sprintf("validation failed: %d fields", len(e.fields))
}

// sentForm wraps the error of a form submission with what was sent, so that
// a person posting the hosted page sees it again with their answers.
type sentForm struct {
	form   *forms.Form
	values map[string]string
	idem   string
	lang   string // the language the form is shown in
	err    error
}

func (e *sentForm) Error() string { return e.err.Error() }
func (e *sentForm) Unwrap() error { return e.err }

// notDurable: Redis could not take the submission. The client must retry;
// it is never told 2xx for something that is not safely stored.
type notDurable struct{ err error }

func (e *notDurable) Error() string { return "could not store submission: " + e.err.Error() }
func (e *notDurable) Unwrap() error { return e.err }

// retryAfterUnavailable is what a 503 tells clients to wait.
const retryAfterUnavailable = 5 * time.Second

// apiError is the JSON error body: a stable machine code and words for people.
type apiError struct {
	Error   string            `json:"error"`
	Message string            `json:"message,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
	// A 503 of intake: the submission may have been stored after all, so
	// send it again with this key (the client's own, or one made for it).
	RetryWithSameKey bool   `json:"retry_with_same_idempotency_key,omitempty"`
	IdempotencyKey   string `json:"idempotency_key,omitempty"`
	// A 429 or 503 of a flood limit: the seconds Retry-After says.
	RetryAfter int `json:"retry_after,omitempty"`
}

// handleError is the one place where errors become responses.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		inv  *invalidInput
		nd   *notDurable
		he   *echo.HTTPError
		te   *submission.TransitionError
		sent *sentForm
		rf   *refused
		hi   *hookInvalid
		down *storeDown
		resp error
	)
	html := errors.As(err, &sent) && !wantsJSON(c) // show the hosted form again
	switch {
	case errors.Is(err, submission.ErrNotFound):
		resp = s.problem(c, http.StatusNotFound, "not_found", "No submission with that id (it may have expired after its retention period).")
	case errors.As(err, &te):
		resp = s.problem(c, http.StatusConflict, "conflict", upperFirst(te.Error())+".")
	case errors.Is(err, submission.ErrKeyReused):
		if html {
			// Someone went Back and changed a form they had sent: show their
			// answers again under a fresh key, so that Send sends them.
			resp = s.renderForm(c, http.StatusUnprocessableEntity, sent.form, sent.lang, sent.values, nil, "",
				sent.form.Message(sent.lang, forms.MsgKeyReused))
		} else {
			resp = c.JSON(http.StatusUnprocessableEntity, apiError{Error: "idempotency_key_reused",
				Message: "This Idempotency-Key was already used for a submission with different content. Send new content with a new key."})
		}
	case errors.As(err, &hi):
		resp = c.JSON(http.StatusUnprocessableEntity, hi.body())
	case errors.As(err, &inv):
		if wantsJSON(c) || inv.form == nil {
			resp = c.JSON(http.StatusUnprocessableEntity, apiError{Error: "validation_failed", Message: "Some fields need attention.", Fields: inv.fields})
		} else {
			resp = s.renderForm(c, http.StatusUnprocessableEntity, inv.form, inv.lang, inv.values, inv.fields, inv.idem, "")
		}
	case errors.As(err, &nd):
		form := ""
		if sent != nil {
			form = sent.form.ID
		}
		s.Log.Error("redis did not confirm a write", "err", nd.err, "path", c.Path(), "form", form, "request_id", requestID(c))
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retryAfterUnavailable.Seconds())))
		switch {
		case sent == nil:
			resp = s.problem(c, http.StatusServiceUnavailable, "unavailable", "The change could not be confirmed. Please try again in a few seconds.")
		case html:
			// The same page again, under the same key: Send cannot make two.
			resp = s.renderForm(c, http.StatusServiceUnavailable, sent.form, sent.lang, sent.values, nil, sent.idem,
				sent.form.Message(sent.lang, forms.MsgNotSaved))
		default:
			resp = c.JSON(http.StatusServiceUnavailable, apiError{Error: "unavailable",
				Message: "We could not confirm that your submission was saved; it may have been. Send it again in a few seconds " +
					"with the same Idempotency-Key (idempotency_key here): it will not be stored twice.",
				RetryWithSameKey: true, IdempotencyKey: sent.idem})
		}
	case errors.As(err, &rf):
		// A flood limit: 429 (this client, too fast) or 503 (leadbridge
		// full), both with Retry-After; nothing was stored.
		n := retryAfter(c, rf.d)
		status, code, key := http.StatusTooManyRequests, "rate_limited", forms.MsgRateLimited
		if rf.d.Overloaded() {
			status, code, key = http.StatusServiceUnavailable, "unavailable", forms.MsgBusy
		}
		switch {
		case sent == nil:
			resp = s.problem(c, status, code, http.StatusText(status))
		case html:
			resp = s.renderForm(c, status, sent.form, sent.lang, sent.values, nil, sent.idem, sent.form.Message(sent.lang, key, n))
		default:
			resp = c.JSON(status, apiError{Error: code, Message: sent.form.Message(sent.lang, key, n), RetryAfter: n})
		}
	case errors.As(err, &down):
		s.Log.Error("admin console: redis did not answer", "err", down.err, "path", c.Path(), "request_id", requestID(c))
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retryAfterUnavailable.Seconds())))
		resp = s.problem(c, http.StatusServiceUnavailable, "unavailable", "Redis, where leadbridge keeps submissions, did not answer in time. Nothing was changed that this page does not show. Try again in a few seconds.")
	case errors.As(err, &he):
		msg := fmt.Sprint(he.Message)
		if he.Internal != nil && he.Code >= 500 {
			s.Log.Error("request failed", "err", he.Internal, "request_id", requestID(c))
		}
		if he.Code == http.StatusRequestEntityTooLarge && msg == http.StatusText(he.Code) {
			msg = fmt.Sprintf("The submission is larger than the %d KB this server accepts.", s.MaxBodyBytes>>10)
		}
		resp = s.problem(c, he.Code, codeFor(he.Code), msg)
	default:
		s.Log.Error("internal error", "err", err, "path", c.Path(), "request_id", requestID(c))
		resp = s.problem(c, http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
	}
	if resp != nil {
		s.Log.Error("writing error response", "err", resp)
	}
}

// problem answers with JSON for API clients and a page for browsers.
func (s *server) problem(c echo.Context, status int, code, msg string) error {
	if c.Request().Method == http.MethodHead {
		return c.NoContent(status)
	}
	if wantsJSON(c) {
		return c.JSON(status, apiError{Error: code, Message: msg})
	}
	if strings.HasPrefix(c.Request().URL.Path, "/admin") && s.adminPages != nil {
		return s.adminProblem(c, status, msg)
	}
	return s.render(c, status, "message.html", struct {
		page
		Title, Message string
	}{page{hashes: s.hashes}, http.StatusText(status), msg})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "error"
}

// recoverPanics turns a panic into a logged 500: one bad request never
// takes the intake down.
func (s *server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.Log.Error("panic", "panic", r, "path", c.Path(), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

func (s *server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		// Checked first: the arguments alone cost allocations on every request.
		if s.Log.Enabled(c.Request().Context(), slog.LevelDebug) {
			s.Log.Debug("http", "method", c.Request().Method, "path", c.Path(), "status", c.Response().Status,
				"ms", time.Since(start).Milliseconds(), "request_id", requestID(c))
		}
		return nil
	}
}

func requestID(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

// maxRequestIDLen bounds a caller's X-Request-ID: it is stored on the
// submission and written on every log line of its delivery.
const maxRequestIDLen = 128

// dropUnusableRequestID removes an X-Request-ID the caller sent that is too
// long or holds characters beyond letters, digits and ._:+/=- (an email
// address, a line break), so that the RequestID middleware makes a fresh
// one: the id goes into logs and the submission's record, where neither a
// person's address nor a forged log line belongs.
func dropUnusableRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !usableRequestID(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

func usableRequestID(id string) bool {
	if len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("._:+/=-", b) >= 0:
		default:
			return false
		}
	}
	return true
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
