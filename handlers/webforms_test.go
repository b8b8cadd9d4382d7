package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/spam"
	"github.com/leadbridge/leadbridge/submission"
)

// webConfig has a form with everything a marketing site uses (contact)
// and one with tight flood limits (limited).
const webConfig = `
forms:
  contact:
    title: {en: Contact us, de: Kontakt}
    allowed_origins: [https://www.example.com]
    frame_ancestors: [https://www.example.com]
    success_url: https://www.example.com/thanks
    spam:
      honeypot: website_url
      min_seconds: 2
      rate_limit: off
      captcha: {provider: turnstile, site_key: 0x4AAAAAAAB, secret: env:TURNSTILE_SECRET}
    consent: {text: {en: Send me news, de: Schickt mir Neuigkeiten}, version: "v7", policy_url: https://www.example.com/privacy}
    fields:
      email: {label: {en: Email, de: E-Mail}, column: emailaddress1, rules: required}
      last_name: {column: lastname, rules: required}
      industry:
        type: select
        column: industrycode
        options: [{label: {en: Retail, de: Einzelhandel}, value: 25}, {label: Consulting, value: 7}]
      campaign: {type: hidden, column: new_campaign, value: spring}
      source: {type: hidden, column: new_utmsource, param: utm_source}
  limited:
    allowed_origins: ["*"]
    spam: {rate_limit: {per_ip: 2/minute, per_form: 4/minute}}
    fields:
      email: {column: emailaddress1, rules: required}
  plain:
    allowed_origins: [https://www.example.com]
    fields:
      email: {column: emailaddress1, rules: required}
  capped:
    spam: {rate_limit: off, waiting_cap: 3}
    fields:
      email: {column: emailaddress1, rules: required}
`

// webEnv is the router with the website forms' defences wired as cmd/api
// wires them, a clock the form tokens are aged by, and a fake captcha
// service: a response "good" passes, anything else fails.
type webEnv struct {
	*env
	clock    *testenv.Clock
	verifies atomic.Int32
}

func newWebEnv(t *testing.T, o envOptions) *webEnv {
	t.Helper()
	w := &webEnv{clock: testenv.NewClock(time.Now())}
	captcha := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.verifies.Add(1)
		r.ParseForm()
		ok := r.PostForm.Get("response") == "good" && r.PostForm.Get("secret") == "turnstile-secret"
		fmt.Fprintf(rw, `{"success":%v,"error-codes":%s}`, ok, map[bool]string{true: "[]", false: `["invalid-input-response"]`}[ok])
	}))
	t.Cleanup(captcha.Close)
	if o.configFile == "" {
		o.configFile = testenv.WriteFile(t, "web.yaml", webConfig)
	}
	o.env = map[string]string{"TURNSTILE_SECRET": "turnstile-secret"}
	inner := o.deps
	o.deps = func(d *handlers.Deps, rdb redis.UniversalClient) {
		l, err := flood.NewLimiter(rdb, flood.Options{Secret: []byte("0123456789abcdef0123")})
		if err != nil {
			t.Fatal(err)
		}
		d.Limiter, d.RateLimitIP, d.WaitingCap, d.Now = l, flood.Rate{N: 100, Per: time.Minute}, 10000, w.clock.Now
		if f := d.Forms["contact"]; f != nil && f.Spam.Captcha != nil {
			f.Spam.Captcha.VerifyURL = captcha.URL
		}
		if inner != nil {
			inner(d, rdb)
		}
	}
	w.env = newEnvWith(t, o)
	return w
}

// definition fetches a form's definition.
func (w *webEnv) definition(t *testing.T, path string, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	w.e.ServeHTTP(rec, req)
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

// token is a fresh form token for form, as the page would hold it.
func (w *webEnv) token(t *testing.T, form string) string {
	t.Helper()
	_, d := w.definition(t, "/f/"+form+"/definition")
	tok, _ := d["token"].(string)
	if tok == "" {
		t.Fatalf("definition of %s has no token: %v", form, d)
	}
	return tok
}

func jsonBody(v map[string]string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEmbedScript(t *testing.T) {
	v := newEnvWith(t, envOptions{deps: func(d *handlers.Deps, _ redis.UniversalClient) { d.PublicURL = "https://leads.example.com" }})
	get := func(hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/embed.js", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	h := rec.Header()
	if rec.Code != 200 || h.Get("Content-Type") != "text/javascript; charset=utf-8" || h.Get("ETag") == "" ||
		h.Get("Cache-Control") != "public, max-age=300" || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET /embed.js: %d %v", rec.Code, h)
	}
	if n := rec.Body.Len(); n >= 15000+len("https://leads.example.com") {
		t.Errorf("embed.js is %d bytes, want under 15 KB", n)
	}
	if !strings.Contains(rec.Body.String(), `var BASE = "https://leads.example.com";`) {
		t.Error("embed.js does not post to LEADBRIDGE_PUBLIC_URL")
	}
	if strings.Contains(rec.Body.String(), "innerHTML") {
		t.Error("embed.js uses innerHTML")
	}
	for _, inm := range []string{h.Get("ETag"), "W/" + h.Get("ETag"), `"x", ` + h.Get("ETag"), "*"} {
		if rec := get("If-None-Match", inm); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d, want 304 and no body", inm, rec.Code)
		}
	}
	if rec := get("If-None-Match", `"other"`); rec.Code != 200 {
		t.Errorf("If-None-Match of another version: %d, want 200", rec.Code)
	}
}

func TestFormDefinition(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	rec, d := w.definition(t, "/f/contact/definition?lang=de", "Origin", "https://www.example.com")
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "https://www.example.com" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("definition: %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
	if d["language"] != "de" || d["title"] != "Kontakt" || d["honeypot"] != "website_url" || d["action"] != "/f/contact" || d["success_url"] != "https://www.example.com/thanks" {
		t.Errorf("definition: %v", d)
	}
	var names []string
	for _, f := range d["fields"].([]any) {
		fd := f.(map[string]any)
		names = append(names, fmt.Sprint(fd["name"], ":", fd["type"], ":", fd["label"]))
	}
	if want := []string{"email:email:E-Mail", "last_name:text:Last name", "industry:select:Industry", "consent:checkbox:Schickt mir Neuigkeiten"}; !slices.Equal(names, want) {
		t.Errorf("fields = %v, want %v (no hidden field)", names, want)
	}
	if c := d["captcha"].(map[string]any); c["provider"] != "turnstile" || c["site_key"] != "0x4AAAAAAAB" || c["field"] != "cf-turnstile-response" {
		t.Errorf("captcha = %v", c)
	}
	if strings.Contains(rec.Body.String(), "turnstile-secret") {
		t.Error("the definition holds the captcha secret")
	}
	tokens, _ := spam.NewTokens([][]byte{[]byte(strings.Repeat("x", 32))}, 0)
	if _, err := tokens.Verify("contact", d["token"].(string), time.Now()); err == nil {
		t.Error("a token verifies under another key")
	}
	if m := d["messages"].(map[string]any); m["summary_many"] != "Bitte prüfen Sie diese %d Felder" {
		t.Errorf("messages = %v", m)
	}

	for _, tc := range []struct {
		name, query, accept, want string
	}{
		{"Accept-Language", "", "de-AT,de;q=0.9", "de"},
		{"a language the form does not have", "?lang=fr", "", "en"},
		{"lang injection", "?lang=%3Cscript%3Ealert(1)%3C/script%3E", "", "en"},
		{"a huge Accept-Language", "", strings.Repeat("de-DE;q=0.9,", 2000), "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, d := w.definition(t, "/f/contact/definition"+tc.query, "Accept-Language", tc.accept)
			if rec.Code != 200 || d["language"] != tc.want || strings.Contains(rec.Body.String(), "<script") {
				t.Errorf("%d language %v, want %s", rec.Code, d["language"], tc.want)
			}
		})
	}
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", 200},                                // server to server, or curl
		{"HTTPS://WWW.EXAMPLE.COM", 200},         // origins are case-insensitive
		{"https://www.example.com:443", 200},     // the default port is no other origin
		{"https://evil.example", 403},            // not allowed
		{"null", 403},                            // sandboxed frames, files: only "*" allows them
		{"https://www.example.com/contact", 403}, // not an origin
		{"https://www.example.com.evil.example", 403},
		{"http://www.example.com", 403}, // another scheme is another origin
	} {
		rec, _ := w.definition(t, "/f/contact/definition", "Origin", tc.origin)
		if rec.Code != tc.want {
			t.Errorf("Origin %q: %d, want %d", tc.origin, rec.Code, tc.want)
		}
		if tc.want == 403 && rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("Origin %q refused but given Access-Control-Allow-Origin", tc.origin)
		}
	}
	if rec, _ := w.definition(t, "/f/limited/definition", "Origin", "null"); rec.Code != 200 {
		t.Errorf(`Origin null on a form allowing "*": %d, want 200`, rec.Code)
	}
	if rec, _ := w.definition(t, "/f/nope/definition"); rec.Code != 404 {
		t.Errorf("unknown form: %d, want 404", rec.Code)
	}
}

// The spam checks hold a submission without the sender learning it: the
// answer is a success in status, body shape and headers, and the record is
// kept with its reason, outside the delivery queue, until released.
func TestSpamIsAnsweredLikeASuccess(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	tok := w.token(t, "contact")
	w.clock.Advance(3 * time.Second)
	good := map[string]string{"email": "ann@example.com", "last_name": "Lee", "_lb_token": tok, "cf-turnstile-response": "good"}
	with := func(kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range good {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}
	post := func(body map[string]string, key string) *httptest.ResponseRecorder {
		return w.post("/f/contact", "application/json", jsonBody(body), "Accept", "application/json", "Idempotency-Key", key, "Origin", "https://www.example.com")
	}
	shape := func(rec *httptest.ResponseRecorder) string {
		var body map[string]string
		json.Unmarshal(rec.Body.Bytes(), &body)
		var keys []string
		for k := range rec.Header() {
			if k != "X-Request-Id" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		idOK := regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(body["id"])
		return fmt.Sprintf("%d %v id:%v status:%s keys:%d", rec.Code, keys, idOK, body["status"], len(body))
	}
	real := post(good, "real")
	want := shape(real)
	if real.Code != 202 {
		t.Fatalf("a person's submission: %d %s", real.Code, real.Body.String())
	}
	cases := []struct {
		name, reason string
		body         map[string]string
	}{
		{"honeypot filled", spam.ReasonHoneypot, with("website_url", "http://spam.example")},
		{"no form token", spam.ReasonTokenMissing, with("_lb_token", "")},
		{"a forged token", spam.ReasonTokenInvalid, with("_lb_token", strings.Repeat("A", 76))},
		{"captcha refused", spam.ReasonCaptchaFailed, with("cf-turnstile-response", "bad")},
		{"no captcha", spam.ReasonCaptchaMissing, with("cf-turnstile-response", "")},
	}
	fast := w.token(t, "contact") // served now, sent at once
	cases = append(cases, struct {
		name, reason string
		body         map[string]string
	}{"sent too fast", spam.ReasonTooFast, with("_lb_token", fast)})
	ids := map[string]string{}
	for _, tc := range cases {
		rec := post(tc.body, tc.name)
		if got := shape(rec); got != want {
			t.Errorf("%s: answer %s, want the same as a person's: %s", tc.name, got, want)
		}
		var body map[string]string
		json.Unmarshal(rec.Body.Bytes(), &body)
		r, err := w.store.Get(context.Background(), body["id"])
		if err != nil {
			t.Fatalf("%s: record: %v", tc.name, err)
		}
		if r.Status != submission.StatusSpam || r.Spam == nil || r.Spam.Reason != tc.reason || r.Spam.Detail == "" {
			t.Errorf("%s: record status %s spam %+v, want spam with reason %s", tc.name, r.Status, r.Spam, tc.reason)
		}
		ids[tc.name] = r.ID
	}
	if n := w.queued(t); n != 1 {
		t.Errorf("queued: %d, want only the person's 1", n)
	}

	// The HTML form answers the same way: the thank-you redirect.
	form := url.Values{"email": {"a@b.co"}, "last_name": {"X"}, "website_url": {"spam"}}
	rec := w.post("/f/contact", "application/x-www-form-urlencoded", form.Encode(), "Accept", "text/html")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "https://www.example.com/thanks" {
		t.Errorf("HTML honeypot post: %d to %q, want the success redirect", rec.Code, rec.Header().Get("Location"))
	}

	// Released, a held submission is queued for delivery under its id.
	rel := w.post("/v1/submissions/"+ids["honeypot filled"]+"/release", "", "", "Authorization", "Bearer "+token)
	if rel.Code != http.StatusAccepted {
		t.Fatalf("release: %d %s", rel.Code, rel.Body.String())
	}
	r, _ := w.store.Get(context.Background(), ids["honeypot filled"])
	if r.Status != submission.StatusAccepted || r.Spam == nil {
		t.Errorf("released record: status %s spam %v, want accepted with its verdict kept", r.Status, r.Spam)
	}
	if n := w.queued(t); n != 2 {
		t.Errorf("queued after a release: %d, want 2", n)
	}
	if again := w.post("/v1/submissions/"+ids["honeypot filled"]+"/release", "", "", "Authorization", "Bearer "+token); again.Code != http.StatusConflict {
		t.Errorf("release of one not held: %d, want 409", again.Code)
	}
	if noToken := w.post("/v1/submissions/"+ids["no captcha"]+"/release", "", ""); noToken.Code != http.StatusUnauthorized {
		t.Errorf("release without the token: %d, want 401", noToken.Code)
	}
}

// What the page sends besides the fields: attribution from the page URL,
// the referrer, the language; consent with its words, version, time and
// address; hidden fields from the configuration or the page URL, never
// from the client.
func TestSubmissionKeepsAttributionConsentAndHiddenValues(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	tok := w.token(t, "contact")
	w.clock.Advance(3 * time.Second)
	page := "https://www.example.com/landing?utm_source=news&utm_medium=email&utm_campaign=spring&gclid=abc&other=x"
	body := map[string]string{"email": "Ann@Example.com", "last_name": "Lee", "industry": "Einzelhandel", "consent": "true",
		"_lb_token": tok, "cf-turnstile-response": "good", "_page": page, "_referrer": "https://www.google.com/", "_lang": "de",
		"campaign": "hacked", "source": "forged"}
	rec := w.post("/f/contact", "application/json", jsonBody(body), "Accept", "application/json", "Origin", "https://www.example.com")
	if rec.Code != 202 {
		t.Fatalf("post: %d %s", rec.Code, rec.Body.String())
	}
	var got map[string]string
	json.Unmarshal(rec.Body.Bytes(), &got)
	r, err := w.store.Get(context.Background(), got["id"])
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["industry"] != "25" || r.Fields["campaign"] != "spring" || r.Fields["source"] != "news" || r.Fields["email"] != "ann@example.com" {
		t.Errorf("fields = %v; want industry 25, campaign spring (configured), source news (page URL)", r.Fields)
	}
	want := map[string]string{"utm_source": "news", "utm_medium": "email", "utm_campaign": "spring", "gclid": "abc"}
	if fmt.Sprint(r.Attribution) != fmt.Sprint(want) || r.Page != page || r.Referrer != "https://www.google.com/" {
		t.Errorf("attribution %v page %q referrer %q", r.Attribution, r.Page, r.Referrer)
	}
	c := r.Consent
	if c == nil || !c.Given || c.Text != "Schickt mir Neuigkeiten" || c.Version != "v7" || c.Policy != "https://www.example.com/privacy" ||
		c.IP == "" || !c.At.Equal(w.clock.Now().UTC()) {
		t.Errorf("consent = %+v", c)
	}

	// An unknown option is refused, in the language the form was shown in.
	body["industry"], body["_lang"] = "99", "de"
	rec = w.post("/f/contact", "application/json", jsonBody(body), "Accept", "application/json", "Origin", "https://www.example.com")
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "muss eine der angebotenen Möglichkeiten sein") {
		t.Errorf("unknown option: %d %s", rec.Code, rec.Body.String())
	}
}

func TestRateLimits(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	post := func(form, ip string, extra ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/f/"+form, strings.NewReader(`{"email":"a@b.co"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51.100.7") // believed from no one: no trusted proxies
		for i := 0; i+1 < len(extra); i += 2 {
			req.Header.Set(extra[i], extra[i+1])
		}
		req.RemoteAddr = ip + ":1234"
		rec := httptest.NewRecorder()
		w.e.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 2; i++ {
		if rec := post("limited", "192.0.2.1"); rec.Code != 202 {
			t.Fatalf("post %d: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	rec := post("limited", "192.0.2.1")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("third post from one address: %d Retry-After %q, want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	if body["error"] != "rate_limited" || body["retry_after"] == nil || !strings.Contains(fmt.Sprint(body["message"]), "wait") {
		t.Errorf("429 body: %v", body)
	}
	// Another address posts (the per-form limit of 4 is shared) …
	if rec := post("limited", "192.0.2.2"); rec.Code != 202 {
		t.Errorf("another address: %d", rec.Code)
	}
	// … and a browser's HTML post past the limit gets its form back, answers kept.
	html := httptest.NewRequest(http.MethodPost, "/f/limited", strings.NewReader("email=kept%40example.com"))
	html.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	html.Header.Set("Accept", "text/html")
	html.RemoteAddr = "192.0.2.1:1"
	hrec := httptest.NewRecorder()
	w.e.ServeHTTP(hrec, html)
	if hrec.Code != 429 || !strings.Contains(hrec.Body.String(), `value="kept@example.com"`) || !strings.Contains(hrec.Body.String(), "Please wait") {
		t.Errorf("HTML post past the limit: %d, want the form again with the answer and a notice", hrec.Code)
	}
	// Many addresses: the per-form limit (4/minute) holds the form.
	rec = post("limited", "192.0.2.3")
	if rec.Code != 202 {
		t.Errorf("fourth address: %d", rec.Code)
	}
	if rec := post("limited", "192.0.2.4"); rec.Code != 429 {
		t.Errorf("past the per-form limit from a fresh address: %d, want 429", rec.Code)
	}
}

func TestNoRateLimitsOnTheDemoForm(t *testing.T) {
	w := &webEnv{clock: testenv.NewClock(time.Now())}
	w.env = newEnvWith(t, envOptions{deps: func(d *handlers.Deps, rdb redis.UniversalClient) {
		d.Limiter, _ = flood.NewLimiter(rdb, flood.Options{Secret: []byte("0123456789abcdef")})
		d.RateLimitIP = flood.Rate{N: 1, Per: time.Hour}
	}})
	for i := 0; i < 5; i++ {
		if rec := w.post("/f/demo", "application/json", `{"email":"a@b.co","last_name":"L"}`); rec.Code != 202 {
			t.Fatalf("post %d to the demo form: %d, want 202 (no limits)", i, rec.Code)
		}
	}
}

// Behind trusted proxies each client is counted by its own address, and a
// client cannot pick another by sending X-Forwarded-For itself.
func TestRateLimitsCountTheClientBehindTrustedProxies(t *testing.T) {
	w := newWebEnv(t, envOptions{deps: func(d *handlers.Deps, _ redis.UniversalClient) {
		_, n, _ := net.ParseCIDR("10.0.0.0/8")
		d.TrustedProxies = append(d.TrustedProxies, n)
	}})
	post := func(xff string) int {
		req := httptest.NewRequest(http.MethodPost, "/f/limited", strings.NewReader(`{"email":"a@b.co"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		req.RemoteAddr = "10.1.2.3:1234"
		rec := httptest.NewRecorder()
		w.e.ServeHTTP(rec, req)
		return rec.Code
	}
	if a, b, c := post("203.0.113.1"), post("203.0.113.1"), post("203.0.113.1"); a != 202 || b != 202 || c != 429 {
		t.Errorf("one client behind the proxy: %d %d %d, want 202 202 429", a, b, c)
	}
	if got := post("203.0.113.2"); got != 202 {
		t.Errorf("another client behind the same proxy: %d, want 202", got)
	}
}

func TestWaitingAndMemoryCaps(t *testing.T) {
	t.Run("waiting cap", func(t *testing.T) {
		w := newWebEnv(t, envOptions{})
		for i := 0; i < 3; i++ {
			req := httptest.NewRequest(http.MethodPost, "/f/capped", strings.NewReader(fmt.Sprintf(`{"email":"p%d@b.co"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", i+1)
			rec := httptest.NewRecorder()
			w.e.ServeHTTP(rec, req)
			if rec.Code != 202 {
				t.Fatalf("post %d: %d", i, rec.Code)
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/f/capped", strings.NewReader(`{"email":"late@b.co"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.99:1"
		rec := httptest.NewRecorder()
		w.e.ServeHTTP(rec, req)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "60" {
			t.Errorf("past the waiting cap: %d Retry-After %q, want 503 with 60", rec.Code, rec.Header().Get("Retry-After"))
		}
		if n := w.records(t); n != 3 {
			t.Errorf("records: %d, want 3 (the refused one is not stored)", n)
		}
		// Other forms are not held up by this one's backlog.
		if rec := w.post("/f/plain", "application/json", `{"email":"a@b.co"}`); rec.Code != 202 {
			t.Errorf("another form: %d, want 202", rec.Code)
		}
	})
	t.Run("memory cap", func(t *testing.T) {
		w := newWebEnv(t, envOptions{deps: func(d *handlers.Deps, rdb redis.UniversalClient) {
			d.Memory, _ = flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Limit: 1 << 10})
		}})
		rec := w.post("/f/plain", "application/json", `{"email":"a@b.co"}`)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" {
			t.Errorf("Redis past its memory cap: %d Retry-After %q, want 503 with 30", rec.Code, rec.Header().Get("Retry-After"))
		}
	})
}

// A Redis that hangs or dies during intake: 503 with Retry-After (the
// limits let the submission through, the write cannot confirm), never a 2xx,
// never a 429 the client did not earn, and nothing half-written.
func TestRedisHungOrKilledDuringIntake(t *testing.T) {
	w := newWebEnv(t, envOptions{storeTimeout: time.Second, deps: func(d *handlers.Deps, rdb redis.UniversalClient) {
		d.Memory, _ = flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{})
	}})
	if rec := w.post("/f/plain", "application/json", `{"email":"first@b.co"}`); rec.Code != 202 {
		t.Fatalf("before: %d", rec.Code)
	}
	w.redis.Pause()
	rec := w.post("/f/plain", "application/json", `{"email":"hung@b.co"}`, "Idempotency-Key", "hung")
	w.redis.Resume()
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"idempotency_key":"hung"`) {
		t.Errorf("Redis hung: %d %s, want 503 naming the key to retry with", rec.Code, rec.Body.String())
	}
	// Sent again with its key: one record, whatever Redis did meanwhile.
	testenv.Eventually(t, 10*time.Second, func() string {
		if rec := w.post("/f/plain", "application/json", `{"email":"hung@b.co"}`, "Idempotency-Key", "hung"); rec.Code != 202 {
			return fmt.Sprintf("retry: %d", rec.Code)
		}
		return ""
	})
	if n := w.records(t); n != 2 {
		t.Errorf("records: %d, want 2", n)
	}
	if n, err := w.store.Waiting(context.Background(), "form:plain"); n != 2 || err != nil {
		t.Errorf("waiting count: %d, %v; want 2 (record and count written together)", n, err)
	}
	w.redis.Kill()
	for _, form := range []string{"plain", "limited"} { // without and with rate limits
		rec := w.post("/f/"+form, "application/json", `{"email":"dead@b.co"}`)
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Errorf("Redis killed, form %s: %d %s, want 503 with Retry-After", form, rec.Code, rec.Body.String())
		}
	}
}

func TestFormPageSecurityHeaders(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		w.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	for _, tc := range []struct {
		path      string
		ancestors string
		xfo       string
		extra     string
	}{
		{"/f/contact", "frame-ancestors https://www.example.com;", "", "script-src 'self' https://challenges.cloudflare.com;"},
		{"/f/plain", "frame-ancestors 'none';", "DENY", "script-src 'self';"},
		{"/f/plain/thanks", "frame-ancestors 'none';", "DENY", "form-action 'self';"},
	} {
		rec := get(tc.path)
		csp := rec.Header().Get("Content-Security-Policy")
		if rec.Code != 200 || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
			!strings.Contains(csp, tc.ancestors) || !strings.Contains(csp, tc.extra) || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
		if got := rec.Header().Get("X-Frame-Options"); got != tc.xfo {
			t.Errorf("%s: X-Frame-Options %q, want %q", tc.path, got, tc.xfo)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
		if strings.Contains(rec.Body.String(), "<script>") || regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(rec.Body.String()) {
			t.Errorf("%s has an inline script", tc.path)
		}
	}
	if csp := get("/f/contact").Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://www.example.com;") {
		t.Errorf("form-action does not allow the success_url's redirect: %q", csp)
	}
}

// The hosted page in the visitor's language, with the token, honeypot,
// page and key it needs, and no script but embed.js and the captcha's.
func TestHostedPageLanguagesAndHiddenInputs(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	req := httptest.NewRequest(http.MethodGet, "/f/contact?utm_source=news", nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	req.Header.Set("Referer", "https://www.example.com/pricing")
	rec := httptest.NewRecorder()
	w.e.ServeHTTP(rec, req)
	page := rec.Body.String()
	for _, want := range []string{`<html lang="de">`, `<h1>Kontakt</h1>`, `>E-Mail`, `<option value="25">Einzelhandel</option>`,
		`name="_lb_token" value="`, `name="_lang" value="de"`, `name="website_url"`, `tabindex="-1" autocomplete="off"`,
		`name="_page" value="http://example.com/f/contact?utm_source=news"`, `name="_referrer" value="https://www.example.com/pricing"`,
		`class="cf-turnstile lb-captcha" data-sitekey="0x4AAAAAAAB"`, `Datenschutzerklärung`, `>Senden</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("German page lacks %s", want)
		}
	}
	if strings.Contains(page, `name="campaign"`) || strings.Contains(page, `name="source"`) {
		t.Error("the page shows hidden fields, whose values leadbridge sets itself")
	}
	rec = httptest.NewRecorder()
	w.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/f/contact?lang=%22%3E%3Cscript%3E", nil))
	if !strings.Contains(rec.Body.String(), `<html lang="en">`) || strings.Contains(rec.Body.String(), `"><script>`) {
		t.Error("?lang= injection reached the page")
	}
}

// After a plain post, the thank-you page offers the way back to the page
// the visitor came from, when the form allows that site; never another.
func TestThanksPageLeadsBack(t *testing.T) {
	w := newWebEnv(t, envOptions{})
	form := url.Values{"email": {"a@b.co"}, "_referrer": {"https://www.example.com/pricing?plan=pro"}, "_lang": {"en"}}
	rec := w.post("/f/plain", "application/x-www-form-urlencoded", form.Encode(), "Accept", "text/html")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != 303 || loc.Path != "/f/plain/thanks" || loc.Query().Get("back") != "https://www.example.com/pricing?plan=pro" || loc.Query().Get("id") == "" {
		t.Fatalf("post: %d to %s", rec.Code, loc)
	}
	get := func(back string) string {
		r := httptest.NewRecorder()
		w.e.ServeHTTP(r, httptest.NewRequest(http.MethodGet, "/f/plain/thanks?lang=de&back="+url.QueryEscape(back), nil))
		return r.Body.String()
	}
	if page := get("https://www.example.com/pricing?plan=pro"); !strings.Contains(page, `<a href="https://www.example.com/pricing?plan=pro">Back to www.example.com</a>`) {
		t.Errorf("allowed back link missing: %s", page)
	}
	for _, bad := range []string{"https://evil.example/", "javascript:alert(1)", "//evil.example/", "/f/plain"} {
		if page := get(bad); strings.Contains(page, "lb-back") {
			t.Errorf("back=%s: the page links to it", bad)
		}
	}
}

// A log of intake under attack holds no address, email or name.
func TestDefenceLogsHoldNoPersonalData(t *testing.T) {
	var logs testenv.Buffer
	w := newWebEnv(t, envOptions{log: &logs})
	for i := 0; i < 3; i++ {
		req := httptest.NewRequest(http.MethodPost, "/f/limited", strings.NewReader(`{"email":"secret.person@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "203.0.113.77:1"
		rec := httptest.NewRecorder()
		w.e.ServeHTTP(rec, req)
	}
	w.post("/f/contact", "application/json", `{"email":"secret.person@example.com","last_name":"Secretname","website_url":"x"}`)
	out := logs.String()
	if !strings.Contains(out, `"limit":"ip_form"`) || !strings.Contains(out, `"outcome":"spam"`) {
		t.Fatalf("logs lack the refusal or the spam outcome: %s", out)
	}
	for _, pii := range []string{"secret.person", "Secretname", "203.0.113.77"} {
		if strings.Contains(out, pii) {
			t.Errorf("logs hold %q: %s", pii, out)
		}
	}
}
