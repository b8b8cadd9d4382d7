package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// harness is a started emulator plus a token, for tests that speak HTTP to
// it the way a client would.
type harness struct {
	t     *testing.T
	srv   *Server
	token string
}

// start runs an emulator on a free port. cfg nil means no limits at all, so
// that tests about other behaviour are not throttled by accident.
func start(t *testing.T, cfg *Config) *harness {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	srv, err := Start(Options{Addr: "127.0.0.1:0", Config: cfg})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return attach(t, srv)
}

// attach is the harness for an emulator the test started itself.
func attach(t *testing.T, srv *Server) *harness {
	t.Helper()
	h := &harness{t: t, srv: srv}
	h.token = h.fetchToken()
	return h
}

func (h *harness) fetchToken() string {
	h.t.Helper()
	resp, body := h.postForm("/"+DefaultTenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {DefaultClientID},
		"client_secret": {DefaultClientSecret},
		"scope":         {h.srv.URL() + "/.default"},
	}, nil)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("token: got status %d, want 200; body %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mustUnmarshal(h.t, body, &tok)
	return tok.AccessToken
}

func (h *harness) postForm(path string, form url.Values, header http.Header) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.send(req)
}

func (h *harness) send(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// api sends a Web API request with the harness token. path is relative to
// the service root; body is JSON-encoded unless it is a string or []byte;
// headers are name, value pairs.
func (h *harness) api(method, path string, body any, headers ...string) (*http.Response, []byte) {
	h.t.Helper()
	return h.apiWithToken(h.token, method, path, body, headers...)
}

func (h *harness) apiWithToken(token, method, path string, body any, headers ...string) (*http.Response, []byte) {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, h.srv.URL()+apiPrefix+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if r != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return h.send(req)
}

// create posts a row and returns its id.
func (h *harness) create(set string, row map[string]any) string {
	h.t.Helper()
	resp, body := h.api(http.MethodPost, set, row)
	if resp.StatusCode != http.StatusNoContent {
		h.t.Fatalf("POST %s: got status %d, want 204; body %s", set, resp.StatusCode, body)
	}
	loc := resp.Header.Get("OData-EntityId")
	_, rest, _ := strings.Cut(loc, "/"+set+"(")
	id, _, _ := strings.Cut(rest, ")")
	if !odata.IsGUID(id) {
		h.t.Fatalf("POST %s: OData-EntityId %q holds no id", set, loc)
	}
	return id
}

// object decodes a JSON object body.
func object(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	mustUnmarshal(t, body, &m)
	return m
}

func mustUnmarshal(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// wantError checks a response is the §5 envelope with status and code.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) string {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type: got %q, want %q", ct, contentTypeJSON)
	}
	var e errorBody
	mustUnmarshal(t, body, &e)
	if e.Error.Code != code {
		t.Errorf("error code: got %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	return e.Error.Message
}

// rows decodes a collection response's value.
func rows(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var c struct {
		Value []map[string]any `json:"value"`
	}
	mustUnmarshal(t, body, &c)
	return c.Value
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sub is the harness for a subtest, so that its failures are reported (and
// stop) the subtest rather than the parent.
func (h *harness) sub(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// q escapes a query option value the way a careful client does: spaces as
// %20, never '+'.
func q(v string) string { return strings.ReplaceAll(url.QueryEscape(v), "+", "%20") }
