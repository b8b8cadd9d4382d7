package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator/devcreds"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// startRun runs the program in the test's process until it serves.
func startRun(t *testing.T, environ map[string]string, stdout io.Writer) *testenv.Running {
	t.Helper()
	return testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, env(environ), stdout, ready)
	})
}

// createLead posts a lead to a running program as any client would, with
// the dev credentials and the CA in dataDir, and returns its id.
func createLead(t *testing.T, base, dataDir string) string {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {devcreds.ClientID},
		"client_secret": {devcreds.ClientSecret}, "scope": {base + "/.default"},
	}
	resp, err := client.PostForm(base+"/"+devcreds.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/data/v9.2/leads", strings.NewReader(`{"lastname":"Lee"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("OData-EntityId")
	_, id, _ := strings.Cut(strings.TrimSuffix(loc, ")"), "leads(")
	if resp.StatusCode != http.StatusNoContent || id == "" {
		t.Fatalf("POST leads: %d, OData-EntityId %q", resp.StatusCode, loc)
	}
	return id
}

func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"latency_ms":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var out testenv.Buffer
	r := startRun(t, map[string]string{
		"EMULATOR_ADDR":     "127.0.0.1:0",
		"EMULATOR_DATA_DIR": data,
		"EMULATOR_CONFIG":   cfg,
	}, &out)
	printed := out.String()
	for _, want := range []string{"DATAVERSE_URL=" + r.Addr, "AZURE_CLIENT_ID=leadbridge-dev", "AZURE_CLIENT_SECRET=leadbridge-dev-secret", "AZURE_TENANT_ID=emulator-tenant", filepath.Join(data, "ca.pem")} {
		if !strings.Contains(printed, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, printed)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "ca.pem")); err != nil {
		t.Errorf("ca.pem: %v", err)
	}
	// Rows are kept across restarts unless EMULATOR_PERSIST=false.
	id := createLead(t, r.Addr, data)
	if err := r.Stop(t); err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "rows.json")); err != nil || !strings.Contains(string(b), id) {
		t.Errorf("rows.json after stopping: %v; want it to hold lead %s", err, id)
	}
}

func TestRunWithoutPersist(t *testing.T) {
	data := t.TempDir()
	r := startRun(t, map[string]string{
		"EMULATOR_ADDR":     "127.0.0.1:0",
		"EMULATOR_DATA_DIR": data,
		"EMULATOR_PERSIST":  "false",
	}, io.Discard)
	createLead(t, r.Addr, data)
	if err := r.Stop(t); err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "rows.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rows.json with EMULATOR_PERSIST=false: %v, want none", err)
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"limits":{"concurrent":-3}}`), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "address", env: map[string]string{"EMULATOR_ADDR": "nonsense"}, want: "EMULATOR_ADDR"},
		{name: "tenant", env: map[string]string{"EMULATOR_TENANT_ID": "a/b"}, want: "EMULATOR_TENANT_ID"},
		{name: "missing config file", env: map[string]string{"EMULATOR_CONFIG": filepath.Join(dir, "nope.json")}, want: "EMULATOR_CONFIG"},
		{name: "invalid config", env: map[string]string{"EMULATOR_CONFIG": bad, "EMULATOR_ADDR": "127.0.0.1:0", "EMULATOR_DATA_DIR": dir}, want: "EMULATOR_CONFIG"},
		{name: "log level", env: map[string]string{"EMULATOR_LOG_LEVEL": "loud"}, want: "EMULATOR_LOG_LEVEL"},
		{name: "persist", env: map[string]string{"EMULATOR_PERSIST": "sometimes"}, want: "EMULATOR_PERSIST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), env(tt.env), io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestDocCommentQuotesTheDefaults keeps the environment table of the
// package comment in step with the defaults the program uses.
func TestDocCommentQuotesTheDefaults(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(src), "\npackage main")
	for _, want := range []string{
		"(default " + devcreds.Addr + ")",
		"(default ./" + devcreds.DataDir + ")",
		"(default " + devcreds.TenantID + ")",
		"(default " + devcreds.ClientID + ")",
		"(default " + devcreds.ClientSecret + ")",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the package comment of main.go does not say %q", want)
		}
	}
}
