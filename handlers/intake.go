package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/flood"
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
	raw, notText, err := readValues(c)
	if err != nil {
		return err
	}
	r := c.Request()
	lang := f.PickLanguage(firstNonEmpty(raw[fieldLang], c.QueryParam("lang")), r.Header.Get("Accept-Language"))
	idem := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if idem == "" {
		idem = strings.TrimSpace(raw[fieldIdempotencyKey])
	}
	if len(idem) > 200 || !utf8.ValidString(idem) {
		return echo.NewHTTPError(http.StatusBadRequest, "Idempotency-Key must be text of at most 200 characters.")
	}
	if strings.HasPrefix(idem, hookKeyPrefix) {
		// Webhook deliveries' keys: a post must not take one first.
		return echo.NewHTTPError(http.StatusBadRequest, "Idempotency-Key must not start with "+hookKeyPrefix+" (reserved for webhook deliveries).")
	}
	if idem == "" {
		// Every submission gets a key: when Redis answers too late to tell,
		// the 503 hands it to the client, and a resend with it cannot make
		// a second lead.
		idem = submission.NewID()
	}
	if err := s.floodCheck(r.Context(), c, f); err != nil {
		return &sentForm{form: f, values: raw, idem: idem, lang: lang, err: err}
	}
	page := truncate(firstNonEmpty(raw[fieldPage], r.Header.Get("Origin")), 2000)
	params := forms.PageParams(page)
	shown := maps.Clone(raw) // what the person sent, to show again
	f.FillHidden(raw, params)
	values, problems := s.Validator.CleanIn(f, raw, lang)
	for _, name := range notText {
		if problems == nil {
			problems = map[string]string{}
		}
		problems[strings.ToValidUTF8(name, "\uFFFD")] = f.Message(lang, forms.MsgNotText)
	}
	if problems != nil {
		s.outcome(c, f.ID, "invalid", "")
		return &invalidInput{form: f, values: shown, fields: problems, idem: idem, lang: lang}
	}
	verdict := s.spamCheck(r.Context(), c, f, raw)
	if err := s.tokenCheck(r.Context(), c, f, verdict.ReplayKey); err != nil {
		return &sentForm{form: f, values: shown, idem: idem, lang: lang, err: err}
	}
	referrer, sent := raw[fieldReferrer]
	if !sent {
		referrer = r.Referer()
	}
	rec := &submission.Record{
		Form:           f.ID,
		Source:         "form",
		Fields:         values,
		ClientIP:       c.RealIP(),
		UserAgent:      truncate(r.UserAgent(), 500),
		Page:           page,
		Referrer:       truncate(referrer, 2000),
		Attribution:    forms.Attribution(params),
		IdempotencyKey: idem,
		RequestID:      requestID(c),
	}
	if has, given := f.ConsentGiven(values); has {
		rec.Consent = &submission.Consent{Given: given, Text: f.Consent.Text.In(lang, f.Language), Version: f.Consent.Version,
			Policy: f.Consent.PolicyURL, At: s.Now().UTC(), IP: c.RealIP()}
	}
	if verdict.Spam {
		rec.Spam = &submission.SpamInfo{Reason: verdict.Reason, Detail: verdict.Detail}
	}
	waitingCap := s.waitingCap(f)
	id, duplicate, err := s.keep(r.Context(), rec, waitingCap)
	switch {
	case errors.Is(err, submission.ErrKeyReused):
		s.outcome(c, f.ID, "key_reused", "")
		return &sentForm{form: f, values: shown, idem: idem, lang: lang, err: err}
	case errors.Is(err, submission.ErrWaitingCap):
		// Checked in the script that would have stored it (exact, and no
		// round trip of its own); answered as floodCheck's refusals are.
		err := s.floodDecision(c, f, flood.CheckWaiting(waitingCap, waitingCap, 0), nil)
		return &sentForm{form: f, values: shown, idem: idem, lang: lang, err: err}
	case err != nil:
		// Redis may have stored it and answered too late: the client is
		// told to send it again under the same key.
		s.outcome(c, f.ID, "unavailable", "")
		return &sentForm{form: f, values: shown, idem: idem, lang: lang, err: err}
	case duplicate:
		s.outcome(c, f.ID, "duplicate", id)
	case verdict.Spam:
		// Answered exactly as an accepted one: a bot learns nothing.
		s.outcome(c, f.ID, "spam", id, "reason", verdict.Reason)
	case verdict.Reason != "":
		s.outcome(c, f.ID, "accepted", id, "note", verdict.Reason) // captcha_unverified
	default:
		s.outcome(c, f.ID, "accepted", id)
	}
	return s.accepted(c, f, lang, id, referrer)
}

// keep makes rec durable and queues its delivery: the one path every intake
// (forms and webhooks) takes to the worker. It returns the submission's id,
// an earlier submission's when rec's idempotency key was used before
// (duplicate). A record Create keeps for a person (failed, spam) is stored
// and not queued. waitingCap > 0 refuses rec when that many submissions of
// its origin wait for delivery already (submission.ErrWaitingCap). Errors:
// submission.ErrKeyReused, submission.ErrWaitingCap, or a *notDurable when
// Redis did not confirm the write in time — or, with WaitReplicas, when its
// replicas did not: a primary that fails over loses what it acknowledged
// but had not passed on, and no submission may be answered 2xx and lost.
//
// A new submission costs one Redis round trip: the waiting cap, the record,
// its idempotency key, counters and asynq task in one script, and the WAIT
// for replicas pipelined after it (submission.Store.CreateWith). On Redis
// Cluster, where the task lives in another slot, the task is enqueued after
// the record, and the worker's janitor queues a record left without one.
func (s *server) keep(ctx context.Context, rec *submission.Record, waitingCap int64) (id string, duplicate bool, err error) {
	// The store-and-queue sequence runs to its end even if the client goes
	// away, and no longer than the client would sensibly wait.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.StoreTimeout)
	defer cancel()
	created, err := s.Store.CreateWith(ctx, rec, submission.CreateOptions{
		Entry:          s.Queue.Entry,
		WaitingCap:     waitingCap,
		Replicas:       s.WaitReplicas,
		ReplicaTimeout: s.WaitTimeout,
	})
	switch {
	case errors.Is(err, submission.ErrKeyReused), errors.Is(err, submission.ErrWaitingCap):
		return "", false, err
	case err != nil:
		return "", false, &notDurable{err}
	case created.Existing != "":
		id, duplicate = created.Existing, true
		// A resend: the first try may have stored the record and then lost
		// Redis before its task was queued (a failover, a restart; on a
		// Cluster, the queue's primary).
		if r, err := s.Store.Get(ctx, id); err == nil && r.Status == submission.StatusAccepted {
			s.enqueue(ctx, r)
		}
	case rec.Status != submission.StatusAccepted:
		id = rec.ID // kept for a person (failed, spam): never queued
	default:
		id = rec.ID
		if !created.Queued {
			s.enqueue(ctx, rec)
		}
	}
	if s.WaitReplicas > 0 && !created.Replicated {
		// After the task, so that on one primary (Sentinel) the WAIT covers
		// it too. A key that outlived its record (retention) is no failover.
		err := s.Store.Replicated(ctx, id, s.WaitReplicas, s.WaitTimeout)
		if err != nil && !(duplicate && errors.Is(err, submission.ErrNotFound)) {
			return "", false, &notDurable{err}
		}
	}
	return id, duplicate, nil
}

// enqueue queues the delivery of stored submission r (in its origin's
// queue, queue.QueueOf). If that fails, the
// record is durable all the same and only its task is missing: the worker's
// janitor queues records left "accepted" without a task, and a resend
// queues it at once, so this is still a 202. (Taking the record back
// instead would break a retry with the same Idempotency-Key that was
// already answered with it.)
func (s *server) enqueue(ctx context.Context, r *submission.Record) {
	if err := s.Queue.Enqueue(ctx, r); err != nil {
		s.Log.Warn("submission stored but not queued; the janitor will queue it", "id", r.ID, "err", err)
	}
}

// accepted answers a submission that is safely stored: JSON clients get
// its id; browsers go to the form's success_url, or to the thank-you page
// with a way back to page.
func (s *server) accepted(c echo.Context, f *forms.Form, lang, id, page string) error {
	if wantsJSON(c) {
		if plainID(id) {
			// Written as bytes, the same as encoding/json writes them:
			// encoding a map for every submission showed in intake's profile.
			return c.JSONBlob(http.StatusAccepted, []byte(`{"id":"`+id+`","status":"`+submission.StatusAccepted+`"}`+"\n"))
		}
		return c.JSON(http.StatusAccepted, map[string]string{"id": id, "status": submission.StatusAccepted})
	}
	if f.SuccessURL != "" {
		return c.Redirect(http.StatusSeeOther, f.SuccessURL)
	}
	return c.Redirect(http.StatusSeeOther, thanksURL(f, lang, id, page))
}

// plainID reports whether id needs no escaping in a JSON string: letters
// and digits only, as submission.NewID makes them.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		if b := id[i]; !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
			return false
		}
	}
	return id != ""
}

// readValues reads a url-encoded, multipart or JSON body into field values.
// notText lists the names whose name or value is not valid text.
func readValues(c echo.Context) (values map[string]string, notText []string, err error) {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json.")
	}
	switch mt {
	case echo.MIMEApplicationJSON:
		return readJSON(r.Body)
	case echo.MIMEApplicationForm, echo.MIMEMultipartForm:
		params, err := c.FormParams()
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) {
				return nil, nil, err // 413 from the body limit
			}
			if strings.Contains(err.Error(), "too large") {
				return nil, nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
			}
			return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "The form data could not be read.").SetInternal(err)
		}
		if len(params) > maxFields {
			return nil, nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("A submission may have at most %d fields.", maxFields))
		}
		out := make(map[string]string, len(params))
		for k, vs := range params {
			out[k] = strings.Join(vs, ", ")
			if !utf8.ValidString(k) || !utf8.ValidString(out[k]) {
				notText = append(notText, k)
			}
		}
		return out, notText, nil
	}
	return nil, nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, fmt.Sprintf("Content type %q is not accepted: send application/x-www-form-urlencoded, multipart/form-data or application/json.", mt))
}

// readJSON reads a flat JSON object. Numbers and booleans become their text;
// nested objects and arrays of objects are refused. encoding/json would
// turn invalid UTF-8, and \u escapes of half a surrogate pair, into U+FFFD
// without a word: each value's raw text is checked first, and its name
// listed in notText instead.
func readJSON(body io.Reader) (values map[string]string, notText []string, err error) {
	data, err := io.ReadAll(body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, nil, err
		}
		return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.").SetInternal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "The body is not valid JSON: "+jsonProblem(err))
	}
	if obj == nil {
		return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "The body must be a JSON object of field names and values.")
	}
	if dec.More() {
		return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "The body must hold exactly one JSON object.")
	}
	if len(obj) > maxFields {
		return nil, nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("A submission may have at most %d fields.", maxFields))
	}
	out := make(map[string]string, len(obj))
	for k, raw := range obj {
		if !validJSONText(raw) {
			notText = append(notText, k)
			continue
		}
		v, ok := jsonText(raw)
		if !ok {
			return nil, nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Field %q must be text, a number, true/false or a list of text.", k))
		}
		if v != nil {
			out[k] = *v
		}
	}
	if len(notText) == 0 && !validJSONText(data) {
		// Not in a value, so in a name, which decoding has already mended:
		// the names with U+FFFD in them are the suspects.
		for k := range obj {
			if strings.ContainsRune(k, utf8.RuneError) {
				notText = append(notText, k)
			}
		}
	}
	return out, notText, nil
}

// jsonText is a JSON value as field text: nil for null; false if it is an
// object or a list holding anything but strings. Strings, numbers (as
// written) and true/false, nearly every value a form sends, are read
// without a json.Decoder of their own: one per value was half of what
// intake allocated. raw is a value of a decoded document whose text
// validJSONText has passed.
func jsonText(raw json.RawMessage) (*string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch c := raw[0]; {
	case c == '"' && bytes.IndexByte(raw, '\\') < 0:
		// No escapes: its text is what lies between the quotes (the
		// decoder has checked the string, and validJSONText its UTF-8).
		s := string(raw[1 : len(raw)-1])
		return &s, true
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false
		}
		return &s, true
	case c == '-' || (c >= '0' && c <= '9'):
		// The decoder has checked it is a number: its text is its value.
		s := string(raw)
		return &s, true
	case string(raw) == "true", string(raw) == "false":
		s := string(raw)
		return &s, true
	case string(raw) == "null":
		return nil, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	var s string
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		s = v
	case bool:
		s = strconv.FormatBool(v)
	case json.Number:
		s = v.String()
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			p, ok := e.(string)
			if !ok {
				return nil, false
			}
			parts = append(parts, p)
		}
		s = strings.Join(parts, ", ")
	default:
		return nil, false
	}
	return &s, true
}

// validJSONText reports whether JSON text holds only valid UTF-8 and no
// \u escape of half a surrogate pair. (A backslash outside a string is a
// syntax error the decoder reports, so every one seen here starts an escape.)
func validJSONText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if i >= len(b) || b[i] != 'u' {
			continue
		}
		r, ok := hex4(b[i+1:])
		if !ok {
			continue // malformed: the decoder says so
		}
		i += 4 // on the escape's last digit
		if !utf16.IsSurrogate(r) {
			continue
		}
		// A high half must be followed at once by an escaped low half.
		if r >= 0xDC00 || i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
			return false
		}
		if lo, ok := hex4(b[i+3:]); !ok || lo < 0xDC00 || lo > 0xDFFF {
			return false
		}
		i += 6
	}
	return true
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(n), err == nil
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
		if !s.originAllowed(c, f, origin) {
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
	if origin == "" || !s.originAllowed(c, f, origin) {
		return echo.NewHTTPError(http.StatusForbidden, "Origin not allowed for this form.")
	}
	setCORS(c, origin)
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, Idempotency-Key")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}

func setCORS(c echo.Context, origin string) {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
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
