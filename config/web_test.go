package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// websiteExample is the README's complete form, as a user would copy it.
func websiteExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "A complete form:\n\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no complete form example after \"A complete form:\"")
	}
	return example
}

func TestLoadFormsWebsiteExample(t *testing.T) {
	path := testenv.WriteFile(t, "leadbridge.yaml", websiteExample(t))
	set, err := config.LoadForms(path, env(map[string]string{"TURNSTILE_SECRET": "s3cret"}))
	if err != nil {
		t.Fatalf("the README example does not load: %v", err)
	}
	f := set["contact-us"]
	if f.Title != "Contact us" || f.Titles["de"] != "Kontakt" || f.Intro["de"] == "" || f.SubmitLabel["de"] != "Absenden" {
		t.Errorf("texts: title %q %v intro %v submit %v", f.Title, f.Titles, f.Intro, f.SubmitLabel)
	}
	if got := strings.Join(f.Languages(), ","); got != "en,de" {
		t.Errorf("languages = %s, want en,de", got)
	}
	if f.Spam.Honeypot != "website_url" || f.Spam.MinFill != 2*time.Second || f.Spam.WaitingCap != 5000 ||
		f.Spam.RateLimits.IPForm != (flood.Rate{N: 5, Per: time.Minute}) || f.Spam.Captcha == nil || string(f.Spam.Captcha.Secret) != "s3cret" {
		t.Errorf("spam = %+v", f.Spam)
	}
	ind, _ := f.Field("industry")
	if ind.Control != forms.ControlSelect || !ind.Choice() || len(ind.Options) != 2 || ind.Options[1].Label["de"] != "Einzelhandel" {
		t.Errorf("industry = %+v", ind)
	}
	role, _ := f.Field("buying_role")
	if role.Control != forms.ControlRadio || role.Choice() || role.Options[0].Value != "decision-maker" || role.Options[0].Label["en"] != "I decide" {
		t.Errorf("buying_role = %+v", role)
	}
	utm, _ := f.Field("utm_source")
	if utm.Role != forms.RoleAttribution || utm.Param != "utm_source" {
		t.Errorf("utm_source = %+v", utm)
	}
	consent, ok := f.ConsentField()
	if !ok || consent.Name != "consent" || consent.Column != "donotbulkemail" || len(consent.Also) != 1 || f.Consent.Version != "2026-03" {
		t.Errorf("consent = %+v, %+v", consent, f.Consent)
	}
	if phone, _ := f.Field("phone"); phone.Help["de"] == "" || phone.Control != forms.ControlTel {
		t.Errorf("phone = %+v", phone)
	}
}

func TestLoadFormsRateLimitDefaults(t *testing.T) {
	const fields = "\n    fields:\n      email: {column: emailaddress1}\n"
	path := testenv.WriteFile(t, "f.yaml", "forms:\n  plain:"+fields+"  off:\n    spam: {rate_limit: off}"+fields+"  own:\n    spam: {rate_limit: 3/minute}"+fields)
	set, err := config.LoadForms(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if l := set["plain"].Spam.RateLimits; l.IPForm != config.DefaultRateIPForm || l.Form != config.DefaultRateForm {
		t.Errorf("a form without rate_limit: %+v, want the defaults", l)
	}
	if l := set["off"].Spam.RateLimits; l != (flood.Limits{}) || !set["off"].Spam.RateLimitOff {
		t.Errorf("rate_limit: off: %+v, want none", l)
	}
	if l := set["own"].Spam.RateLimits; l.IPForm != (flood.Rate{N: 3, Per: time.Minute}) || !l.Form.IsZero() {
		t.Errorf("rate_limit: 3/minute: %+v", l)
	}
	demo, err := config.LoadForms("", env(nil))
	if err != nil || demo["demo"].Spam.RateLimits != (flood.Limits{}) {
		t.Errorf("demo form: %+v, %v; want no rate limits", demo["demo"].Spam, err)
	}
}

func TestLoadFormsRefusesWebsiteSettings(t *testing.T) {
	const fields = "\n    fields:\n      email: {column: emailaddress1}"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"label neither text nor mapping", "forms:\n  f:\n    fields:\n      email: {column: emailaddress1, label: [a, b]}", []string{"forms.f.fields.email", "mapping of language to text"}},
		{"label language not a tag", "forms:\n  f:\n    fields:\n      email: {column: emailaddress1, label: {english: Email}}", []string{"forms.f.fields.email.label", `"english"`}},
		{"select without options", "forms:\n  f:" + fields + "\n      i: {type: select, column: industrycode}", []string{"forms.f.fields.i.options"}},
		{"option list with an unknown key", "forms:\n  f:" + fields + "\n      i: {type: select, options: [{label: A, valu: 1}]}", []string{"forms.f.fields.i", `"valu"`}},
		{"option value a mapping", "forms:\n  f:" + fields + "\n      i: {type: select, options: {A: {x: 1}}}", []string{"forms.f.fields.i", "option \"A\""}},
		{"hidden without value or param", "forms:\n  f:" + fields + "\n      h: {type: hidden}", []string{"forms.f.fields.h.value"}},
		{"unknown message", "forms:\n  f:\n    messages: {sumbit: Go}" + fields, []string{"forms.f.messages.sumbit"}},
		{"misspelt consent key", "forms:\n  f:\n    consent: {txt: x}" + fields, []string{"txt"}},
		{"consent field missing", "forms:\n  f:\n    consent: {field: ok}" + fields, []string{"forms.f.consent.field"}},
		{"spam key misspelt", "forms:\n  f:\n    spam: {honeypott: x}" + fields, []string{"forms.f.spam.honeypott"}},
		{"captcha secret in clear", "forms:\n  f:\n    spam: {captcha: {provider: turnstile, site_key: k, secret: hunter2}}" + fields, []string{"forms.f.spam.captcha.secret", "never written in the file"}},
		{"captcha secret variable empty", "forms:\n  f:\n    spam: {captcha: {provider: turnstile, site_key: k, secret: env:EMPTY}}" + fields, []string{"forms.f.spam.captcha.secret", "EMPTY"}},
		{"honeypot named like a field", "forms:\n  f:\n    spam: {honeypot: email}" + fields, []string{"forms.f.spam.honeypot"}},
		{"origin with a path", "forms:\n  f:\n    allowed_origins: [https://www.example.com/form]" + fields, []string{"forms.f.allowed_origins"}},
		{"frame ancestor with a path", "forms:\n  f:\n    frame_ancestors: [https://www.example.com/x]" + fields, []string{"forms.f.frame_ancestors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testenv.WriteFile(t, "f.yaml", tt.yaml)
			_, err := config.LoadForms(path, env(nil))
			wantError(t, err, append([]string{path}, tt.want...)...)
		})
	}
}

func TestLoadAPIWebSettings(t *testing.T) {
	key := strings.Repeat("k", 32)
	c, err := config.LoadAPI(env(map[string]string{
		"LEADBRIDGE_PUBLIC_URL":         "https://leads.example.com/",
		"LEADBRIDGE_FORM_TOKEN_KEYS":    strings.Repeat("n", 40) + "," + key,
		"LEADBRIDGE_RATE_LIMIT_IP":      "100/hour",
		"LEADBRIDGE_WAITING_CAP":        "50",
		"LEADBRIDGE_REDIS_MEMORY_LIMIT": "512MB",
	}))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Web
	if w.PublicURL != "https://leads.example.com" || len(w.FormTokenKeys) != 2 || w.GeneratedKeys ||
		w.RateLimitIP != (flood.Rate{N: 100, Per: time.Hour}) || w.WaitingCap != 50 || w.RedisMemoryLimit != 512<<20 || len(w.LimiterSecret) != 32 {
		t.Errorf("web = %+v", w)
	}
	d, err := config.LoadAPI(env(nil))
	if err != nil || !d.Web.GeneratedKeys || d.Web.RateLimitIP != config.DefaultRateLimitIP || d.Web.WaitingCap != config.DefaultWaitingCap {
		t.Errorf("defaults = %+v, %v", d.Web, err)
	}
	// Adding a new key first keeps the limiter's counts.
	e, _ := config.LoadAPI(env(map[string]string{"LEADBRIDGE_FORM_TOKEN_KEYS": key}))
	if string(e.Web.LimiterSecret) != string(w.LimiterSecret) {
		t.Error("limiter secret changed when a new key was added first")
	}
	keyFile := testenv.WriteFile(t, "keys", strings.Repeat("f", 32)+"\n\n"+key+"\n")
	f, err := config.LoadAPI(env(map[string]string{"LEADBRIDGE_FORM_TOKEN_KEYS_FILE": keyFile}))
	if err != nil || len(f.Web.FormTokenKeys) != 2 {
		t.Errorf("keys from a file: %d, %v", len(f.Web.FormTokenKeys), err)
	}
}

func TestLoadAPIRefusesWebSettings(t *testing.T) {
	minFill := testenv.WriteFile(t, "f.yaml", "forms:\n  f:\n    spam: {min_seconds: 2}\n    fields:\n      email: {column: emailaddress1}\n")
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"LEADBRIDGE_PUBLIC_URL": "leads.example.com"}, []string{"LEADBRIDGE_PUBLIC_URL"}},
		{map[string]string{"LEADBRIDGE_PUBLIC_URL": "https://leads.example.com/?x=1"}, []string{"LEADBRIDGE_PUBLIC_URL"}},
		{map[string]string{"LEADBRIDGE_FORM_TOKEN_KEYS": "short"}, []string{"LEADBRIDGE_FORM_TOKEN_KEYS", "at least 32"}},
		{map[string]string{"LEADBRIDGE_FORM_TOKEN_KEYS": strings.Repeat("k", 32), "LEADBRIDGE_FORM_TOKEN_KEYS_FILE": "/x"}, []string{"set one, not both"}},
		{map[string]string{"LEADBRIDGE_FORM_TOKEN_KEYS_FILE": "/nonexistent/keys"}, []string{"LEADBRIDGE_FORM_TOKEN_KEYS_FILE"}},
		{map[string]string{"LEADBRIDGE_CONFIG": minFill}, []string{"LEADBRIDGE_FORM_TOKEN_KEYS", "forms.f.spam.min_seconds"}},
		{map[string]string{"LEADBRIDGE_RATE_LIMIT_IP": "lots"}, []string{"LEADBRIDGE_RATE_LIMIT_IP"}},
		{map[string]string{"LEADBRIDGE_WAITING_CAP": "0"}, []string{"LEADBRIDGE_WAITING_CAP"}},
		{map[string]string{"LEADBRIDGE_REDIS_MEMORY_LIMIT": "lots"}, []string{"LEADBRIDGE_REDIS_MEMORY_LIMIT"}},
		{map[string]string{"LEADBRIDGE_CAPTCHA_VERIFY_URL": "ftp://x"}, []string{"LEADBRIDGE_CAPTCHA_VERIFY_URL"}},
	}
	for _, tt := range tests {
		_, err := config.LoadAPI(env(tt.env))
		wantError(t, err, tt.want...)
	}
}

// The worker loads the same file, captcha and all, without the secrets:
// it verifies no captcha.
func TestLoadWorkerNeedsNoCaptchaSecret(t *testing.T) {
	path := testenv.WriteFile(t, "f.yaml", "forms:\n  f:\n    spam: {captcha: {provider: turnstile, site_key: k, secret: env:TURNSTILE_SECRET}}\n    fields:\n      email: {column: emailaddress1}\n")
	if _, err := config.LoadWorker(env(map[string]string{"LEADBRIDGE_CONFIG": path})); err != nil {
		t.Errorf("LoadWorker: %v", err)
	}
	if _, err := config.LoadAPI(env(map[string]string{"LEADBRIDGE_CONFIG": path})); err == nil || !strings.Contains(err.Error(), "TURNSTILE_SECRET") {
		t.Errorf("LoadAPI without the secret: %v, want an error naming TURNSTILE_SECRET", err)
	}
}
