package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// Ann is the person this file looks for; what identifies her is written
// in several ways on purpose.
const (
	annEmailMixed = "Ann.Privacy@Example.com"
	annEmailLower = "ann.privacy@example.com"
	annPhone      = "+1 (555) 010-7788"
	annFirst      = "Annabel"
	annLast       = "Privatova"
	annCompany    = "Zebracorp"
)

// quotesAnn reports whether s holds any of Ann's identifying values: the
// address in any case, the phone number's digits however separated, her
// names and company.
func quotesAnn(s string) bool {
	l := strings.ToLower(s)
	for _, v := range []string{annEmailLower, strings.ToLower(annFirst), strings.ToLower(annLast), strings.ToLower(annCompany),
		"5550107788", "555 010 7788", "555-010-7788", "(555) 010-7788", "555.010.7788"} {
		if strings.Contains(l, v) {
			return true
		}
	}
	return false
}

// linesQuoting returns the lines of out that quote Ann.
func linesQuoting(out string) []string {
	var hits []string
	for _, line := range strings.Split(out, "\n") {
		if quotesAnn(line) {
			hits = append(hits, line)
		}
	}
	return hits
}

// TestNoPersonalDataInLogsOrMetrics runs the api and a worker at debug
// level through what a person's data goes through — a JSON post, a plain
// browser post, a repeat with its Idempotency-Key, an invalid post, a
// webhook lead, an invalid webhook lead, the status API, delivery into the
// emulator — and then finds none of her values in any log line of either
// program nor in their /metrics. Then `worker erase` (the binary) removes
// her from Redis entirely, and another person's records stay.
func TestNoPersonalDataInLogsOrMetrics(t *testing.T) {
	m := startMonitored(t, map[string]string{"LEADBRIDGE_LOG_LEVEL": "debug", "LEADBRIDGE_LOG_FORMAT": "json"})
	ann := map[string]any{"email": annEmailMixed, "first_name": annFirst, "last_name": annLast, "phone": annPhone, "company": annCompany}

	var annIDs []string
	b, _ := json.Marshal(ann)
	req, _ := http.NewRequest(http.MethodPost, m.APIURL+"/f/contact", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "ann-page-view-1")
	code, body := m.do(req)
	if code != http.StatusAccepted {
		t.Fatalf("JSON post: %d %v", code, body)
	}
	first := body["id"].(string)
	annIDs = append(annIDs, first)
	req, _ = http.NewRequest(http.MethodPost, m.APIURL+"/f/contact", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "ann-page-view-1")
	if code, body := m.do(req); code != http.StatusAccepted || body["id"] != first {
		t.Fatalf("repeat with the key: %d %v, want 202 with %s", code, body, first)
	}
	if resp := m.postForm("contact", url.Values{"email": {annEmailMixed}, "last_name": {annLast}, "first_name": {annFirst}, "phone": {annPhone}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("browser post: %d, want 303", resp.StatusCode)
	}
	if code, body := m.postJSON("contact", map[string]any{"email": "Annabel Privatova <not an address>", "last_name": annLast}); code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid post: %d %v", code, body)
	}
	annIDs = append(annIDs, m.postHook(map[string]string{"email": annEmailMixed, "first_name": annFirst, "last_name": annLast, "phone": annPhone}))
	// An invalid webhook lead: kept as failed, with its payload.
	hb := `{"email":"` + annFirst + ` at ` + annCompany + `","last_name":"` + annLast + `","phone":"` + annPhone + `"}`
	req, _ = http.NewRequest(http.MethodPost, m.APIURL+"/hooks/zap", strings.NewReader(hb))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+zapToken)
	if code, body := m.do(req); code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid webhook lead: %d %v", code, body)
	} else {
		annIDs = append(annIDs, body["id"].(string))
	}
	code, body = m.postJSON("contact", map[string]any{"email": "bob@example.org", "last_name": "Other", "phone": "+44 20 7946 0958"})
	if code != http.StatusAccepted {
		t.Fatalf("Bob: %d %v", code, body)
	}
	bob := body["id"].(string)
	for _, id := range append([]string{bob}, annIDs[:2]...) {
		m.waitStatus(id, "delivered", 60*time.Second)
	}
	testenv.Eventually(t, 60*time.Second, func() string { // the browser post's too
		for _, st := range []string{"accepted", "delivering", "retrying"} {
			if n := len(m.list(st)); n > 0 {
				return fmt.Sprintf("%d submissions %s", n, st)
			}
		}
		return ""
	})
	if rows := m.leadsByEmail(annEmailLower); len(rows) != 1 {
		t.Fatalf("Ann's leads in the emulator: %d, want 1", len(rows))
	}

	if hits := linesQuoting(m.API.Output()); len(hits) > 0 {
		t.Errorf("the api's log quotes Ann:\n%s", strings.Join(hits, "\n"))
	}
	if hits := linesQuoting(m.worker.Output()); len(hits) > 0 {
		t.Errorf("the worker's log quotes Ann:\n%s", strings.Join(hits, "\n"))
	}
	if !strings.Contains(m.API.Output(), `"level":"DEBUG"`) && !strings.Contains(m.worker.Output(), `"level":"DEBUG"`) {
		t.Log("note: neither program wrote a debug line in this flow")
	}
	for _, u := range []string{m.APIURL + "/metrics", m.workerURL + "/metrics"} {
		page := getText(t, u)
		if hits := linesQuoting(page); len(hits) > 0 {
			t.Errorf("%s quotes Ann:\n%s", u, strings.Join(hits, "\n"))
		}
		if !strings.Contains(page, "leadbridge_") {
			t.Fatalf("%s has no leadbridge series: the scan shows nothing", u)
		}
	}

	// Erase her with the worker's command, as an operator would.
	if hits := testenv.KeysHolding(t, m.Redis.Client(), quotesAnn); len(hits) < 5 {
		t.Fatalf("before erase Redis holds Ann in only %d keys: the check below shows little", len(hits))
	}
	cmd := exec.CommandContext(context.Background(), filepath.Join(testenv.Binaries(t), "worker"), "erase", "--email", strings.ToUpper(annEmailLower), "--phone", "555 010 7788")
	cmd.Env = []string{"LEADBRIDGE_REDIS_URL=" + m.Redis.URL, "LEADBRIDGE_LOG_LEVEL=debug"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("worker erase: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "erased 4 submissions (3 delivered, 1 failed)") {
		t.Errorf("worker erase printed %q", out)
	}
	if hits := linesQuoting(string(out)); len(hits) > 0 {
		t.Errorf("worker erase's output quotes Ann:\n%s", strings.Join(hits, "\n"))
	}
	// Her names and company are not what erase looks for; her address and
	// number are, and with them every record that held the names.
	if hits := testenv.KeysHolding(t, m.Redis.Client(), quotesAnn); len(hits) > 0 {
		t.Errorf("after erase Redis still holds Ann:\n%s", strings.Join(hits, "\n"))
	}
	for _, id := range annIDs {
		req, _ := http.NewRequest(http.MethodGet, m.APIURL+"/v1/submissions/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		if code, _ := m.do(req); code != http.StatusNotFound {
			t.Errorf("Ann's %s after erase: %d, want 404", id, code)
		}
	}
	if rec := m.submission(bob); rec["status"] != "delivered" {
		t.Errorf("Bob's submission after erase: %v", rec["status"])
	}
}

func getText(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
