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
	client, token := apiClient(t, base, dataDir)
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/data/v9.2/leads", strings.NewReader(`{"lastname":"Lee"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
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

// apiGet reads a collection from a running program.
func apiGet(t *testing.T, base, dataDir, path string) []map[string]any {
	t.Helper()
	client, token := apiClient(t, base, dataDir)
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/data/v9.2/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
	}
	return page.Value
}

// apiClient is a client that trusts the CA in dataDir, and a token from
// the program's token endpoint with the dev credentials.
func apiClient(t *testing.T, base, dataDir string) (*http.Client, string) {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
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
	return client, tok.AccessToken
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

// TestRunSeeds: EMULATOR_SEED's rows are there once the program serves,
// and the same seed applied on a restart replaces them rather than adding.
func TestRunSeeds(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.json")
	os.WriteFile(seed, []byte(`{
		"campaigns": [{"campaignid": "7b0e8c1a-0000-4000-8000-000000000001", "name": "Spring", "codename": "SPRING"}],
		"systemusers": [{"systemuserid": "7b0e8c1a-0000-4000-8000-000000000002", "firstname": "Jun", "lastname": "Ito", "domainname": "jun@contoso.example"}]
	}`), 0o600)
	data := filepath.Join(dir, "data")
	environ := map[string]string{"EMULATOR_ADDR": "127.0.0.1:0", "EMULATOR_DATA_DIR": data, "EMULATOR_SEED": seed}
	for range 2 { // the second start finds the rows kept from the first
		r := startRun(t, environ, io.Discard)
		users := apiGet(t, r.Addr, data, "systemusers?$select=fullname&$filter=lastname%20eq%20'Ito'")
		campaigns := apiGet(t, r.Addr, data, "campaigns?$select=name&$filter=codename%20eq%20'SPRING'")
		if len(users) != 1 || len(campaigns) != 1 || users[0]["fullname"] != "Jun Ito" {
			t.Errorf("seeded rows: got users %v and campaigns %v, want one of each", users, campaigns)
		}
		if err := r.Stop(t); err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"limits":{"concurrent":-3}}`), 0o600)
	badSeed := filepath.Join(dir, "seed-table.json")
	os.WriteFile(badSeed, []byte(`{"sdkmessages":[{"name":"Mine"}]}`), 0o600)
	badRow := filepath.Join(dir, "seed-row.json")
	os.WriteFile(badRow, []byte(`{"leads":[{"lastname":"Lee","leadsourcecode":99}]}`), 0o600)
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
		{name: "seed that is not JSON", env: map[string]string{"EMULATOR_SEED": bad + "x"}, want: "EMULATOR_SEED"},
		{name: "seed of a table that cannot be seeded", env: map[string]string{"EMULATOR_SEED": badSeed, "EMULATOR_ADDR": "127.0.0.1:0", "EMULATOR_DATA_DIR": dir}, want: "EMULATOR_SEED"},
		{name: "seed with an invalid row", env: map[string]string{"EMULATOR_SEED": badRow, "EMULATOR_ADDR": "127.0.0.1:0", "EMULATOR_DATA_DIR": dir}, want: "EMULATOR_SEED"},
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
