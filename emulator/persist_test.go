package emulator

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPersist: with Options.Persist the rows outlive the process, as
// `make run` needs; a reset empties the file too; without it the file is
// ignored.
func TestPersist(t *testing.T) {
	dir := t.TempDir()
	rowsPath := filepath.Join(dir, rowsFile)
	startIn := func(t *testing.T, persist bool) *harness {
		t.Helper()
		srv, err := Start(Options{Addr: "127.0.0.1:0", DataDir: dir, Persist: persist, Config: &Config{}})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		return attach(t, srv)
	}
	leads := func(h *harness) []string {
		h.t.Helper()
		resp, body := h.api(http.MethodGet, "leads?$select=lastname", nil)
		if resp.StatusCode != http.StatusOK {
			h.t.Fatalf("GET leads: %d %s", resp.StatusCode, body)
		}
		var names []string
		for _, r := range rows(h.t, body) {
			names = append(names, r["lastname"].(string))
		}
		return names
	}

	first := startIn(t, true)
	id := first.create("leads", map[string]any{"lastname": "Kept", "emailaddress1": "kept@example.com", "leadsourcecode": 8})
	// Written soon after the change, without waiting for Close.
	eventually(t, "rows.json holds the new lead", func() bool {
		b, _ := os.ReadFile(rowsPath)
		return strings.Contains(string(b), id)
	})
	if fi, err := os.Stat(rowsPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("rows.json: %v, mode %v; want it private (0600): it holds personal data", err, fi.Mode().Perm())
	}
	first.api(http.MethodPatch, "leads("+id+")", map[string]any{"jobtitle": "Buyer"})
	if err := first.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	second := startIn(t, true)
	resp, body := second.api(http.MethodGet, "leads("+id+")?$select=lastname,emailaddress1,jobtitle,leadsourcecode,createdon", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the lead after a restart: %d %s", resp.StatusCode, body)
	}
	row := object(t, body)
	if row["lastname"] != "Kept" || row["jobtitle"] != "Buyer" || row["leadsourcecode"] != float64(8) || row["createdon"] == nil {
		t.Errorf("after a restart: got %v, want the lead with the update made just before Close", row)
	}
	// Indexes and order are rebuilt: the dedupe query finds it, and a new
	// row comes after it.
	second.create("leads", map[string]any{"lastname": "Later"})
	if got := strings.Join(leads(second), ","); got != "Kept,Later" {
		t.Errorf("leads after a restart: got %s, want Kept,Later in creation order", got)
	}
	resp, body = second.api(http.MethodGet, "leads?$select=leadid&$filter=emailaddress1%20eq%20'KEPT@example.com'", nil)
	if got := rows(t, body); resp.StatusCode != http.StatusOK || len(got) != 1 {
		t.Errorf("dedupe query after a restart: got %d %s, want the one lead", resp.StatusCode, body)
	}

	second.srv.Reset()
	if b, err := os.ReadFile(rowsPath); err != nil || strings.Contains(string(b), id) {
		t.Errorf("rows.json right after a reset: %v; still holds the lead: %v", err, strings.Contains(string(b), id))
	}
	second.create("leads", map[string]any{"lastname": "AfterReset"})
	if err := second.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	third := startIn(t, true)
	if got := strings.Join(leads(third), ","); got != "AfterReset" {
		t.Errorf("leads after reset and restart: got %q, want only AfterReset", got)
	}
	third.srv.Close()

	if off := startIn(t, false); len(leads(off)) != 0 {
		t.Errorf("without Persist the rows file was loaded: %v", leads(off))
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

func TestPersistRefusals(t *testing.T) {
	if _, err := Start(Options{Addr: "127.0.0.1:0", Persist: true}); err == nil || !strings.Contains(err.Error(), "DataDir") {
		t.Errorf("Persist without DataDir: got %v, want an error naming DataDir", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, rowsFile), []byte(`{"format":1,"tables":{"leads":[{"cols":{"leadid":"nope"}}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(Options{Addr: "127.0.0.1:0", DataDir: dir, Persist: true})
	if err == nil || !strings.Contains(err.Error(), rowsFile) {
		t.Errorf("a rows file with a bad id: got %v, want an error naming %s", err, rowsFile)
	}
}
