package testenv

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
)

// Emulator is a Dataverse emulator serving TLS on a free port for one test.
type Emulator struct {
	*emulator.Server
	CAFile string // ca.pem, for LEADBRIDGE_CA_FILE
	t      testing.TB
}

// StartEmulator starts the emulator and closes it when the test ends.
func StartEmulator(t testing.TB) *Emulator {
	t.Helper()
	dir := t.TempDir()
	s, err := emulator.Start(emulator.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Emulator{Server: s, CAFile: filepath.Join(dir, "ca.pem"), t: t}
}

// CertPool trusts the emulator's CA, for clients under test.
func (e *Emulator) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(e.CACertPEM())
	return p
}

// WorkerEnv is the environment that points a worker at this emulator.
func (e *Emulator) WorkerEnv() map[string]string {
	return map[string]string{
		"DATAVERSE_URL":        e.URL(),
		"AZURE_TENANT_ID":      emulator.DefaultTenantID,
		"AZURE_CLIENT_ID":      emulator.DefaultClientID,
		"AZURE_CLIENT_SECRET":  emulator.DefaultClientSecret,
		"AZURE_AUTHORITY_HOST": e.URL(),
		"LEADBRIDGE_CA_FILE":   e.CAFile,
	}
}

// Configure applies a PUT /_emulator/config patch.
func (e *Emulator) Configure(patch string) {
	e.t.Helper()
	if err := e.UpdateConfig([]byte(patch)); err != nil {
		e.t.Fatalf("emulator config %s: %v", patch, err)
	}
}

// SeedRows writes rows into a table the way PUT /_emulator/rows/{set}
// does, tables the Web API only reads (systemusers) included, and returns
// their ids; an invalid row fails the test.
func (e *Emulator) SeedRows(table string, rows ...map[string]any) []string {
	e.t.Helper()
	ids, err := e.Seed(table, rows...)
	if err != nil {
		e.t.Fatalf("seed %s: %v", table, err)
	}
	return ids
}

// Rows reads a table over the Web API, as any client would: a token from
// the token endpoint by a plain form POST, then GET with the query given
// (e.g. "$select=leadid,emailaddress1&$filter=..."). It deliberately uses no
// leadbridge code, so a bug in crm/ cannot hide itself.
func (e *Emulator) Rows(table, query string) []map[string]any {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var all []map[string]any
	next := e.URL() + "/api/data/v9.2/" + table
	if query != "" {
		next += "?" + query
	}
	tok := e.token(ctx)
	for next != "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Prefer", "odata.maxpagesize=5000")
		resp, err := e.Client().Do(req)
		if err != nil {
			e.t.Fatalf("GET %s: %v", next, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			e.t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			e.t.Fatalf("GET %s: decode: %v", next, err)
		}
		all = append(all, page.Value...)
		next = page.NextLink
	}
	return all
}

// Delete deletes one row over the Web API, as a CRM user would, with no
// leadbridge code in the way.
func (e *Emulator) Delete(table, id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := e.URL() + "/api/data/v9.2/" + table + "(" + id + ")"
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	req.Header.Set("Authorization", "Bearer "+e.token(ctx))
	resp, err := e.Client().Do(req)
	if err != nil {
		e.t.Fatalf("DELETE %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		e.t.Fatalf("DELETE %s: %d %s", u, resp.StatusCode, body)
	}
}

func (e *Emulator) token(ctx context.Context) string {
	e.t.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {emulator.DefaultClientID},
		"client_secret": {emulator.DefaultClientSecret},
		"scope":         {e.URL() + "/.default"},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.Authority()+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.Client().Do(req)
	if err != nil {
		e.t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// Eventually polls cond until it returns "" or the deadline passes, then
// fails the test with cond's last words. No sleeps that guess how long work takes.
func Eventually(t testing.TB, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	wait := 10 * time.Millisecond
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		time.Sleep(wait)
		wait = min(wait*2, 250*time.Millisecond)
	}
}

// WriteFile writes a file in a temp dir and returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Errorf-friendly formatting of a row for messages.
func Describe(row map[string]any) string { b, _ := json.Marshal(row); return fmt.Sprint(string(b)) }
