package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"

	"github.com/leadbridge/leadbridge/internal/hooktest"
)

// publicRoute: a route the OpenAPI document must describe. The admin
// console is HTML behind a session, and the assets are files.
func publicRoute(path string) bool {
	return path != "/admin" && !strings.HasPrefix(path, "/admin/") && !strings.HasPrefix(path, "/static")
}

var echoParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openAPIDoc fetches /openapi.json from the router.
func openAPIDoc(t *testing.T, v *env) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec.Body.Bytes()
}

func TestOpenAPIMatchesTheRouter(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	raw := openAPIDoc(t, v)

	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got := doc.GetVersion(); !strings.HasPrefix(got, "3.1.") {
		t.Fatalf("openapi version %q, want 3.1.x", got)
	}
	if ok, errs := schema_validation.ValidateOpenAPIDocument(doc); !ok {
		for _, e := range errs {
			t.Errorf("not valid OpenAPI 3.1: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
	}
	if _, errs := doc.BuildV3Model(); errs != nil {
		t.Errorf("model: %v", errs)
	}

	var parsed struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{} // "GET /f/{form}"
	for path, item := range parsed.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	for _, r := range v.e.Routes() {
		if !publicRoute(r.Path) || r.Method == echo.RouteNotFound {
			continue
		}
		routed[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	if len(routed) < 15 {
		t.Fatalf("only %d public routes found; the walk is broken: %v", len(routed), routed)
	}
	for op := range routed {
		if !documented[op] {
			t.Errorf("%s is routed but not in openapi.json", op)
		}
	}
	for op := range documented {
		if !routed[op] {
			t.Errorf("%s is in openapi.json but not routed", op)
		}
	}
}

// TestOpenAPIDescribesRealAnswers sends requests through the router and
// checks each answer — status, media type, body — against the document.
func TestOpenAPIDescribesRealAnswers(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	doc, err := libopenapi.NewDocument(openAPIDoc(t, v))
	if err != nil {
		t.Fatal(err)
	}
	check, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	do := func(method, target, contentType, body string, hdr ...string) (*http.Request, *http.Response, []byte) {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		resp := rec.Result()
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		// The validator reads the request body again.
		req2 := httptest.NewRequest(method, target, strings.NewReader(body))
		req2.Header = req.Header
		return req2, resp, b
	}
	auth := []string{"Authorization", "Bearer " + token}
	_, _, first := do(http.MethodPost, "/f/demo", "application/json", `{"email":"ann@example.com","last_name":"Lee"}`)
	var accepted struct{ ID string }
	_ = json.Unmarshal(first, &accepted)
	if accepted.ID == "" {
		t.Fatalf("no id in %s", first)
	}
	cases := []struct {
		name                     string
		method, target, ct, body string
		hdr                      []string
		want                     int
	}{
		{"accepted", "POST", "/f/demo", "application/json", `{"email":"bob@example.com","last_name":"Ng"}`, nil, 202},
		{"invalid", "POST", "/f/demo", "application/json", `{"email":"nope"}`, nil, 422},
		{"key reused", "POST", "/f/demo", "application/json", `{"email":"cy@example.com","last_name":"X"}`, []string{"Idempotency-Key", "k1"}, 202},
		{"key reused, other content", "POST", "/f/demo", "application/json", `{"email":"cy@example.com","last_name":"Y"}`, []string{"Idempotency-Key", "k1"}, 422},
		{"unknown form", "POST", "/f/nope", "application/json", `{}`, nil, 404},
		{"definition", "GET", "/f/demo/definition", "", "", nil, 200},
		{"a record", "GET", "/v1/submissions/" + accepted.ID, "", "", auth, 200},
		{"no token", "GET", "/v1/submissions/" + accepted.ID, "", "", nil, 401},
		{"no such record", "GET", "/v1/submissions/nothere", "", "", auth, 404},
		{"list", "GET", "/v1/submissions?limit=5", "", "", auth, 200},
		{"list of a status", "GET", "/v1/submissions?status=accepted", "", "", auth, 200},
		{"bad limit", "GET", "/v1/submissions?limit=0", "", "", auth, 400},
		{"retry what waits", "POST", "/v1/submissions/" + accepted.ID + "/retry", "", "", auth, 409},
		{"discard", "POST", "/v1/submissions/" + accepted.ID + "/discard", "application/json", `{"reason":"test"}`, auth, 409},
		{"healthz", "GET", "/healthz", "", "", nil, 200},
		{"readyz", "GET", "/readyz", "", "", nil, 200},
		{"openapi", "GET", "/openapi.json", "", "", nil, 200},
	}
	for _, c := range cases {
		req, resp, body := do(c.method, c.target, c.ct, c.body, c.hdr...)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s %s: status %d, want %d (%s)", c.name, c.method, c.target, resp.StatusCode, c.want, body)
			continue
		}
		if ok, errs := check.ValidateHttpResponse(req, resp); !ok {
			for _, e := range errs {
				t.Errorf("%s: %s %s → %d does not match openapi.json: %s: %s", c.name, c.method, c.target, resp.StatusCode, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
				}
			}
		}
	}
}

// TestOpenAPIDescribesWebhookAnswers: the answers to a platform — a lead
// taken, a lead whose fields fail, a bad signature, an unknown source, a
// handshake a kind does not make — match the document.
func TestOpenAPIDescribesWebhookAnswers(t *testing.T) {
	t.Parallel()
	v := newHookEnv(t)
	doc, err := libopenapi.NewDocument(openAPIDoc(t, v.env))
	if err != nil {
		t.Fatal(err)
	}
	check, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	k := hooktest.Kinds()[0]
	now := v.clock.Now()
	bad := hooktest.Ada("2")
	bad.Email = "not an address"
	unknown := k.New(base, hooktest.Ada("3"), k.Secrets[0], now)
	unknown.URL = base + "/hooks/nope"
	handshake, _ := http.NewRequest(http.MethodGet, base+"/hooks/"+k.Source, nil)
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"a lead", k.New(base, hooktest.Ada("1"), k.Secrets[0], now).Request(), 200},
		{"the same lead again", k.New(base, hooktest.Ada("1"), k.Secrets[0], now).Request(), 200},
		{"invalid fields", k.New(base, bad, k.Secrets[0], now).Request(), 422},
		{"a bad signature", k.New(base, hooktest.Ada("4"), k.Secrets[2], now).Request(), 401},
		{"an unknown source", unknown.Request(), 404},
		{"no handshake for this kind", handshake, 405},
	}
	for _, c := range cases {
		var body []byte
		if c.req.Body != nil {
			body, _ = io.ReadAll(c.req.Body)
			c.req.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		rec := v.send(t, c.req)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, rec.Code, c.want, rec.Body)
			continue
		}
		c.req.Body = io.NopCloser(strings.NewReader(string(body)))
		if ok, errs := check.ValidateHttpResponse(c.req, rec.Result()); !ok {
			for _, e := range errs {
				t.Errorf("%s → %d does not match openapi.json: %s: %s", c.name, rec.Code, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
				}
			}
		}
	}
}
