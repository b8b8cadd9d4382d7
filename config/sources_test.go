package config_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/webhook"
)

// designSources is the sources: section of shared/DESIGN.md. Its
// github-style source names the built-in demo form, which exists only when
// no file is given, so here it names the file's form instead.
const designSources = `
sources:
  hubspot-workflow:
    kind: hubspot-v3            # standard-webhooks | svix | hubspot-v3 | typeform | calendly |
                                # meta-leadgen | google-ads | unbounce | mailchimp | generic-hmac | token
    secret: env:HUBSPOT_SECRET  # a list is allowed: every listed secret is accepted (rotation)
    form: contact-us            # validation, mapping and delivery settings come from this form
    fields: {email: properties.email.value, first_name: properties.firstname.value}
  github-style:
    kind: generic-hmac          # HMAC-SHA256 of the raw body (optionally "<timestamp>.<body>")
    secret: env:GH_SECRET
    header: X-Hub-Signature-256
    prefix: "sha256="
    encoding: hex               # hex | base64
    timestamp_header: ""        # set to sign "<ts>.<body>" and enforce a ±5 min window
    id_header: X-GitHub-Delivery  # delivery id for idempotency
    form: contact-us
    fields: {email: email, first_name: first_name, last_name: last_name, company: company}
`

func TestLoadAPIAndWorkerReadTheDesignSources(t *testing.T) {
	path := testenv.WriteFile(t, "leadbridge.yaml", designExample+designSources)
	vars := map[string]string{"LEADBRIDGE_CONFIG": path, "HUBSPOT_SECRET": "hs-client-secret", "GH_SECRET": "gh-secret"}
	api, err := config.LoadAPI(env(vars))
	if err != nil {
		t.Fatalf("LoadAPI: %v", err)
	}
	worker, err := config.LoadWorker(env(vars))
	if err != nil {
		t.Fatalf("LoadWorker: %v", err)
	}
	for name, sources := range map[string]map[string]*webhook.Source{"api": api.Sources, "worker": worker.Sources} {
		hs, gh := sources["hubspot-workflow"], sources["github-style"]
		if len(sources) != 2 || hs == nil || gh == nil {
			t.Fatalf("%s sources = %v, want hubspot-workflow and github-style", name, sources)
		}
		if hs.Kind != webhook.KindHubSpotV3 || hs.Form != "contact-us" || len(hs.Secrets) != 1 {
			t.Errorf("%s hubspot-workflow = %s → %s with %d secrets", name, hs.Kind, hs.Form, len(hs.Secrets))
		}
		if gh.Header != "X-Hub-Signature-256" || gh.IDHeader != "X-GitHub-Delivery" {
			t.Errorf("%s github-style header %q id header %q", name, gh.Header, gh.IDHeader)
		}
	}
}

func TestLoadSourcesWithoutAFile(t *testing.T) {
	c, err := config.LoadAPI(env(nil))
	if err != nil || len(c.Sources) != 0 {
		t.Errorf("LoadAPI without LEADBRIDGE_CONFIG: sources %v, %v; want none", c.Sources, err)
	}
}

func TestLoadSourcesRefuses(t *testing.T) {
	const form = "forms:\n  f:\n    fields:\n      email: {column: emailaddress1}\n      last_name: {column: lastname}\n"
	vars := map[string]string{"A": "a-token-of-24-characters", "EMPTY": ""}
	tests := []struct {
		name, sources string
		want          []string
	}{
		{"secret in clear text", "  s: {kind: token, form: f, secret: hunter2hunter2hunter2}", []string{"sources.s.secret: secrets are never written in the file"}},
		{"one clear-text secret in a list", "  s: {kind: token, form: f, secret: [env:A, hunter2hunter2hunter2]}", []string{"sources.s.secret[1]: secrets are never written"}},
		{"secret from an empty variable", "  s: {kind: token, form: f, secret: env:EMPTY}", []string{"sources.s.secret: environment variable EMPTY is empty"}},
		{"secret from a missing file", "  s: {kind: token, form: f, secret: file:/nonexistent/secret}", []string{"sources.s.secret:", "/nonexistent/secret"}},
		{"unknown form", "  s: {kind: token, form: g, secret: env:A}", []string{`sources.s.form: no form "g"`}},
		{"the demo form with a file", "  s: {kind: token, form: demo, secret: env:A}", []string{`sources.s.form: no form "demo"`}},
		{"mapped field not on the form", "  s: {kind: token, form: f, secret: env:A, fields: {email: email, fist_name: first}}",
			[]string{`sources.s.fields.fist_name: form "f" has no field "fist_name" (it has email, last_name)`}},
		{"unknown key", "  s: {kind: token, form: f, secret: env:A, secrte: env:A}", []string{"sources.s.secrte: line"}},
		{"the reserved id form", "  form: {kind: token, form: f, secret: env:A}", []string{`sources.form: the id "form" is reserved`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testenv.WriteFile(t, "f.yaml", form+"sources:\n"+tt.sources+"\n")
			_, err := config.LoadAPI(env(map[string]string{"LEADBRIDGE_CONFIG": path, "A": vars["A"]}))
			wantError(t, err, append(tt.want, path+": sources.")...)
			if err != nil && strings.Contains(err.Error(), vars["A"]) {
				t.Errorf("error %q holds a secret", err)
			}
			if _, werr := config.LoadWorker(env(map[string]string{"LEADBRIDGE_CONFIG": path, "A": vars["A"]})); werr == nil {
				t.Error("LoadWorker accepted what LoadAPI refused")
			}
		})
	}
}

func TestResolveSecret(t *testing.T) {
	file := testenv.WriteFile(t, "secret", "  s3cret\n")
	blank := testenv.WriteFile(t, "blank", "\n")
	getenv := env(map[string]string{"HOOK": "from-env"})
	tests := []struct {
		ref, want, err string
	}{
		{ref: "env:HOOK", want: "from-env"},
		{ref: "file:" + file, want: "s3cret"},
		{ref: "env:UNSET", err: "environment variable UNSET is empty"},
		{ref: "file:" + filepath.Join(t.TempDir(), "none"), err: "no such file"},
		{ref: "file:" + blank, err: "is empty"},
		{ref: "s3cret", err: "never written in the file"},
		{ref: "", err: "never written in the file"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := config.ResolveSecret(tt.ref, getenv)
			if tt.err != "" {
				wantError(t, err, tt.err)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolveSecret(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
		})
	}
}

// Every source the README's Webhooks section gives to copy loads with the
// README's contact-us form, so the page a user copies from cannot drift
// from what the programs accept.
func TestReadmeWebhookExamplesLoad(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, section, _ := strings.Cut(readme, "\n## Webhooks\n")
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := strings.Split(section, "```yaml\n")[1:]
	if len(blocks) < 10 {
		t.Fatalf("found %d YAML examples in the README's Webhooks section, want one per platform", len(blocks))
	}
	// Any variable holds a whsec_ secret, which is long enough for the
	// kinds that take a token too.
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a key of twenty-four byte"))
	getenv := func(string) string { return secret }
	for _, blk := range blocks {
		doc, _, _ := strings.Cut(blk, "```")
		path := testenv.WriteFile(t, "leadbridge.yaml", designExample+doc)
		fs, err := config.LoadForms(path, getenv)
		if err != nil {
			t.Fatal(err)
		}
		if all, err := config.LoadSources(path, getenv, fs); err != nil || len(all) != 1 {
			t.Errorf("README example does not load: %v\n%s", err, doc)
		}
	}
}
