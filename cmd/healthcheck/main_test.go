package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestRunPassesOnlyOn2xx(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()

	if err := run(context.Background(), []string{srv.URL + "/readyz"}); err != nil {
		t.Errorf("200: got %v, want nil", err)
	}
	status = http.StatusServiceUnavailable
	if err := run(context.Background(), []string{srv.URL + "/readyz"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: got %v, want an error naming 503", err)
	}
	srv.Close()
	if err := run(context.Background(), []string{srv.URL + "/readyz"}); err == nil {
		t.Error("nothing listening: got nil, want an error")
	}
}

func TestRunPublishesTheCAThatTheEmulatorServesWith(t *testing.T) {
	emu := testenv.StartEmulator(t)
	dest := filepath.Join(t.TempDir(), "ca.pem")
	args := []string{"-ca", emu.CAFile, "-publish-ca", dest, emu.URL() + "/"}

	if err := run(context.Background(), args); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if want := emu.CACertPEM(); !bytes.Equal(got, want) {
		t.Errorf("published %q, want the emulator's CA %q", got, want)
	}
	if b, _ := pem.Decode(got); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("published file is not a PEM certificate: %q", got)
	}
	// Run again, as the health check does every few seconds: still fine.
	if err := run(context.Background(), args); err != nil {
		t.Errorf("second run: got %v, want nil", err)
	}
}

func TestRunPublishesNothingWhenTheServerIsNotSignedByTheCA(t *testing.T) {
	emu := testenv.StartEmulator(t)
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	dest := filepath.Join(t.TempDir(), "ca.pem")

	err := run(context.Background(), []string{"-ca", emu.CAFile, "-publish-ca", dest, other.URL + "/"})
	if err == nil {
		t.Fatal("a server the CA did not sign: got nil, want an error")
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("%s exists (%v); nothing should be published when the check fails", dest, err)
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"http://a", "http://b"},
		{"-publish-ca", "/tmp/x", "http://a"},
		{"-nope", "http://a"},
	} {
		if err := run(context.Background(), args); err == nil {
			t.Errorf("run(%q): got nil, want an error", args)
		}
	}
}
