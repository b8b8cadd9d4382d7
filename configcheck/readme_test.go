package configcheck_test

import (
	"os"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// readmeExample is the YAML block that follows intro in README.md.
func readmeExample(t *testing.T, intro string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), intro+"\n\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("README.md has no YAML example after %q", intro)
	}
	return example
}

// The README's examples are what people copy: each must pass the check
// against the emulator's org without a finding.
func TestREADMEExamplesPass(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	for _, intro := range []string{"A complete form:", "The complete mapping example:"} {
		r := check(t, emu, readmeExample(t, intro), map[string]string{"TURNSTILE_SECRET": "s3cret"})
		if !r.OK() || len(r.Findings) != 0 {
			t.Errorf("README's %q: got\n%s\nwant no finding", intro, r)
		}
	}
}
