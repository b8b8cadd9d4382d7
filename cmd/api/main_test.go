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
