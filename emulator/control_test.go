package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestControlSurface(t *testing.T) {
	h := start(t, nil)
	control := func(method, path, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, h.srv.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return h.send(req)
	}

	t.Run("PUT config merges and returns the result", func(t *testing.T) {
		h := h.sub(t)
		resp, body := control(http.MethodPut, "/_emulator/config", `{"limits":{"concurrent":7},"latency_ms":1}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d; body %s", resp.StatusCode, body)
		}
		var cfg Config
		mustUnmarshal(t, body, &cfg)
		if cfg.Limits.Concurrent != 7 || cfg.LatencyMS != 1 || cfg.Limits.WindowSeconds != defaultWindowSeconds || cfg.TokenLifetimeSeconds != defaultTokenLifetime {
			t.Errorf("got %+v, want concurrent 7 and latency 1 with the rest unchanged", cfg)
		}
		resp, body = control(http.MethodPut, "/_emulator/config", `{"limits":{"concurrent":"many"}}`)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "concurrent") {
			t.Errorf("bad patch: got %d %s, want 400 naming the field", resp.StatusCode, body)
		}
		if got := h.srv.config().Limits.Concurrent; got != 7 {
			t.Errorf("a refused patch changed the config: concurrent %d", got)
		}
		if cfg.BulkRowPercent != defaultBulkRowPercent {
			t.Errorf("bulk_row_percent %d, want the default %d", cfg.BulkRowPercent, defaultBulkRowPercent)
		}
		resp, body = control(http.MethodPut, "/_emulator/config", `{"bulk_row_percent":0}`)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "bulk_row_percent") {
			t.Errorf("bulk_row_percent 0: got %d %s, want 400 naming the field", resp.StatusCode, body)
		}
		h.srv.UpdateConfig([]byte(`{"latency_ms":0}`))
	})

	t.Run("stats count responses by status", func(t *testing.T) {
		h := h.sub(t)
		h.srv.Reset()
		h.create("leads", map[string]any{"lastname": "x"})
		h.api(http.MethodGet, "leads(00000000-0000-0000-0000-000000000001)", nil)
		h.fetchToken()
		resp, body := control(http.MethodGet, "/_emulator/stats", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d", resp.StatusCode)
		}
		var st Stats
		mustUnmarshal(t, body, &st)
		want := map[string]int64{"204": 1, "404": 1, "200": 1}
		if st.RequestsTotal != 3 || len(st.ResponsesByStatus) != len(want) || st.TokensIssued != 1 || st.MaxConcurrentSeen != 1 {
			t.Errorf("got %+v, want 3 requests (204, 404, token 200), 1 token, max concurrency 1", st)
		}
		for k, v := range want {
			if st.ResponsesByStatus[k] != v {
				t.Errorf("responses_by_status[%s]: got %d, want %d", k, st.ResponsesByStatus[k], v)
			}
		}
		for _, key := range []string{`"requests_total"`, `"responses_by_status"`, `"max_concurrent_seen"`, `"early_retries"`, `"tokens_issued"`, `"dropped_after_write"`} {
			if !strings.Contains(string(body), key) {
				t.Errorf("stats JSON lacks %s: %s", key, body)
			}
		}
	})

	t.Run("reset empties tables and stats but keeps tokens", func(t *testing.T) {
		h := h.sub(t)
		h.create("leads", map[string]any{"lastname": "x"})
		resp, _ := control(http.MethodPost, "/_emulator/reset", "")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("got status %d, want 204", resp.StatusCode)
		}
		if st := h.srv.Stats(); st.RequestsTotal != 0 || len(st.ResponsesByStatus) != 0 {
			t.Errorf("stats after reset: %+v", st)
		}
		resp, body := h.api(http.MethodGet, "leads/$count", nil)
		if resp.StatusCode != http.StatusOK || string(body) != "0" {
			t.Errorf("leads after reset: got %d %s, want 200 and 0", resp.StatusCode, body)
		}
	})
}

func TestOverviewPage(t *testing.T) {
	h := start(t, nil)
	h.create("leads", map[string]any{"lastname": "Lee", "subject": "<script>alert(1)</script>"})
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL()+"/", nil)
	resp, body := h.send(req)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("got %d %q, want 200 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{"leads", "contacts", "accounts", "(1 rows", "&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("page does not escape row values")
	}
}

func TestCAPersistence(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	onDisk, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatalf("ca.pem not written: %v", err)
	}
	if string(onDisk) != string(first.CACertPEM()) {
		t.Error("ca.pem differs from CACertPEM")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem: %v, mode %v; want it kept private (0600)", err, fi.Mode().Perm())
	}

	second, err := Start(Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if string(second.CACertPEM()) != string(onDisk) {
		t.Error("a restart made a new CA; clients holding ca.pem would break")
	}
	// A client that trusts only the first run's ca.pem reaches the second.
	resp, err := first.Client().Get(second.URL() + "/_emulator/stats")
	if err != nil {
		t.Fatalf("GET with the old CA: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	first.Client().CloseIdleConnections()
}

// TestBlankErrorCodes: with blank_error_codes every Web API error envelope,
// batch parts included, carries "code":"" and keeps its status and message,
// so a client can be tested against the documented examples as well as
// against real orgs; switched off, the codes come back.
func TestBlankErrorCodes(t *testing.T) {
	h := start(t, nil)
	id := h.create("leads", map[string]any{"lastname": "Lee"})
	missing := newGUID()
	errorsOf := func(t *testing.T) (codes []string, messages []string) {
		t.Helper()
		for _, c := range []struct {
			path    string
			headers []string
			status  int
		}{
			{"leads(" + missing + ")", []string{"If-Match", "*"}, http.StatusNotFound},
			{"leads(" + id + ")", []string{"If-None-Match", "*"}, http.StatusPreconditionFailed},
			{"leads(" + id + ")", []string{"If-Match", `W/"1"`}, http.StatusPreconditionFailed},
		} {
			resp, body := h.api(http.MethodPatch, c.path, map[string]any{"subject": "x"}, c.headers...)
			if resp.StatusCode != c.status {
				t.Fatalf("PATCH %s %v: got %d, want %d; body %s", c.path, c.headers, resp.StatusCode, c.status, body)
			}
			if !strings.Contains(string(body), `"code":`) {
				t.Errorf("PATCH %s: the envelope has no code member: %s", c.path, body)
			}
			var e errorBody
			mustUnmarshal(t, body, &e)
			codes, messages = append(codes, e.Error.Code), append(messages, e.Error.Message)
		}
		_, parts := h.batch((&batchBuilder{}).changeSetOf(
			[]string{"PATCH", "leads(" + missing + ")", `{"subject":"x"}`, "If-Match", "*"},
		).body())
		if len(parts) != 1 || parts[0].status != http.StatusNotFound {
			t.Fatalf("batch: got %+v, want one 404 part", parts)
		}
		var e errorBody
		mustUnmarshal(t, []byte(parts[0].body), &e)
		return append(codes, e.Error.Code), append(messages, e.Error.Message)
	}

	wantCodes := []string{codeNotFound, codeDuplicateRecord, codeVersionMismatch, codeNotFound}
	codes, messages := errorsOf(t)
	if strings.Join(codes, ",") != strings.Join(wantCodes, ",") {
		t.Fatalf("codes by default: got %q, want %q", codes, wantCodes)
	}
	if err := h.srv.UpdateConfig([]byte(`{"blank_error_codes":true}`)); err != nil {
		t.Fatal(err)
	}
	blank, blankMessages := errorsOf(t)
	if strings.Join(blank, ",") != ",,," {
		t.Errorf("codes with blank_error_codes: got %q, want all empty", blank)
	}
	if strings.Join(blankMessages, "|") != strings.Join(messages, "|") {
		t.Errorf("messages with blank_error_codes: got %q, want them unchanged %q", blankMessages, messages)
	}
	if !h.srv.config().BlankErrorCodes {
		t.Error("GET config does not report blank_error_codes")
	}
	// Refusals before any operation runs are envelopes too.
	h.srv.UpdateConfig([]byte(`{"faults":{"down":true}}`))
	resp, body := h.api(http.MethodGet, "leads", nil)
	h.srv.UpdateConfig([]byte(`{"faults":{"down":false}}`))
	wantError(t, resp, body, http.StatusServiceUnavailable, "")
	if err := h.srv.UpdateConfig([]byte(`{"blank_error_codes":false}`)); err != nil {
		t.Fatal(err)
	}
	if codes, _ := errorsOf(t); strings.Join(codes, ",") != strings.Join(wantCodes, ",") {
		t.Errorf("codes after switching back: got %q, want %q", codes, wantCodes)
	}
}

// TestCustomizedMaxLength: an org whose admins shortened a column refuses
// what the standard length allows, with Dataverse's length error.
func TestCustomizedMaxLength(t *testing.T) {
	h := start(t, nil)
	if err := h.srv.UpdateConfig([]byte(`{"max_lengths":{"leads":{"jobtitle":20}}}`)); err != nil {
		t.Fatal(err)
	}
	resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "Lee", "jobtitle": "Vice President of Everything"})
	msg := wantError(t, resp, body, http.StatusBadRequest, codeLength)
	if !strings.Contains(msg, "maximum allowed length of '20'") {
		t.Errorf("message %q does not give the org's length", msg)
	}
	h.create("leads", map[string]any{"lastname": "Lee", "jobtitle": "CEO"})
	h.create("contacts", map[string]any{"lastname": "Lee", "jobtitle": "Vice President of Everything"}) // other tables keep theirs
	if err := h.srv.UpdateConfig([]byte(`{"max_lengths":{"leads":{}}}`)); err != nil {
		t.Fatal(err)
	}
	h.create("leads", map[string]any{"lastname": "Lee", "jobtitle": "Vice President of Everything"})
	for _, bad := range []string{`{"max_lengths":{"nope":{"x":1}}}`, `{"max_lengths":{"leads":{"leadsourcecode":5}}}`, `{"max_lengths":{"leads":{"jobtitle":0}}}`} {
		if err := h.srv.UpdateConfig([]byte(bad)); err == nil {
			t.Errorf("config %s was taken", bad)
		}
	}
}

// TestAppCredentialsConfig: certificates and federated credentials are set
// by PUT /_emulator/config, each list replaced whole by a patch, and a
// malformed one is refused, naming it, without changing anything.
func TestAppCredentialsConfig(t *testing.T) {
	h := start(t, nil)
	certPEM := string(h.srv.CACertPEM()) // any certificate will do
	patch, _ := json.Marshal(map[string]any{
		"certificates": []string{certPEM},
		"federated_credentials": []map[string]any{{"name": "aks", "issuer": "https://oidc.example", "subject": "system:serviceaccount:a:b",
			"issuer_keys": []string{certPEM}}},
	})
	if err := h.srv.UpdateConfig(patch); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.UpdateConfig([]byte(`{"federated_credentials":[{"issuer":"https://other.example","subject":"s","issuer_keys":[` + strconv.Quote(certPEM) + `]}]}`)); err != nil {
		t.Fatal(err)
	}
	var got Config
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL()+"/_emulator/config", nil)
	resp, body := h.send(req)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET config: %d %s", resp.StatusCode, body)
	}
	if len(got.Certificates) != 1 || len(got.FederatedCredentials) != 1 || got.FederatedCredentials[0].Issuer != "https://other.example" || got.FederatedCredentials[0].Name != "" {
		t.Errorf("config after two patches: got %d certificates and %+v, want the certificate kept and the federated list replaced whole", len(got.Certificates), got.FederatedCredentials)
	}
	for bad, want := range map[string]string{
		`{"certificates":["not pem"]}`: "certificates[0]",
		`{"federated_credentials":[{"issuer":"i","subject":"s","issuer_keys":["x"]}]}`:               "federated_credentials[0].issuer_keys[0]",
		`{"federated_credentials":[{"issuer":"i","subject":"s"}]}`:                                   "federated_credentials[0].issuer_keys",
		`{"federated_credentials":[{"subject":"s","issuer_keys":[` + strconv.Quote(certPEM) + `]}]}`: "issuer and subject",
	} {
		if err := h.srv.UpdateConfig([]byte(bad)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: got %v, want an error naming %s", bad, err, want)
		}
	}
}
