package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestRunRefusesBadConfigurationNamingTheVariable(t *testing.T) {
	env := map[string]string{"LEADBRIDGE_ADDR": "nope", "LEADBRIDGE_API_TOKEN": "short"}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
	if err == nil {
		t.Fatal("run with bad settings returned nil")
	}
	for _, want := range []string{"LEADBRIDGE_ADDR", "LEADBRIDGE_API_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	r := testenv.StartRedis(t)
	env := map[string]string{"LEADBRIDGE_ADDR": "127.0.0.1:0", "LEADBRIDGE_REDIS_URL": r.URL}
	a := testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, func(k string) string { return env[k] }, io.Discard, ready)
	})
	resp, err := http.Get("http://" + a.Addr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := a.Stop(t); err != nil {
		t.Errorf("run after cancel: got %v, want nil", err)
	}
}

// TestRedisHangingLeavesMonitoringAnswering: with Redis stopped (SIGSTOP:
// connections open, nothing answered), /metrics still serves what it can,
// /readyz says unavailable without internal detail, and a submission gets
// a 503 — each answered at all, within the test's own deadline.
func TestRedisHangingLeavesMonitoringAnswering(t *testing.T) {
	r := testenv.StartRedis(t)
	env := map[string]string{"LEADBRIDGE_ADDR": "127.0.0.1:0", "LEADBRIDGE_REDIS_URL": r.URL}
	a := testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, func(k string) string { return env[k] }, io.Discard, ready)
	})
	base := "http://" + a.Addr
	client := &http.Client{Timeout: 30 * time.Second} // the test's deadline, not a bound under test
	send := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "key-of-"+body)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: no answer: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// One submission while Redis answers, so the pool and script are warm.
	if code, body := send(http.MethodPost, "/f/demo", `{"last_name":"Lee","email":"ann@example.com"}`); code != http.StatusAccepted {
		t.Fatalf("POST before the hang: got %d %s, want 202", code, body)
	}

	r.Pause()
	defer r.Resume()
	code, body := send(http.MethodGet, "/metrics", "")
	if code != http.StatusOK || !strings.Contains(body, `leadbridge_submissions_total{form="demo",outcome="accepted"} 1`) {
		t.Errorf("GET /metrics with Redis hung: got %d, want 200 with the intake counters:\n%s", code, body)
	}
	if !strings.Contains(body, "leadbridge_submissions_last_read_timestamp_seconds") {
		t.Errorf("GET /metrics with Redis hung: no leadbridge_submissions_last_read_timestamp_seconds:\n%s", body)
	}
	if strings.Contains(body, "leadbridge_submissions{") {
		t.Errorf("GET /metrics with Redis hung: shows record counts it could not read:\n%s", body)
	}
	if code, body := send(http.MethodGet, "/readyz", ""); code != http.StatusServiceUnavailable || body != `{"status":"unavailable"}` {
		t.Errorf("GET /readyz with Redis hung: got %d %s, want 503 {\"status\":\"unavailable\"} and no detail", code, body)
	}
	code, body = send(http.MethodPost, "/f/demo", `{"last_name":"Ng","email":"bo@example.com"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"retry_with_same_idempotency_key":true`) {
		t.Errorf("POST with Redis hung: got %d %s, want 503 telling to resend with the same key", code, body)
	}
	r.Resume()
	if err := a.Stop(t); err != nil {
		t.Errorf("run after cancel: got %v, want nil", err)
	}
}

// TestAPILinksNoDataverseClient: the API only enqueues; only workers talk to
// Dataverse. A package that pulls the client, MSAL or the delivery side into
// this binary breaks that line.
func TestAPILinksNoDataverseClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/leadbridge/leadbridge/crm", "github.com/leadbridge/leadbridge/delivery",
		"github.com/leadbridge/leadbridge/lease", "github.com/leadbridge/leadbridge/throttle",
		"github.com/leadbridge/leadbridge/emulator", "github.com/AzureAD/microsoft-authentication-library-for-go",
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/leadbridge/leadbridge/emulator/devcreds" {
			continue // the dev defaults config shares: constants, no code
		}
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("cmd/api links %s", pkg)
			}
		}
	}
}
