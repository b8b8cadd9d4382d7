package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestResolveSecret(t *testing.T) {
	file := testenv.WriteFile(t, "secret", "  s3cret\n")
	getenv := Getenv(func(k string) string { return map[string]string{"HOOK": "from-env"}[k] })
	tests := []struct {
		ref, want, err string
	}{
		{ref: "env:HOOK", want: "from-env"},
		{ref: "file:" + file, want: "s3cret"},
		{ref: "env:UNSET", err: "UNSET"},
		{ref: "file:" + filepath.Join(t.TempDir(), "none"), err: "no such file"},
		{ref: "s3cret", err: "never written in the file"},
		{ref: "", err: "never written in the file"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := resolveSecret(tt.ref, getenv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("resolveSecret(%q): got %v, want an error saying %q", tt.ref, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("resolveSecret(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
		})
	}
}
