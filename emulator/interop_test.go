package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
)

// TestInteropDynamicsWebAPI drives the emulator with an unmodified third-party
// Dataverse client (the npm packages dynamics-web-api and @azure/msal-node, see
// interop/), so that any drift from real Dataverse that such a client notices
// fails the suite. The script's own checks run in Node; this test then confirms
// from Go, over the Web API with its own token, that the rows it reports exist.
func TestInteropDynamicsWebAPI(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")

	dir := t.TempDir()
	s, err := emulator.Start(emulator.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// The script upserts by this key, as an org that dedupes leads by email would.
	if err := s.UpdateConfig([]byte(`{"alternate_keys":{"leads":["emailaddress1"]}}`)); err != nil {
		t.Fatalf("define the leads alternate key: %v", err)
	}

	project, err := filepath.Abs("interop")
	if err != nil {
		t.Fatal(err)
	}
	ensureNodeModules(t, npm, project)
	// Read the script and lock file from Go so that go test's result cache
	// knows them as inputs: editing either reruns the test.
	for _, f := range []string{"interop.mjs", "package-lock.json"} {
		if _, err := os.ReadFile(filepath.Join(project, f)); err != nil {
			t.Fatal(err)
		}
	}

	caFile := filepath.Join(dir, "ca.pem")
	if _, err := os.Stat(caFile); err != nil {
		t.Fatalf("emulator did not write its CA where clients expect it: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "interop.mjs")
	cmd.Dir = project
	cmd.Env = append(nodeEnv(),
		"EMULATOR_URL="+s.URL(),
		"EMULATOR_TENANT_ID="+emulator.DefaultTenantID,
		"EMULATOR_CLIENT_ID="+emulator.DefaultClientID,
		"EMULATOR_CLIENT_SECRET="+emulator.DefaultClientSecret,
		"NODE_EXTRA_CA_CERTS="+caFile,
	)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node interop.mjs did not finish within 45s; output so far:\n%s", out)
	}
	if err != nil {
		t.Fatalf("node interop.mjs: %v\n%s", err, out)
	}
	t.Logf("node interop.mjs:\n%s", out)

	var got interopResult
	if err := parseInteropResult(out, &got); err != nil {
		t.Fatal(err)
	}

	// Check from Go, independently of the Node libraries.
	client := caClient(t, caFile)
	token := fetchToken(t, client, s.URL())
	get := func(t *testing.T, path string) map[string]any {
		t.Helper()
		status, body := getJSON(t, client, token, s.URL()+"/api/data/v9.2/"+path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %s", path, status, body)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
		return m
	}

	t.Run("created lead", func(t *testing.T) {
		m := get(t, "leads("+got.LeadID+")?$select=emailaddress1,firstname,jobtitle,subject")
		want := map[string]any{
			"leadid":        got.LeadID,
			"emailaddress1": got.LeadEmail,
			"firstname":     "Zoë",
			"jobtitle":      "Buyer",
			"subject":       "Interop " + got.Run + ": updated",
		}
		assertFields(t, m, want)
	})
	t.Run("upserted lead", func(t *testing.T) {
		m := get(t, "leads("+got.UpsertID+")?$select=subject,lastname")
		assertFields(t, m, map[string]any{"subject": "Interop " + got.Run + ": upsert 2", "lastname": "Upsert"})
	})
	t.Run("lead upserted by alternate key", func(t *testing.T) {
		m := get(t, "leads("+got.KeyLeadID+")?$select=emailaddress1,subject")
		assertFields(t, m, map[string]any{"emailaddress1": got.KeyEmail, "subject": "Interop " + got.Run + ": by key 2"})
	})
	t.Run("deleted lead is gone", func(t *testing.T) {
		status, body := getJSON(t, client, token, s.URL()+"/api/data/v9.2/leads("+got.DeletedLeadID+")?$select=leadid")
		if status != http.StatusNotFound {
			t.Errorf("GET deleted lead: status %d, want 404; body %s", status, body)
		}
	})
	t.Run("lead bound to contact", func(t *testing.T) {
		get(t, "contacts("+got.ContactID+")?$select=lastname")
		m := get(t, "leads("+got.BoundLeadID+")?$select=_parentcontactid_value")
		assertFields(t, m, map[string]any{"_parentcontactid_value": got.ContactID})
	})
	t.Run("batch rows", func(t *testing.T) {
		get(t, "contacts("+got.BatchContactID+")?$select=lastname")
		m := get(t, "leads("+got.BatchBoundLeadID+")?$select=_parentcontactid_value")
		assertFields(t, m, map[string]any{"_parentcontactid_value": got.BatchContactID})
		if len(got.BatchLeadIDs) != 3 {
			t.Fatalf("batch lead ids: got %d, want 3", len(got.BatchLeadIDs))
		}
		for _, id := range append(got.BatchLeadIDs, got.AfterErrorLeadID, got.PlainLeadID) {
			get(t, "leads("+id+")?$select=leadid")
		}
	})
	t.Run("lookups set through $ref", func(t *testing.T) {
		m := get(t, "leads("+got.RefLeadID+")?$select=_parentcontactid_value")
		assertFields(t, m, map[string]any{"_parentcontactid_value": got.ContactID})
		m = get(t, "contacts("+got.ContactID+")?$select=_parentcustomerid_value")
		assertFields(t, m, map[string]any{"_parentcustomerid_value": got.AccountID})
		m = get(t, "leads("+got.BatchRefLeadID+")?$select=_parentcontactid_value")
		assertFields(t, m, map[string]any{"_parentcontactid_value": got.BatchRefContactID})
	})
	t.Run("rolled-back change set left nothing", func(t *testing.T) {
		filter := "emailaddress1 eq '" + strings.ReplaceAll(got.RolledBackEmail, "'", "''") + "'"
		m := get(t, "leads?$select=leadid&$filter="+escapeODataLiteral(filter))
		if rows, _ := m["value"].([]any); len(rows) != 0 {
			t.Errorf("rows for %s: got %v, want none", got.RolledBackEmail, rows)
		}
	})
}

// interopResult is the JSON the script prints after "INTEROP-RESULT ".
type interopResult struct {
	Run               string   `json:"run"`
	LeadID            string   `json:"leadId"`
	LeadEmail         string   `json:"leadEmail"`
	PlainLeadID       string   `json:"plainLeadId"`
	UpsertID          string   `json:"upsertId"`
	KeyLeadID         string   `json:"keyLeadId"`
	KeyEmail          string   `json:"keyEmail"`
	DeletedLeadID     string   `json:"deletedLeadId"`
	ContactID         string   `json:"contactId"`
	BoundLeadID       string   `json:"boundLeadId"`
	AccountID         string   `json:"accountId"`
	RefLeadID         string   `json:"refLeadId"`
	BatchRefLeadID    string   `json:"batchRefLeadId"`
	BatchRefContactID string   `json:"batchRefContactId"`
	BatchContactID    string   `json:"batchContactId"`
	BatchBoundLeadID  string   `json:"batchBoundLeadId"`
	BatchLeadIDs      []string `json:"batchLeadIds"`
	AfterErrorLeadID  string   `json:"afterErrorLeadId"`
	RolledBackEmail   string   `json:"rolledBackEmail"`
}

func parseInteropResult(out []byte, v *interopResult) error {
	const prefix = "INTEROP-RESULT "
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			if err := json.Unmarshal([]byte(line), v); err != nil {
				return fmt.Errorf("parse %s line: %v", prefix, err)
			}
			if v.LeadID == "" || v.UpsertID == "" || v.ContactID == "" || v.BoundLeadID == "" || v.BatchContactID == "" ||
				v.KeyLeadID == "" || v.DeletedLeadID == "" || v.RefLeadID == "" || v.AccountID == "" || v.BatchRefLeadID == "" {
				return fmt.Errorf("%s line lacks ids: %s", prefix, line)
			}
			return nil
		}
	}
	return fmt.Errorf("node interop.mjs exited 0 but printed no %s line:\n%s", prefix, out)
}

// requireTool finds a program on PATH or fails the test with one clear line:
// the interop check is part of the suite and is never skipped.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("interop test needs %s (Node.js 20+ with npm) on PATH: %v", name, err)
	}
	return p
}

// ensureNodeModules runs "npm ci" when the pinned packages are not installed
// at the versions package.json names (absent, or left over from other pins).
func ensureNodeModules(t *testing.T, npm, project string) {
	t.Helper()
	if installedMatchesPins(project) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = project
	cmd.Env = nodeEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", project, err, out)
	}
	if !installedMatchesPins(project) {
		t.Fatalf("npm ci in %s did not install the versions package.json pins", project)
	}
}

func installedMatchesPins(project string) bool {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(project, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil || len(pkg.Dependencies) == 0 {
		return false
	}
	for name, version := range pkg.Dependencies {
		var installed struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(project, "node_modules", filepath.FromSlash(name), "package.json"))
		if err != nil || json.Unmarshal(b, &installed) != nil || installed.Version != version {
			return false
		}
	}
	return true
}

// nodeEnv is the test's environment without settings that would route the
// script elsewhere or switch TLS verification off.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "all_proxy", "node_tls_reject_unauthorized", "node_options", "node_extra_ca_certs":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// caClient trusts only the CA the emulator wrote to its data directory.
func caClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
}

// fetchToken gets a client-credentials token with a plain form POST, as the
// Entra ID v2.0 token endpoint documents it.
func fetchToken(t testing.TB, client *http.Client, base string) string {
	t.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {emulator.DefaultClientID},
		"client_secret": {emulator.DefaultClientSecret},
		"scope":         {base + "/.default"},
	}
	resp, err := client.PostForm(base+"/"+emulator.DefaultTenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: status %d, decode error %v, token_type %q", resp.StatusCode, err, tok.TokenType)
	}
	return tok.AccessToken
}

func getJSON(t testing.TB, client *http.Client, token, u string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	setDataverseHeaders(req, token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp.StatusCode, buf.Bytes()
}

func setDataverseHeaders(req *http.Request, token string) {
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if req.Body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
}

// escapeODataLiteral percent-encodes a $filter value for a query string, with
// '+' as %2B and spaces as %20 as the Dataverse docs ask (url.QueryEscape alone
// would send spaces as '+').
func escapeODataLiteral(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func assertFields(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: got %v, want %v", k, g, w)
		}
	}
}
