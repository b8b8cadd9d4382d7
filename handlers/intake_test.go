package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/health"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

const token = "handler-test-token-0123"

type env struct {
	e     *echo.Echo
	rdb   redis.UniversalClient
	redis *testenv.Redis
	store *submission.Store
}

// envOptions vary the router a test runs against.
type envOptions struct {
	configFile   string                // LEADBRIDGE_CONFIG; "" = the built-in demo form
	queue        redis.UniversalClient // where tasks are enqueued; nil = the env's own Redis
	storeTimeout time.Duration         // Deps.StoreTimeout
	log          io.Writer             // where the API logs, at debug level; nil = nowhere
	env          map[string]string     // the environment the forms' secrets are read from
	deps         func(*handlers.Deps, redis.UniversalClient)

	admin   handlers.AdminConfig // the admin console; zero = off
	proxies []*net.IPNet         // Deps.TrustedProxies
}

func newEnv(t testing.TB) *env { return newEnvWith(t, envOptions{}) }

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	r := testenv.StartRedis(t)
	rdb, err := config.Redis{URL: r.URL}.Client() // as cmd/api builds it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	fs, err := config.LoadForms(o.configFile, func(k string) string { return o.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.queue == nil {
		o.queue = rdb
	}
	store := submission.NewStore(rdb, time.Hour)
	reg := metrics.Registry()
	logHandler := slog.DiscardHandler
	if o.log != nil {
		logHandler = slog.NewJSONHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	d := handlers.Deps{
		Forms:        fs,
		Store:        store,
		Queue:        queue.NewClient(o.queue),
		Health:       health.New(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, metrics.Handler(reg), slog.New(slog.DiscardHandler)),
		APIToken:     token,
		MaxBodyBytes: 64 << 10,
		Metrics:      metrics.NewIntake(reg),
		StoreTimeout: o.storeTimeout,
		Log:          slog.New(logHandler),
		Redis:        rdb, Admin: o.admin, TrustedProxies: o.proxies,
	}
	if o.deps != nil {
		o.deps(&d, rdb)
	}
	e, err := handlers.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return &env{e: e, rdb: rdb, redis: r, store: store}
}

func (v *env) post(path, contentType, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	return rec
}

// queued is how many delivery tasks asynq holds, in every delivery queue.
func (v *env) queued(t *testing.T) int {
	t.Helper()
	ins := asynq.NewInspectorFromRedisClient(v.rdb)
	qs, err := ins.Queues()
	if err != nil {
		t.Fatalf("queues: %v", err)
	}
	n := 0
	for _, q := range qs {
		if q != queue.Legacy && !strings.HasPrefix(q, queue.Legacy+":") {
			continue
		}
		info, err := ins.GetQueueInfo(q)
		if err != nil {
			t.Fatalf("queue info: %v", err)
		}
		n += info.Size
	}
	return n
}

func (v *env) records(t *testing.T) int64 {
	t.Helper()
	counts, err := v.store.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}

func TestBadInputIsRefusedAndNothingIsStored(t *testing.T) {
	v := newEnv(t)
	big := `{"last_name":"X","email":"a@b.co","message":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name        string
		path, ctype string
		body        string
		wantStatus  int
		wantError   string
		wantFields  map[string]string
	}{
		{"invalid email", "/f/demo", "application/json", `{"last_name":"Lee","email":"not-an-email"}`, 422, "validation_failed",
			map[string]string{"email": "must be a valid email address"}},
		{"missing required fields", "/f/demo", "application/json", `{"first_name":"Ann"}`, 422, "validation_failed",
			map[string]string{"email": "is required", "last_name": "is required"}},
		{"over-long field", "/f/demo", "application/json", `{"last_name":"` + strings.Repeat("L", 51) + `","email":"a@b.co"}`, 422, "validation_failed",
			map[string]string{"last_name": "must be at most 50 characters"}},
		{"one megabyte body", "/f/demo", "application/json", big, 413, "too_large", nil},
		{"malformed JSON", "/f/demo", "application/json", `{"last_name":"Lee",`, 400, "bad_request", nil},
		{"JSON that is not an object", "/f/demo", "application/json", `["a"]`, 400, "bad_request", nil},
		{"nested object", "/f/demo", "application/json", `{"last_name":{"x":1},"email":"a@b.co"}`, 400, "bad_request", nil},
		{"wrong content type", "/f/demo", "text/plain", "last_name=Lee", 415, "unsupported_media_type", nil},
		{"no content type", "/f/demo", "", "last_name=Lee", 415, "unsupported_media_type", nil},
		{"unknown form", "/f/nope", "application/json", `{"last_name":"Lee","email":"a@b.co"}`, 404, "not_found", nil},
		{"invalid UTF-8", "/f/demo", "application/x-www-form-urlencoded", "last_name=%ff%fe&email=a@b.co", 422, "validation_failed",
			map[string]string{"last_name": "contains characters that are not valid text"}},
		{"invalid UTF-8 in a field the form does not have", "/f/demo", "application/x-www-form-urlencoded", "last_name=Lee&email=a@b.co&_page=%ff", 422, "validation_failed",
			map[string]string{"_page": "contains characters that are not valid text"}},
		{"invalid UTF-8 in a JSON string", "/f/demo", "application/json", "{\"last_name\":\"L\xffe\",\"email\":\"a@b.co\"}", 422, "validation_failed",
			map[string]string{"last_name": "contains characters that are not valid text"}},
		{"invalid UTF-8 in a JSON list", "/f/demo", "application/json", "{\"last_name\":\"Lee\",\"email\":\"a@b.co\",\"message\":[\"ok\",\"\xc3\"]}", 422, "validation_failed",
			map[string]string{"message": "contains characters that are not valid text"}},
		{"invalid UTF-8 in a JSON field the form does not have", "/f/demo", "application/json", "{\"last_name\":\"Lee\",\"email\":\"a@b.co\",\"nick\":\"\xed\xa0\x80\"}", 422, "validation_failed",
			map[string]string{"nick": "contains characters that are not valid text"}},
		{"invalid UTF-8 in a JSON name", "/f/demo", "application/json", "{\"last_name\":\"Lee\",\"email\":\"a@b.co\",\"n\xffck\":\"x\"}", 422, "validation_failed",
			map[string]string{"n\ufffdck": "contains characters that are not valid text"}},
		{"half a surrogate pair escaped in JSON", "/f/demo", "application/json", `{"last_name":"L\ud800e","email":"a@b.co"}`, 422, "validation_failed",
			map[string]string{"last_name": "contains characters that are not valid text"}},
		{"the low half alone", "/f/demo", "application/json", `{"last_name":"Lee","email":"a@b.co","company":"\udc00"}`, 422, "validation_failed",
			map[string]string{"company": "contains characters that are not valid text"}},
		{"a high half before another high half", "/f/demo", "application/json", `{"last_name":"\ud83d\ud83d","email":"a@b.co"}`, 422, "validation_failed",
			map[string]string{"last_name": "contains characters that are not valid text"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := v.post(tc.path, tc.ctype, tc.body, "Accept", "application/json")
			if rec.Code != tc.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			var got struct {
				Error   string            `json:"error"`
				Message string            `json:"message"`
				Fields  map[string]string `json:"fields"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body.String())
			}
			if got.Error != tc.wantError {
				t.Errorf("error: got %q, want %q", got.Error, tc.wantError)
			}
			if got.Message == "" && tc.wantFields == nil {
				t.Errorf("no message for a person in %s", rec.Body.String())
			}
			for f, msg := range tc.wantFields {
				if got.Fields[f] != msg {
					t.Errorf("fields[%s]: got %q, want %q", f, got.Fields[f], msg)
				}
			}
			if len(got.Fields) != len(tc.wantFields) {
				t.Errorf("fields: got %v, want exactly %v", got.Fields, tc.wantFields)
			}
		})
	}
	t.Run("Idempotency-Key not text", func(t *testing.T) {
		rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"a@b.co"}`, "Idempotency-Key", "k-\xff")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("status: got %d, want 400 (body %s)", rec.Code, rec.Body.String())
		}
	})
	if n := v.queued(t); n != 0 {
		t.Errorf("tasks queued after bad input: got %d, want 0", n)
	}
	if n := v.records(t); n != 0 {
		t.Errorf("records stored after bad input: got %d, want 0", n)
	}
}

func TestAcceptedSubmissionIsDurableAndQueued(t *testing.T) {
	v := newEnv(t)
	rec := v.post("/f/demo", "application/x-www-form-urlencoded", "last_name=Lee&email=%20Ann%40Example.COM%20&consent=on", "Accept", "application/json")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status: got %d, want 202: %s", rec.Code, rec.Body.String())
	}
	var got map[string]string
	json.Unmarshal(rec.Body.Bytes(), &got)
	r, err := v.store.Get(context.Background(), got["id"])
	if err != nil {
		t.Fatalf("record %s: %v", got["id"], err)
	}
	if r.Status != "accepted" || r.Fields["email"] != "ann@example.com" || r.Fields["consent"] != "true" || r.ClientIP == "" {
		t.Errorf("record: got status %q fields %v ip %q, want accepted, normalized email, consent true, client ip", r.Status, r.Fields, r.ClientIP)
	}
	if n := v.queued(t); n != 1 {
		t.Errorf("queued: got %d, want 1", n)
	}
}

// The 202 a JSON client gets is written without encoding/json (intake's
// hot path), and must read exactly as encoding/json would write it.
func TestAcceptedAnswerIsTheSameJSON(t *testing.T) {
	v := newEnv(t)
	rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status: got %d, want 202: %s", rec.Code, rec.Body.String())
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got["id"]) != 32 {
		t.Fatalf("body %q: %v; want an object with a 32-character id", rec.Body.String(), err)
	}
	var want bytes.Buffer
	json.NewEncoder(&want).Encode(map[string]string{"id": got["id"], "status": "accepted"})
	if rec.Body.String() != want.String() {
		t.Errorf("body: got %q, want %q", rec.Body.String(), want.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	// A resend under the same key answers the first submission's id alike.
	again := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`, "Idempotency-Key", "k-1")
	first := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`, "Idempotency-Key", "k-1")
	if again.Code != 202 || again.Body.String() != first.Body.String() {
		t.Errorf("resend: got %d %q, want 202 %q", again.Code, again.Body.String(), first.Body.String())
	}
}

func TestIdempotencyKeyReturnsTheFirstSubmission(t *testing.T) {
	v := newEnv(t)
	body := `{"last_name":"Lee","email":"ann@example.com"}`
	first := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-123")
	second := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-123")
	if first.Code != 202 || second.Code != 202 {
		t.Fatalf("status: got %d and %d, want 202 twice", first.Code, second.Code)
	}
	var a, b map[string]string
	json.Unmarshal(first.Body.Bytes(), &a)
	json.Unmarshal(second.Body.Bytes(), &b)
	if a["id"] == "" || a["id"] != b["id"] {
		t.Errorf("ids: got %q and %q, want the same id", a["id"], b["id"])
	}
	if n := v.queued(t); n != 1 {
		t.Errorf("queued: got %d, want 1", n)
	}
}

// TestIdempotencyKeyReusedForOtherContentIsRefused: a key names one
// submission's content. The same content sent again (fields in another
// order, other spacing, other case where that does not matter) is a repeat;
// other content under the same key is refused, not silently dropped.
func TestIdempotencyKeyReusedForOtherContentIsRefused(t *testing.T) {
	v := newEnv(t)
	first := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`, "Idempotency-Key", "k-9")
	same := v.post("/f/demo", "application/json", `{ "email" : " Ann@Example.com ", "last_name": "Lee ", "unknown": 1 }`, "Idempotency-Key", "k-9")
	other := v.post("/f/demo", "application/json", `{"last_name":"Ng","email":"bo@example.com"}`, "Idempotency-Key", "k-9")
	var a, b, c map[string]string
	json.Unmarshal(first.Body.Bytes(), &a)
	json.Unmarshal(same.Body.Bytes(), &b)
	json.Unmarshal(other.Body.Bytes(), &c)
	if first.Code != 202 || same.Code != 202 || a["id"] == "" || a["id"] != b["id"] {
		t.Errorf("same content: got %d %v and %d %v, want 202 with the same id", first.Code, a, same.Code, b)
	}
	if other.Code != http.StatusUnprocessableEntity || c["error"] != "idempotency_key_reused" || !strings.Contains(c["message"], "different content") {
		t.Errorf("other content, same key: got %d %v, want 422 idempotency_key_reused saying the key was used for different content", other.Code, c)
	}
	if n := v.records(t); n != 1 {
		t.Errorf("records: got %d, want 1", n)
	}

	// A person who went Back and changed the form they had sent sees it
	// again, with what they typed and a fresh key, so Send sends it.
	page := v.post("/f/demo", "application/x-www-form-urlencoded", "last_name=Ng&email=bo%40example.com&_idempotency_key=k-9", "Accept", "text/html")
	if page.Code != http.StatusUnprocessableEntity {
		t.Fatalf("HTML post, other content, same key: got %d, want 422", page.Code)
	}
	body := page.Body.String()
	for _, want := range []string{`value="Ng"`, `value="bo@example.com"`, "already sent with different answers"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `name="_idempotency_key" value="k-9"`) {
		t.Error("the page shown again keeps the used key; Send would be refused again")
	}
}

// TestResendAfterA503ThatLandedMakesOneSubmission: Redis answers after
// intake's deadline, so the client is told 503 although the submission was
// stored. The 503 says to send it again with the same Idempotency-Key (and
// gives one to a client that sent none); doing so returns the stored one.
func TestResendAfterA503ThatLandedMakesOneSubmission(t *testing.T) {
	v := newEnvWith(t, envOptions{storeTimeout: time.Second})
	if rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`); rec.Code != http.StatusAccepted {
		t.Fatalf("POST before the hang: got %d, want 202", rec.Code) // the pool and script are warm now
	}
	for _, tc := range []struct {
		name, key, body string
	}{
		{"with a key", "k-503", `{"last_name":"Ng","email":"bo@example.com"}`},
		{"without a key", "", `{"last_name":"Wu","email":"cy@example.com"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := v.records(t)
			hdr := []string{}
			if tc.key != "" {
				hdr = []string{"Idempotency-Key", tc.key}
			}
			v.redis.Pause()
			rec := v.post("/f/demo", "application/json", tc.body, hdr...)
			v.redis.Resume()
			var got struct {
				Error          string `json:"error"`
				Message        string `json:"message"`
				Retry          bool   `json:"retry_with_same_idempotency_key"`
				IdempotencyKey string `json:"idempotency_key"`
			}
			json.Unmarshal(rec.Body.Bytes(), &got)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("POST with Redis hung: got %d %s, want 503 with Retry-After", rec.Code, rec.Body.String())
			}
			if !got.Retry || got.IdempotencyKey == "" || (tc.key != "" && got.IdempotencyKey != tc.key) || !strings.Contains(got.Message, "same Idempotency-Key") {
				t.Errorf("503 body: got %+v, want retry_with_same_idempotency_key, the key to send (%q) and a message saying so", got, tc.key)
			}
			// Redis, resumed, runs what it was sent: the submission landed.
			testenv.Eventually(t, 10*time.Second, func() string {
				if n := v.records(t); n != before+1 {
					return fmt.Sprintf("records: %d, want %d", n, before+1)
				}
				return ""
			})
			again := v.post("/f/demo", "application/json", tc.body, "Idempotency-Key", got.IdempotencyKey)
			if again.Code != http.StatusAccepted {
				t.Fatalf("resend: got %d %s, want 202", again.Code, again.Body.String())
			}
			if n := v.records(t); n != before+1 {
				t.Errorf("records after the resend: got %d, want %d (one submission)", n, before+1)
			}
		})
	}
}

// TestHostedFormAfterA503KeepsItsKey: a person whose Send got a 503 sees
// the form again with their answers and the same key, so that sending it
// again cannot make a second lead.
func TestHostedFormAfterA503KeepsItsKey(t *testing.T) {
	v := newEnvWith(t, envOptions{storeTimeout: time.Second})
	v.redis.Pause()
	rec := v.post("/f/demo", "application/x-www-form-urlencoded", "last_name=Lee&email=ann%40example.com&_idempotency_key=page-7", "Accept", "text/html")
	v.redis.Resume()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status: got %d, want 503", rec.Code)
	}
	page := rec.Body.String()
	for _, want := range []string{`name="_idempotency_key" value="page-7"`, `value="Lee"`, `value="ann@example.com"`, "Press Send again"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

func TestRedisDownAnswers503AndNever2xx(t *testing.T) {
	v := newEnv(t)
	v.rdb.Close() // the API's Redis connection is gone
	rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status: got %d, want 503: %s", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestHTMLPostWithErrorsRendersTheFormAgain(t *testing.T) {
	v := newEnv(t)
	rec := v.post("/f/demo", "application/x-www-form-urlencoded", "first_name=Ann&last_name=&email=nope", "Accept", "text/html")
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status: got %d, want 422", rec.Code)
	}
	page := rec.Body.String()
	for _, want := range []string{`value="Ann"`, `value="nope"`, "Email must be a valid email address", "Last name is required", `aria-invalid="true"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHostedFormPage(t *testing.T) {
	v := newEnv(t)
	req := httptest.NewRequest(http.MethodGet, "/f/demo", nil)
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<form class="lb-form" method="post" action="/f/demo"`) {
		t.Fatalf("GET /f/demo: got %d %s", rec.Code, rec.Body.String())
	}
}

func TestStatusAPINeedsTheToken(t *testing.T) {
	v := newEnv(t)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + token} {
		req := httptest.NewRequest(http.MethodGet, "/v1/submissions?status=failed", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: got %d, want 401", auth, rec.Code)
		}
	}
}

// TestStoredButNotQueuedIsStillAccepted: when the record is durable but the
// enqueue fails, the answer is 202 and the record stays for the janitor —
// and a retry with the same Idempotency-Key gets the same, existing id.
func TestStoredButNotQueuedIsStillAccepted(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: testenv.FreeAddr(t), MaxRetries: -1}) // nothing listens there
	t.Cleanup(func() { dead.Close() })
	v := newEnvWith(t, envOptions{queue: dead})
	store := v.store
	body := `{"last_name":"Lee","email":"ann@example.com"}`
	first := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-1")
	again := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-1")
	if first.Code != http.StatusAccepted || again.Code != http.StatusAccepted {
		t.Fatalf("status: got %d and %d, want 202 twice", first.Code, again.Code)
	}
	var a, b map[string]string
	json.Unmarshal(first.Body.Bytes(), &a)
	json.Unmarshal(again.Body.Bytes(), &b)
	if a["id"] != b["id"] {
		t.Errorf("ids: got %q and %q, want the same", a["id"], b["id"])
	}
	rec, err := store.Get(context.Background(), a["id"])
	if err != nil || rec.Status != submission.StatusAccepted {
		t.Errorf("record: got %v, %v; want it kept as accepted for the janitor", rec, err)
	}
}

// TestMediaTypesAreCaseInsensitive: RFC 9110 media types and parameter
// names are case-insensitive (a boundary's value is not).
func TestMediaTypesAreCaseInsensitive(t *testing.T) {
	v := newEnv(t)
	multipart := "--XyZ\r\nContent-Disposition: form-data; name=\"last_name\"\r\n\r\nLee\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nann@example.com\r\n--XyZ--\r\n"
	for _, tc := range []struct {
		name, ctype, accept, body string
	}{
		{"JSON body", "APPLICATION/JSON", "", `{"last_name":"Lee","email":"ann@example.com"}`},
		{"JSON body with parameters", "Application/Json; Charset=UTF-8", "", `{"last_name":"Lee","email":"ann@example.com"}`},
		{"JSON asked for in Accept", "application/x-www-form-urlencoded", "Text/HTML;q=0.5, APPLICATION/JSON", "last_name=Lee&email=ann%40example.com"},
		{"url-encoded", "APPLICATION/X-WWW-FORM-URLENCODED", "application/json", "last_name=Lee&email=ann%40example.com"},
		{"multipart", "MULTIPART/FORM-DATA; BOUNDARY=XyZ", "application/json", multipart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.accept != "" {
				hdr = append(hdr, "Accept", tc.accept)
			}
			rec := v.post("/f/demo", tc.ctype, tc.body, hdr...)
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusAccepted || err != nil {
				t.Fatalf("got %d %q, want 202 and JSON", rec.Code, rec.Body.String())
			}
			r, err := v.store.Get(context.Background(), got["id"])
			if err != nil || r.Fields["last_name"] != "Lee" || r.Fields["email"] != "ann@example.com" {
				t.Errorf("record: got %v, %v; want last_name Lee and the email", r, err)
			}
		})
	}
	t.Run("status API body", func(t *testing.T) {
		id := v.failedRecord(t)
		req := httptest.NewRequest(http.MethodPost, "/v1/submissions/"+id+"/discard", strings.NewReader(`{"reason":"duplicate of another"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "APPLICATION/JSON")
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("discard with APPLICATION/JSON: got %d %s, want 200", rec.Code, rec.Body.String())
		}
	})
}

// TestEscapedTextIsKept: JSON escapes of valid text, a surrogate pair
// among them, arrive as the characters they stand for.
func TestEscapedTextIsKept(t *testing.T) {
	v := newEnv(t)
	rec := v.post("/f/demo", "application/json", `{"last_name":"Z\u00fcrich \ud83d\ude00","email":"a@b.co","company":"\\ud800 is text"}`)
	var got map[string]string
	json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", rec.Code, rec.Body.String())
	}
	r, err := v.store.Get(context.Background(), got["id"])
	if err != nil || r.Fields["last_name"] != "Zürich 😀" || r.Fields["company"] != `\ud800 is text` {
		t.Errorf("record: got %v, %v; want last_name Zürich 😀 and company \\ud800 is text", r.Fields, err)
	}
}

// TestLogsHoldNoPersonalData: what the API logs about submissions is ids,
// forms and outcomes — no names, emails, phones or client addresses.
func TestLogsHoldNoPersonalData(t *testing.T) {
	var log testenv.Buffer
	v := newEnvWith(t, envOptions{log: &log})
	body := `{"first_name":"Annabel","last_name":"Leewood","email":"annabel@private.example","phone":"+44 20 7946 0958","message":"call me"}`
	first := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-log")
	v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-log")
	v.post("/f/demo", "application/x-www-form-urlencoded", "first_name=Annabel&email=annabel%40private.example", "Accept", "text/html")
	var a map[string]string
	json.Unmarshal(first.Body.Bytes(), &a)
	got := log.String()
	for _, personal := range []string{"Annabel", "Leewood", "annabel", "private.example", "7946", "call me", "192.0.2.1"} {
		if strings.Contains(got, personal) {
			t.Errorf("the log holds %q:\n%s", personal, got)
		}
	}
	for _, want := range []string{`"id":"` + a["id"] + `"`, `"form":"demo"`, `"outcome":"accepted"`, `"outcome":"duplicate"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
}

// TestHomeGoesToAConfiguredForm: the bare address leads to a form the API
// serves, not to /f/demo when the file has none.
func TestHomeGoesToAConfiguredForm(t *testing.T) {
	t.Parallel()
	path := testenv.WriteFile(t, "f.yaml", "forms:\n  contact-us:\n    fields:\n      email: {column: emailaddress1}\n")
	for _, tc := range []struct{ config, want string }{{"", "/f/demo"}, {path, "/f/contact-us"}} {
		v := newEnvWith(t, envOptions{configFile: tc.config})
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tc.want {
			t.Errorf("GET / with config %q: %d to %q, want 302 to %s", tc.config, rec.Code, rec.Header().Get("Location"), tc.want)
		}
	}
}

// TestJSONValuesBecomeFieldText: each kind of JSON value a client may send
// is stored as the text a person would expect, and the kinds a field
// cannot hold are refused with 400.
func TestJSONValuesBecomeFieldText(t *testing.T) {
	v := newEnv(t)
	for _, tc := range []struct {
		name, value string
		want        string // the stored message; "-" = absent
		status      int
	}{
		{"string with escapes (trimmed, as all text)", `"caf\u00e9 \"ok\"\n"`, "café \"ok\"", 202},
		{"string without escapes", `"Café, 2nd floor / 'B'"`, "Café, 2nd floor / 'B'", 202},
		{"number as written", `12.50`, "12.50", 202},
		{"negative number with exponent", `-1.5e3`, "-1.5e3", 202},
		{"true", `true`, "true", 202},
		{"false", ` false `, "false", 202},
		{"null", `null`, "-", 202},
		{"list of text", `["a", "b"]`, "a, b", 202},
		{"empty list (an empty field)", `[]`, "-", 202},
		{"list with a number", `["a", 1]`, "", 400},
		{"list with null", `[null]`, "", 400},
		{"object", `{"x":"y"}`, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"a@b.co","message":`+tc.value+`}`)
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body.String(), tc.status)
			}
			if tc.status != 202 {
				return
			}
			var a map[string]string
			json.Unmarshal(rec.Body.Bytes(), &a)
			r, err := v.store.Get(context.Background(), a["id"])
			if err != nil {
				t.Fatal(err)
			}
			got, ok := r.Fields["message"]
			if !ok {
				got = "-"
			}
			if got != tc.want {
				t.Errorf("stored message %q, want %q", got, tc.want)
			}
		})
	}
}

// Many submissions at once while Redis hangs, as a flood would meet it:
// the ones sent together and the ones queued behind them each get a 503
// telling them to resend with their key, none waits past its deadline by
// much, and after Redis is back each resend makes exactly one submission.
func TestConcurrentPostsWhileRedisHangs(t *testing.T) {
	v := newEnvWith(t, envOptions{storeTimeout: time.Second})
	if rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"warm@example.com"}`); rec.Code != http.StatusAccepted {
		t.Fatalf("POST before the hang: got %d, want 202", rec.Code)
	}
	before := v.records(t)
	const n = 24
	keys := make([]string, n)
	codes := make([]int, n)
	v.redis.Pause()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := v.post("/f/demo", "application/json", fmt.Sprintf(`{"last_name":"Hang","email":"hang%d@example.com"}`, i))
			codes[i] = rec.Code
			var got struct {
				IdempotencyKey string `json:"idempotency_key"`
			}
			json.Unmarshal(rec.Body.Bytes(), &got)
			keys[i] = got.IdempotencyKey
		}()
	}
	wg.Wait()
	v.redis.Resume()
	for i := range n {
		if codes[i] != http.StatusServiceUnavailable || keys[i] == "" {
			t.Fatalf("post %d with Redis hung: %d, key %q; want 503 with a key to resend with", i, codes[i], keys[i])
		}
	}
	for i := range n {
		rec := v.post("/f/demo", "application/json", fmt.Sprintf(`{"last_name":"Hang","email":"hang%d@example.com"}`, i), "Idempotency-Key", keys[i])
		if rec.Code != http.StatusAccepted {
			t.Fatalf("resend %d: got %d %s, want 202", i, rec.Code, rec.Body.String())
		}
	}
	if got := v.records(t); got != before+n {
		t.Errorf("records: got %d, want %d (one per submission, whether its first try landed or not)", got, before+n)
	}
}
