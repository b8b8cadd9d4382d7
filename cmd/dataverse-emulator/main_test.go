package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator/devcreds"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"latency_ms":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out testenv.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, env(map[string]string{
			"EMULATOR_ADDR":     "127.0.0.1:0",
			"EMULATOR_DATA_DIR": filepath.Join(dir, "data"),
			"EMULATOR_CONFIG":   cfg,
		}), &out)
	}()
	urlLine := regexp.MustCompile(`DATAVERSE_URL=(https://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for !urlLine.MatchString(out.String()) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed within 10s:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	printed := out.String()
	for _, want := range []string{"AZURE_CLIENT_ID=leadbridge-dev", "AZURE_CLIENT_SECRET=leadbridge-dev-secret", "AZURE_TENANT_ID=emulator-tenant", filepath.Join(dir, "data", "ca.pem")} {
		if !strings.Contains(printed, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, printed)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "ca.pem")); err != nil {
		t.Errorf("ca.pem: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"limits":{"concurrent":-3}}`), 0o600)
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), env(tt.env), &testenv.Buffer{})
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
