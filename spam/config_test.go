package spam_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/spam"
)

// env is a resolver over a fixed environment, refusing clear text as
// config.ResolveSecret does.
func env(vars map[string]string) func(string) (string, error) {
	return func(ref string) (string, error) {
		name, ok := strings.CutPrefix(ref, "env:")
		if !ok {
			return "", errors.New("only env: in this test")
		}
		if vars[name] == "" {
			return "", fmt.Errorf("environment variable %s is empty", name)
		}
		return vars[name], nil
	}
}

var testEnv = env(map[string]string{"TURNSTILE_SECRET": "0x4AAA-turnstile-secret", "RECAPTCHA_SECRET": "6Lc-recaptcha-secret"})

// decode reads src, the value of a form's spam key.
func decode(t *testing.T, src string) (spam.Config, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	return spam.DecodeConfig(&doc, "forms.contact-us.spam", testEnv)
}

func TestDecodeDesignExample(t *testing.T) {
	// The shape DESIGN.md shows, plus the site key the widget needs.
	cfg, err := decode(t, `{honeypot: website_url, min_seconds: 2, rate_limit: 10/minute,
           captcha: {provider: turnstile, site_key: 0x4AAAAAAAB, secret: env:TURNSTILE_SECRET}}`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Honeypot != "website_url" || cfg.MinFill != 2*time.Second {
		t.Errorf("honeypot %q, min fill %s; want website_url, 2s", cfg.Honeypot, cfg.MinFill)
	}
	want := flood.Limits{IPForm: flood.Rate{N: 10, Per: time.Minute}, Token: spam.DefaultTokenRate}
	if cfg.RateLimits != want {
		t.Errorf("rate limits %+v, want %+v (per client on this form, and the default per token)", cfg.RateLimits, want)
	}
	c := cfg.Captcha
	if c == nil || c.Provider != spam.Turnstile || c.SiteKey != "0x4AAAAAAAB" || c.Secret != "0x4AAA-turnstile-secret" {
		t.Fatalf("captcha %+v, want turnstile with its site key and the resolved secret", c)
	}
	if c.OnUnavailable != "" || c.VerifyURL != "" {
		t.Errorf("captcha %+v: want the defaults", c)
	}
}

func TestDecodeEverySetting(t *testing.T) {
	cfg, err := decode(t, `
honeypot: hp
min_seconds: 1.5
rate_limit: {per_ip: 5/minute, per_form: 1000/hour, per_token: 3/hour}
waiting_cap: 5000
captcha:
  provider: recaptcha-v3
  site_key: 6Lc-site
  secret: env:RECAPTCHA_SECRET
  threshold: 0.7
  action: contact
  on_unavailable: hold
`)
	if err != nil {
		t.Fatal(err)
	}
	want := spam.Config{
		Honeypot: "hp", MinFill: 1500 * time.Millisecond, WaitingCap: 5000,
		RateLimits: flood.Limits{IPForm: flood.Rate{N: 5, Per: time.Minute}, Form: flood.Rate{N: 1000, Per: time.Hour}, Token: flood.Rate{N: 3, Per: time.Hour}},
	}
	got := cfg
	got.Captcha = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config\n got %+v\nwant %+v", got, want)
	}
	wantCaptcha := spam.Captcha{Provider: spam.RecaptchaV3, SiteKey: "6Lc-site", Secret: "6Lc-recaptcha-secret",
		Threshold: 0.7, Action: "contact", OnUnavailable: spam.OnUnavailableHold}
	if *cfg.Captcha != wantCaptcha {
		t.Errorf("captcha\n got %+v\nwant %+v", *cfg.Captcha, wantCaptcha)
	}
}

func TestDecodeDefaults(t *testing.T) {
	for name, src := range map[string]string{"null": "null", "empty mapping": "{}"} {
		cfg, err := decode(t, src)
		if err != nil || cfg.Honeypot != "" || cfg.MinFill != 0 || cfg.Captcha != nil || cfg.RateLimits != (flood.Limits{}) {
			t.Errorf("%s: got %+v, %v; want the zero Config", name, cfg, err)
		}
	}
	if cfg, _ := spam.DecodeConfig(nil, "x", testEnv); cfg.Captcha != nil {
		t.Error("nil node: want the zero Config")
	}
	cfg, err := decode(t, "{captcha: {provider: recaptcha-v3, site_key: k, secret: env:RECAPTCHA_SECRET}}")
	if err != nil || cfg.Captcha.Threshold != spam.DefaultThreshold {
		t.Errorf("v3 without threshold: %+v, %v; want %v", cfg.Captcha, err, spam.DefaultThreshold)
	}
	cfg, err = decode(t, "{rate_limit: 10/minute}")
	if err != nil || !cfg.RateLimits.Token.IsZero() || cfg.RateLimitOff {
		t.Errorf("no min_seconds: per-token limit %v, %v; want none (no token is checked)", cfg.RateLimits.Token, err)
	}
	cfg, err = decode(t, "{rate_limit: off, min_seconds: 1}")
	if err != nil || !cfg.RateLimitOff || cfg.RateLimits.IPForm != (flood.Rate{}) || cfg.RateLimits.Token != spam.DefaultTokenRate {
		t.Errorf("rate_limit: off: %+v, %v; want off, with the per-token limit of min_seconds kept", cfg, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	const p = "forms.contact-us.spam"
	cases := []struct {
		name string
		src  string
		want []string // each must appear in the error
	}{
		{"not a mapping", "[honeypot]", []string{p + ": must be a mapping"}},
		{"unknown key", "{honeypott: x}", []string{p + `.honeypott: line 1: unknown setting`}},
		{"repeated key", "{honeypot: a, honeypot: b}", []string{p + ".honeypot: line 1: given twice"}},
		{"honeypot not a name", "{honeypot: 'a b'}", []string{p + ".honeypot: must be a field name"}},
		{"honeypot a number", "{honeypot: 5}", []string{p + ".honeypot: must be a field name"}},
		{"honeypot reserved", "{honeypot: _lb_token}", []string{p + ".honeypot: ", "leadbridge's own"}},
		{"min_seconds text", "{min_seconds: two}", []string{p + ".min_seconds: must be a number of seconds"}},
		{"min_seconds negative", "{min_seconds: -1}", []string{p + ".min_seconds: "}},
		{"min_seconds huge", "{min_seconds: 86400}", []string{p + ".min_seconds: "}},
		{"bad rate", "{rate_limit: 10/minutes}", []string{p + `.rate_limit: "10/minutes" is not a rate`}},
		{"rate a number", "{rate_limit: 10}", []string{p + ".rate_limit: must be a rate"}},
		{"unknown rate key", "{rate_limit: {per_user: 1/hour}}", []string{p + ".rate_limit.per_user: line 1: unknown setting (want per_ip, per_form, per_token)"}},
		{"bad per_form", "{rate_limit: {per_form: lots}}", []string{p + `.rate_limit.per_form: "lots" is not a rate`}},
		{"waiting_cap zero", "{waiting_cap: 0}", []string{p + ".waiting_cap: must be a whole number"}},
		{"waiting_cap float", "{waiting_cap: 1.5}", []string{p + ".waiting_cap: "}},
		{"captcha not a mapping", "{captcha: turnstile}", []string{p + ".captcha: must be a mapping"}},
		{"captcha empty", "{captcha: {}}", []string{
			p + ".captcha.provider: missing (one of turnstile, hcaptcha, recaptcha-v2, recaptcha-v3)",
			p + ".captcha.site_key: missing", p + ".captcha.secret: missing"}},
		{"unknown provider", "{captcha: {provider: recaptcha, site_key: k, secret: env:TURNSTILE_SECRET}}",
			[]string{p + `.captcha.provider: unknown provider "recaptcha" (want one of turnstile, hcaptcha, recaptcha-v2, recaptcha-v3)`}},
		{"unknown captcha key", "{captcha: {provider: turnstile, site_key: k, secret: env:TURNSTILE_SECRET, verify_url: x}}",
			[]string{p + ".captcha.verify_url: line 1: unknown setting"}},
		{"threshold for v2", "{captcha: {provider: recaptcha-v2, site_key: k, secret: env:RECAPTCHA_SECRET, threshold: 0.5}}",
			[]string{p + ".captcha.threshold: only recaptcha-v3 gives a score"}},
		{"threshold above 1", "{captcha: {provider: recaptcha-v3, site_key: k, secret: env:RECAPTCHA_SECRET, threshold: 5}}",
			[]string{p + ".captcha.threshold: must be a score from 0 to 1"}},
		{"action for hcaptcha", "{captcha: {provider: hcaptcha, site_key: k, secret: env:TURNSTILE_SECRET, action: x}}",
			[]string{p + ".captcha.action: only recaptcha-v3 and turnstile"}},
		{"bad on_unavailable", "{captcha: {provider: hcaptcha, site_key: k, secret: env:TURNSTILE_SECRET, on_unavailable: drop}}",
			[]string{p + ".captcha.on_unavailable: must be accept or hold"}},
		{"secret from an empty variable", "{captcha: {provider: hcaptcha, site_key: k, secret: env:HCAPTCHA_SECRET}}",
			[]string{p + ".captcha.secret: environment variable HCAPTCHA_SECRET is empty"}},
		{"several errors at once", "{honeypot: 1, min_seconds: x, captcha: {provider: nope}}", []string{
			p + ".honeypot: ", p + ".min_seconds: ", p + ".captcha.provider: ", p + ".captcha.site_key: ", p + ".captcha.secret: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decode(t, c.src)
			if err == nil {
				t.Fatal("nil error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// A secret written in clear text is refused before the resolver sees it,
// and the error does not repeat it (the error ends up in logs).
func TestDecodeRefusesClearTextSecret(t *testing.T) {
	for _, src := range []string{
		"{captcha: {provider: turnstile, site_key: k, secret: 0x4AAAAAAA-clear-text}}",
		"{captcha: {provider: turnstile, site_key: k, secret: [env:A, env:B]}}",
	} {
		called := false
		var doc yaml.Node
		yaml.Unmarshal([]byte(src), &doc)
		_, err := spam.DecodeConfig(&doc, "forms.f.spam", func(string) (string, error) { called = true; return "x", nil })
		if err == nil || !strings.Contains(err.Error(), "forms.f.spam.captcha.secret: secrets are never written in the file") {
			t.Errorf("%s: error %v, want the clear-text refusal", src, err)
		}
		if err != nil && strings.Contains(err.Error(), "clear-text") {
			t.Errorf("error %q repeats the secret", err)
		}
		if called {
			t.Errorf("%s: the resolver was called with a clear-text secret", src)
		}
	}
}
