package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestRunRefusesBadConfigurationNamingTheVariable(t *testing.T) {
	env := map[string]string{"DATAVERSE_URL": "http://contoso.crm.dynamics.com", "LEADBRIDGE_WORKER_CONCURRENCY": "0"}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
	if err == nil {
		t.Fatal("run with bad settings returned nil")
	}
	for _, want := range []string{"DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "LEADBRIDGE_WORKER_CONCURRENCY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestRunProcessesUntilCancelled(t *testing.T) {
	r := testenv.StartRedis(t)
	emu := testenv.StartEmulator(t)
	env := emu.WorkerEnv()
	env["LEADBRIDGE_REDIS_URL"] = r.URL
	env["LEADBRIDGE_WORKER_ADDR"] = "127.0.0.1:0"
	w := testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, func(k string) string { return env[k] }, io.Discard, ready)
	})
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + w.Addr + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	if emu.Stats().TokensIssued == 0 {
		t.Error("the worker did not check Dataverse (WhoAmI) at start")
	}
	if err := w.Stop(t); err != nil {
		t.Errorf("run after cancel: got %v, want nil", err)
	}
}

// TestRedisHangingLeavesMonitoringAnswering: with Redis stopped (SIGSTOP),
// the worker's /metrics still serves what it can and /readyz says
// unavailable without internal detail — each answered at all, within the
// test's own deadline.
func TestRedisHangingLeavesMonitoringAnswering(t *testing.T) {
	r := testenv.StartRedis(t)
	emu := testenv.StartEmulator(t)
	env := emu.WorkerEnv()
	env["LEADBRIDGE_REDIS_URL"] = r.URL
	env["LEADBRIDGE_WORKER_ADDR"] = "127.0.0.1:0"
	w := testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, func(k string) string { return env[k] }, io.Discard, ready)
	})
	client := &http.Client{Timeout: 30 * time.Second} // the test's deadline, not a bound under test
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + w.Addr + path)
		if err != nil {
			t.Fatalf("GET %s: no answer: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	r.Pause()
	defer r.Resume()
	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, "leadbridge_submissions_last_read_timestamp_seconds") {
		t.Errorf("GET /metrics with Redis hung: got %d, want 200 with leadbridge_submissions_last_read_timestamp_seconds:\n%s", code, body)
	}
	if strings.Contains(body, "leadbridge_submissions{") {
		t.Errorf("GET /metrics with Redis hung: shows record counts it could not read:\n%s", body)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || body != `{"status":"unavailable"}` {
		t.Errorf("GET /readyz with Redis hung: got %d %s, want 503 {\"status\":\"unavailable\"}", code, body)
	}
	r.Resume()
	if err := w.Stop(t); err != nil {
		t.Errorf("run after cancel: got %v, want nil", err)
	}
}

// TestRunRefusesABrokenCertificate: the worker does not start with a
// certificate Entra ID would refuse, and says which variable to fix.
func TestRunRefusesABrokenCertificate(t *testing.T) {
	now := time.Now()
	expired := testenv.NewClientCert(t, "expired", now.Add(-48*time.Hour), now.Add(-time.Hour))
	good := testenv.NewClientCert(t, "good", now.Add(-time.Hour), now.Add(time.Hour))
	base := map[string]string{"DATAVERSE_URL": "https://contoso.crm.dynamics.com", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"expired":        {map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": expired.PEMFile(t)}, "AZURE_CLIENT_CERTIFICATE_PATH: the certificate"},
		"wrong password": {map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": good.PFXFile(t, "right"), "AZURE_CLIENT_CERTIFICATE_PASSWORD": "wrong"}, "AZURE_CLIENT_CERTIFICATE_PASSWORD: wrong password"},
		"also a secret":  {map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": good.PEMFile(t), "AZURE_CLIENT_SECRET": "s"}, "AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH"},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range tc.env {
			env[k] = v
		}
		err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: run returned %v, want an error with %q", name, err, tc.want)
		}
	}
}
