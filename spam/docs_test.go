package spam_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/spam"
)

// The settings docs/FLOOD.md shows decode, so that a user copying them gets
// a working form; so does the rate_limit mapping shown commented out there.
func TestFloodDocExample(t *testing.T) {
	b, err := os.ReadFile("../docs/FLOOD.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/FLOOD.md has no yaml block")
	}
	// The alternative: the mapping line uncommented in place of the rate.
	alt := regexp.MustCompile(`(?m)^(\s*)rate_limit: 10/minute.*\n\s*# (rate_limit: \{.*\})`).ReplaceAllString(block, "$1$2")
	if alt == block {
		t.Fatal("the rate_limit mapping is no longer shown as an alternative")
	}
	resolve := env(map[string]string{"TURNSTILE_SECRET": "0x4AAA-secret"})
	for name, src := range map[string]string{"as written": block, "with the rate_limit mapping": alt} {
		var doc struct {
			Forms map[string]struct {
				Spam yaml.Node `yaml:"spam"`
			} `yaml:"forms"`
		}
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatalf("%s: YAML: %v", name, err)
		}
		n := doc.Forms["contact-us"].Spam
		cfg, err := spam.DecodeConfig(&n, "forms.contact-us.spam", resolve)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.Captcha == nil || cfg.RateLimits.IPForm.IsZero() || cfg.Honeypot == "" || cfg.MinFill == 0 || cfg.WaitingCap == 0 {
			t.Errorf("%s: decoded %+v, want every setting shown", name, cfg)
		}
	}
}
