package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

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
