package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
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
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("cmd/api links %s", pkg)
			}
		}
	}
}
