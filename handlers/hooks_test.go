package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/health"
	"github.com/leadbridge/leadbridge/internal/hooktest"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// hookEnv is the router with hooktest's sources (one per kind, delivering
// to the form "leads"), a real redis-server and a settable clock.
type hookEnv struct {
	*env
	clock *testenv.Clock
	logs  *testenv.Buffer // what the API logged, debug included
	reg   http.Handler    // GET /metrics of this router's registry
}

type hookOptions struct {
	yaml           string            // the configuration; "" = hooktest.Config
	vars           map[string]string // its environment
	trustedProxies []string
	storeTimeout   time.Duration
	now            time.Time // the clock's start; zero = now
	waitingCap     int64     // Deps.WaitingCap
	limits         bool      // a flood.Limiter for the sources' rate_limit
}

func newHookEnv(t testing.TB) *hookEnv { return newHookEnvWith(t, hookOptions{}) }

func newHookEnvWith(t testing.TB, o hookOptions) *hookEnv {
	t.Helper()
	if o.yaml == "" {
		o.yaml, o.vars = hooktest.Config("", "")
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	r := testenv.StartRedis(t)
	rdb, err := config.Redis{URL: r.URL}.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	path := testenv.WriteFile(t, "leadbridge.yaml", o.yaml)
	getenv := hooktest.Getenv(o.vars)
	fs, err := config.LoadForms(path, getenv)
	if err != nil {
		t.Fatal(err)
	}
	sources, err := config.LoadSources(path, getenv, fs)
	if err != nil {
		t.Fatal(err)
	}
	var proxies []*net.IPNet
	for _, p := range o.trustedProxies {
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			t.Fatal(err)
		}
		proxies = append(proxies, n)
	}
	store := submission.NewStore(rdb, time.Hour)
	reg := metrics.Registry()
	logs := &testenv.Buffer{}
	clock := testenv.NewClock(o.now)
	var limiter *flood.Limiter
	if o.limits {
		if limiter, err = flood.NewLimiter(rdb, flood.Options{Secret: []byte("0123456789abcdef")}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := handlers.New(handlers.Deps{
		Limiter:        limiter,
		Forms:          fs,
		Sources:        sources,
		Store:          store,
		Queue:          queue.NewClient(rdb),
		Health:         health.New(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, metrics.Handler(reg), slog.New(slog.DiscardHandler)),
		APIToken:       token,
		MaxBodyBytes:   64 << 10,
		TrustedProxies: proxies,
		Metrics:        metrics.NewIntake(reg),
		StoreTimeout:   o.storeTimeout,
		Log:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            clock.Now,
		WaitingCap:     o.waitingCap,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &hookEnv{env: &env{e: e, rdb: rdb, redis: r, store: store}, clock: clock, logs: logs, reg: metrics.Handler(reg)}
}

// base is the URL the tests' deliveries are made for; the recorder takes
// its host from it.
const base = "http://leads.example.com"

// send serves one request and fails the test on a 410, which disables the
// endpoint on several platforms and must never be answered.
func (v *hookEnv) send(t testing.TB, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, r)
	if rec.Code == http.StatusGone {
		t.Fatalf("%s %s answered 410 Gone", r.Method, r.URL)
	}
	return rec
}

func (v *hookEnv) deliver(t testing.TB, d *hooktest.Delivery) *httptest.ResponseRecorder {
	t.Helper()
	return v.send(t, d.Request())
}

// hookAnswer is a 2xx or 422 body of POST /hooks/….
type hookAnswer struct {
	Error  string            `json:"error"`
	ID     string            `json:"id"`
	Fields map[string]string `json:"fields"`
	Leads  []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"leads"`
}

func answerOf(t testing.TB, rec *httptest.ResponseRecorder) hookAnswer {
	t.Helper()
	var a hookAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return a
}

// oneLead checks a 200 naming one lead and returns its submission.
func (v *hookEnv) oneLead(t testing.TB, rec *httptest.ResponseRecorder, wantStatus string) *submission.Record {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body.String())
	}
	a := answerOf(t, rec)
	if len(a.Leads) != 1 || a.Leads[0].Status != wantStatus || a.Leads[0].ID == "" {
		t.Fatalf("leads = %+v, want one %s", a.Leads, wantStatus)
	}
	r, err := v.store.Get(context.Background(), a.Leads[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var ada = hooktest.Ada

// Through the route, for every kind, with signatures made now: old and new
// secret accepted (rotation); a wrong secret, a tampered body, a stale
// timestamp and a missing credential each 401, with nothing stored, queued
// or echoed.
func TestHooksVerifyEveryKind(t *testing.T) {
	v := newHookEnv(t)
	now := v.clock.Now()
	n := 0
	for _, k := range hooktest.Kinds() {
		t.Run(k.Source, func(t *testing.T) {
			for i, secret := range k.Secrets[:2] {
				n++
				l := ada(fmt.Sprint(1000 + n))
				rec := v.oneLead(t, v.deliver(t, k.New(base, l, secret, now)), submission.StatusAccepted)
				if rec.Source != k.Source || rec.Form != "leads" || rec.Status != submission.StatusAccepted {
					t.Errorf("secret %d: record source %q form %q status %q", i, rec.Source, rec.Form, rec.Status)
				}
				if k.Fetches {
					if rec.Fetch == nil || rec.Fetch.ID != l.ID || len(rec.Fields) != 0 {
						t.Errorf("secret %d: thin lead stored with fetch %+v and fields %v, want the lead's id to fetch and no fields", i, rec.Fetch, rec.Fields)
					}
				} else if rec.Fields["email"] != "ada@example.com" || rec.Fields["phone"] != "+15551234567" || rec.Fields["company"] != "Acme" {
					t.Errorf("secret %d: fields %v", i, rec.Fields)
				}
			}
			stored, queued := v.records(t), v.queued(t)
			refused := map[string]*hooktest.Delivery{
				"wrong secret":       k.New(base, ada("1"), k.Secrets[2], now),
				"missing credential": k.New(base, ada("2"), k.Secrets[0], now),
			}
			k.Strip(refused["missing credential"])
			if k.SignsBody {
				d := k.New(base, ada("3"), k.Secrets[0], now)
				d.Body = []byte(strings.Replace(string(d.Body), "Acme", "Acme Corp", 1))
				if !strings.Contains(string(d.Body), "Acme Corp") {
					d.Body = append(d.Body, ' ')
				}
				refused["tampered body"] = d
			}
			if k.Timestamped {
				refused["stale timestamp (10 minutes)"] = k.New(base, ada("4"), k.Secrets[0], now.Add(-10*time.Minute))
				refused["timestamp 10 minutes ahead"] = k.New(base, ada("5"), k.Secrets[0], now.Add(10*time.Minute))
			}
			for name, d := range refused {
				rec := v.deliver(t, d)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%s: got %d %s, want 401", name, rec.Code, rec.Body.String())
				}
				if !strings.Contains(rec.Body.String(), `"error":"unauthorized"`) || strings.Contains(strings.ToLower(rec.Body.String()), "header") ||
					strings.Contains(rec.Body.String(), "stale") || strings.Contains(rec.Body.String(), "window") {
					t.Errorf("%s: body %s, want a plain unauthorized with no reason", name, rec.Body.String())
				}
			}
			if s, q := v.records(t), v.queued(t); s != stored || q != queued {
				t.Errorf("refused deliveries stored %d records and queued %d tasks, want none", s-stored, q-queued)
			}
		})
	}
}

// The published vectors of webhooks.md, through the route with the clock at
// their time: verified (then mapped, kept or refused as their bodies
// deserve), and refused with one byte changed.
func TestHooksPublishedVectors(t *testing.T) {
	yaml := hooktest.Form + `sources:
  sw:
    kind: standard-webhooks
    secret: env:SW
    form: leads
  svix:
    kind: svix
    secret: env:SW
    form: leads
  hubspot:
    kind: hubspot-v3
    secret: env:HS
    form: leads
  typeform:
    kind: typeform
    secret: env:TF
    form: leads
  calendly:
    kind: calendly
    secret: env:CAL
    form: leads
  meta:
    kind: meta-leadgen
    secret: env:META
    verify_token: env:META
    access_token: env:META
    form: leads
  github:
    kind: generic-hmac
    secret: env:GH
    header: X-Hub-Signature-256
    prefix: "sha256="
    form: leads
`
	vars := map[string]string{
		"SW": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "HS": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
		"TF": "typeform-test-secret", "CAL": "calendly-test-key", "META": "meta-app-secret", "GH": "It's a Secret to Everybody",
	}
	tests := []struct {
		name, source, body string
		headers            map[string]string
		at                 time.Time
		want               int // once verified: 200 (a lead), 422 (kept as failed: the vector maps no person), 400 (not a payload)
	}{
		{"Standard Webhooks (VERBATIM)", "sw", `{"test": 2432232314}`,
			map[string]string{"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330", "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
			time.Unix(1614265330, 0), 422},
		{"Svix (VERBATIM)", "svix", `{"test": 2432232314}`,
			map[string]string{"svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "svix-timestamp": "1614265330", "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
			time.Unix(1614265330, 0), 422},
		{"HubSpot v1 H1 (VERBATIM)", "hubspot",
			`[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`,
			map[string]string{"X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de", "X-HubSpot-Signature-Version": "v1"},
			time.Now(), 200},
		{"Typeform (DERIVED)", "typeform", `{"event_id":"01TEST","event_type":"form_response"}`,
			map[string]string{"Typeform-Signature": "sha256=BeaR5Nq1JPa9ZSf/bDFKQ4OWIvxh32yN+0lBlH6xbHI="}, time.Now(), 422},
		{"Calendly (DERIVED)", "calendly", `{"event":"invitee.created","payload":{"email":"ada@example.com"}}`,
			map[string]string{"Calendly-Webhook-Signature": "t=1700000000,v1=55337bf5004460079cdff92b19eef60949785cda9503aebc34117737b697c13e"},
			time.Unix(1700000000, 0), 422},
		{"Meta (DERIVED)", "meta",
			`{"object":"page","entry":[{"id":"153125381133","time":1700000000,"changes":[{"field":"leadgen","value":{"leadgen_id":"444444444444","page_id":"153125381133","form_id":"555555555555","created_time":1700000000}}]}]}`,
			map[string]string{"X-Hub-Signature-256": "sha256=3da024c75b2d2c1f383bce86665b92e265ec284be3cd784f88d758d6396c76fd"}, time.Now(), 200},
		{"GitHub (VERBATIM)", "github", "Hello, World!",
			map[string]string{"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, time.Now(), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newHookEnvWith(t, hookOptions{yaml: yaml, vars: vars, now: tt.at})
			req := func(body string) *http.Request {
				r := httptest.NewRequest(http.MethodPost, base+"/hooks/"+tt.source, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				for k, val := range tt.headers {
					r.Header.Set(k, val)
				}
				return r
			}
			if rec := v.send(t, req(tt.body)); rec.Code != tt.want {
				t.Errorf("published vector: got %d %s, want %d", rec.Code, rec.Body.String(), tt.want)
			}
			if rec := v.send(t, req(tt.body+" ")); rec.Code != http.StatusUnauthorized {
				t.Errorf("one byte added: got %d %s, want 401", rec.Code, rec.Body.String())
			}
		})
	}
}

// A platform retries one delivery with the same id and a new timestamp (and
// a new signature): five of them make one submission and one task, each
// answered 200.
func TestHookDeliveredFiveTimesMakesOneLead(t *testing.T) {
	v := newHookEnv(t)
	for i, k := range hooktest.Kinds() {
		t.Run(k.Source, func(t *testing.T) {
			stored, queued := v.records(t), v.queued(t)
			d := k.New(base, ada(fmt.Sprint(5000+i)), k.Secrets[0], v.clock.Now())
			first := v.oneLead(t, v.deliver(t, d), submission.StatusAccepted)
			for n := 2; n <= 5; n++ {
				v.clock.Advance(time.Minute)
				k.Resign(d, k.Secrets[n%2], v.clock.Now()) // the platform's next attempt, under either secret
				rec := v.deliver(t, d)
				again := v.oneLead(t, rec, "duplicate")
				if again.ID != first.ID {
					t.Errorf("attempt %d: answered with submission %s, want the first one's %s", n, again.ID, first.ID)
				}
			}
			if s, q := v.records(t), v.queued(t); s != stored+1 || q != queued+1 {
				t.Errorf("5 deliveries made %d records and %d tasks, want 1 and 1", s-stored, q-queued)
			}
		})
	}
}

// Two sources of one form whose platforms use the same delivery id make two
// submissions: ids are remembered per source.
func TestHookIDsAreRememberedPerSource(t *testing.T) {
	v := newHookEnv(t)
	for _, src := range []string{"github", "zapier"} {
		k := hooktest.KindOf(src)
		d := k.New(base, ada("1"), k.Secrets[0], v.clock.Now())
		d.Header.Set("X-GitHub-Delivery", "same-id")
		d.Header.Set("X-Delivery-Id", "same-id")
		k.Resign(d, k.Secrets[0], v.clock.Now())
		v.oneLead(t, v.deliver(t, d), submission.StatusAccepted)
	}
	if n := v.records(t); n != 2 {
		t.Errorf("records = %d, want 2", n)
	}
	// A form post cannot take a delivery's key first.
	rec := v.post("/f/leads", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`, "Idempotency-Key", "hook:github:gh-7")
	if rec.Code != http.StatusBadRequest {
		t.Errorf("form post with a hook: key: got %d %s, want 400", rec.Code, rec.Body.String())
	}
}

// Mapped fields that fail the form's rules: 422 naming them, and the
// submission kept as failed — with the raw body, the error and the values —
// in the form's failed list, not queued. The platform's retry is a repeat.
func TestHookInvalidLeadIsKeptAsFailed(t *testing.T) {
	v := newHookEnv(t)
	k := hooktest.KindOf("typeform")
	l := ada("77")
	l.Email = "not-an-email"
	d := k.New(base, l, k.Secrets[0], v.clock.Now())
	rec := v.deliver(t, d)
	a := answerOf(t, rec)
	if rec.Code != http.StatusUnprocessableEntity || a.Error != "validation_failed" || a.Fields["email"] == "" || a.ID == "" {
		t.Fatalf("got %d %s, want 422 validation_failed naming email, with the submission's id", rec.Code, rec.Body.String())
	}
	r, err := v.store.Get(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != submission.StatusFailed || r.LastError == nil || r.LastError.Category != submission.CategoryInvalidData ||
		!strings.Contains(r.LastError.Message, "email: must be a valid email address") {
		t.Errorf("record status %s error %+v, want failed, invalid_data, naming the email", r.Status, r.LastError)
	}
	if r.Fields["email"] != "not-an-email" || r.Fields["company"] != "Acme" {
		t.Errorf("record fields %v, want the mapped values as they came", r.Fields)
	}
	if r.Payload == nil || r.Payload.Body != string(d.Body) || r.Payload.ContentType != "application/json" || r.Payload.Size != len(d.Body) || r.Payload.Truncated {
		t.Errorf("payload %+v, want the raw body and its content type", r.Payload)
	}
	failed, err := v.store.List(context.Background(), submission.ListOptions{Status: submission.StatusFailed, Form: "leads"})
	if err != nil || len(failed) != 1 || failed[0].ID != a.ID {
		t.Errorf("failed list of the form: %v %v, want the submission", failed, err)
	}
	if q := v.queued(t); q != 0 {
		t.Errorf("%d tasks queued, want none for a failed submission", q)
	}
	if again := v.deliver(t, d); again.Code != http.StatusOK || answerOf(t, again).Leads[0].Status != "duplicate" {
		t.Errorf("the platform's retry: got %d %s, want 200 duplicate", again.Code, again.Body.String())
	}
	if n := v.records(t); n != 1 {
		t.Errorf("records = %d, want 1", n)
	}
}

// Google's "Send test data" is acknowledged and creates nothing; an event
// the source does not take is acknowledged and ignored.
func TestHookTestAndIgnoredDeliveries(t *testing.T) {
	v := newHookEnv(t)
	k := hooktest.KindOf("google")
	d := k.New(base, ada("1"), k.Secrets[0], v.clock.Now())
	d.Body = []byte(strings.Replace(string(d.Body), `"is_test":false`, `"is_test":true`, 1))
	k.Resign(d, k.Secrets[0], v.clock.Now())
	if rec := v.deliver(t, d); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"test"`) {
		t.Errorf("test lead: got %d %s, want 200 test", rec.Code, rec.Body.String())
	}
	k = hooktest.KindOf("calendly")
	d = k.New(base, ada("2"), k.Secrets[0], v.clock.Now())
	d.Body = []byte(strings.Replace(string(d.Body), "invitee.created", "invitee.canceled", 1))
	k.Resign(d, k.Secrets[0], v.clock.Now())
	if rec := v.deliver(t, d); rec.Code != http.StatusOK || rec.Body.String() != "{\"leads\":[]}\n" {
		t.Errorf("cancellation: got %d %q, want 200 with no leads", rec.Code, rec.Body.String())
	}
	if n := v.records(t); n != 0 {
		t.Errorf("records = %d, want none", n)
	}
}

func TestHookHandshakes(t *testing.T) {
	v := newHookEnv(t)
	get := func(path string) *httptest.ResponseRecorder {
		return v.send(t, httptest.NewRequest(http.MethodGet, base+path, nil))
	}
	challenge := "/hooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + url.QueryEscape(hooktest.MetaVerifyToken)
	if rec := get(challenge); rec.Code != http.StatusOK || rec.Body.String() != "1158201444" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("Meta's check: got %d %q %s, want 200 with the bare challenge as text/plain", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
	if rec := get("/hooks/meta?hub.mode=subscribe&hub.challenge=<script>&hub.verify_token=guess"); rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "<script>") {
		t.Errorf("Meta's check with a wrong token: got %d %q, want 403 echoing nothing", rec.Code, rec.Body.String())
	}
	if rec := get("/hooks/mailchimp"); rec.Code != http.StatusOK {
		t.Errorf("Mailchimp's validation GET: got %d, want 200", rec.Code)
	}
	if rec := get("/hooks/typeform"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET on a kind without a handshake: got %d, want 405", rec.Code)
	}
}

// An unknown source is a 404 that names no configured source, for POST and
// GET alike.
func TestHookUnknownSource(t *testing.T) {
	v := newHookEnv(t)
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		rec := v.send(t, httptest.NewRequest(method, base+"/hooks/nope", strings.NewReader("{}")))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s unknown source: got %d, want 404", method, rec.Code)
		}
		for _, id := range hooktest.SortedSources() {
			if strings.Contains(rec.Body.String(), `"`+id+`"`) {
				t.Errorf("%s unknown source: body %s names source %s", method, rec.Body.String(), id)
			}
		}
	}
}

// HubSpot signs the URL it called. Behind a TLS-terminating proxy, that URL
// is rebuilt from X-Forwarded-Proto/Host — from a trusted proxy only.
func TestHookPublicURLBehindAProxy(t *testing.T) {
	v := newHookEnvWith(t, hookOptions{trustedProxies: []string{"10.0.0.0/8"}})
	k := hooktest.KindOf("hubspot")
	send := func(peer string, id string) int {
		d := k.New("https://leads.example.com", ada(id), k.Secrets[0], v.clock.Now())
		r := d.Request()
		r.URL.Scheme, r.URL.Host, r.Host = "http", "10.1.2.3:8080", "10.1.2.3:8080" // what the proxy forwards to
		r.RemoteAddr = peer + ":40000"
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "leads.example.com")
		return v.send(t, r).Code
	}
	if code := send("10.9.9.9", "1"); code != http.StatusOK {
		t.Errorf("from the trusted proxy: got %d, want 200", code)
	}
	if code := send("203.0.113.7", "2"); code != http.StatusUnauthorized {
		t.Errorf("X-Forwarded-* from an untrusted peer: got %d, want 401 (the headers are ignored)", code)
	}
}

// A platform that sends a delivery id again with other content (the lead
// changed upstream between retries) gets a 200, and the first delivery
// stands: one submission, with the first content.
func TestHookSameIDOtherContentKeepsTheFirst(t *testing.T) {
	v := newHookEnv(t)
	k := hooktest.KindOf("typeform")
	first := v.oneLead(t, v.deliver(t, k.New(base, ada("31"), k.Secrets[0], v.clock.Now())), submission.StatusAccepted)
	changed := ada("31")
	changed.Company = "Acme Holdings"
	rec := v.deliver(t, k.New(base, changed, k.Secrets[0], v.clock.Now()))
	if a := answerOf(t, rec); rec.Code != http.StatusOK || len(a.Leads) != 1 || a.Leads[0].Status != "duplicate" {
		t.Fatalf("same id, other content: got %d %s, want 200 duplicate", rec.Code, rec.Body.String())
	}
	if n := v.records(t); n != 1 {
		t.Errorf("records = %d, want 1", n)
	}
	if r, _ := v.store.Get(context.Background(), first.ID); r.Fields["company"] != "Acme" {
		t.Errorf("company = %q, want the first delivery's", r.Fields["company"])
	}
	if !strings.Contains(v.logs.String(), "seen before with other content") {
		t.Error("the log does not say the id came again with other content")
	}
}

// TestHookSourceRateLimit: a source with rate_limit gets 429 with
// Retry-After past it (platforms retry), stores nothing for the refused
// delivery, and other sources are not held back.
func TestHookSourceRateLimit(t *testing.T) {
	yaml, vars := hooktest.Config("", "")
	yaml = strings.Replace(yaml, "  typeform:\n", "  typeform:\n    rate_limit: 2/minute\n", 1)
	v := newHookEnvWith(t, hookOptions{yaml: yaml, vars: vars, limits: true})
	k := hooktest.KindOf("typeform")
	for i := range 2 {
		v.oneLead(t, v.deliver(t, k.New(base, ada(fmt.Sprint(7000+i)), k.Secrets[0], v.clock.Now())), submission.StatusAccepted)
	}
	stored := v.records(t)
	rec := v.deliver(t, k.New(base, ada("7002"), k.Secrets[0], v.clock.Now()))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("third delivery in a minute: %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if n := v.records(t); n != stored {
		t.Errorf("the refused delivery stored %d records", n-stored)
	}
	other := hooktest.KindOf("google")
	v.oneLead(t, v.deliver(t, other.New(base, ada("7003"), other.Secrets[0], v.clock.Now())), submission.StatusAccepted)
}
