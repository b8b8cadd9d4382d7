package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/webhook"
)

const designExample = `
forms: {}
sources:
  hubspot-workflow:
    kind: hubspot-v3
    secret: env:HUBSPOT_SECRET
    form: contact-us
    fields: {email: properties.email.value, first_name: properties.firstname.value}
  github-style:
    kind: generic-hmac
    secret: env:GH_SECRET
    header: X-Hub-Signature-256
    prefix: "sha256="
    encoding: hex
    timestamp_header: ""
    id_header: X-GitHub-Delivery
    form: demo
    fields: {email: email, first_name: first_name, last_name: last_name, company: company}
  meta:
    kind: meta-leadgen
    secret: [env:META_OLD, env:META_NEW]
    verify_token: env:META_VERIFY
    access_token: env:META_TOKEN
    form: demo
`

func TestLoadSourcesDesignExample(t *testing.T) {
	env := map[string]string{"HUBSPOT_SECRET": "hs", "GH_SECRET": "gh", "META_OLD": "m1", "META_NEW": "m2", "META_VERIFY": "vt", "META_TOKEN": "page-token"}
	all, err := webhook.LoadSources(sourcesNode(t, designExample), resolver(env), testForms)
	if err != nil {
		t.Fatalf("LoadSources: %v", err)
	}
	var ids []string
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if want := []string{"github-style", "hubspot-workflow", "meta"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("sources = %v, want %v", ids, want)
	}

	hs := all["hubspot-workflow"]
	if hs.ID != "hubspot-workflow" || hs.Kind != webhook.KindHubSpotV3 || hs.Form != "contact-us" || len(hs.Secrets) != 1 {
		t.Errorf("hubspot-workflow = %s %s %s %d secrets", hs.ID, hs.Kind, hs.Form, len(hs.Secrets))
	}
	if got := fieldNames(hs); !reflect.DeepEqual(got, []string{"email", "first_name"}) {
		t.Errorf("configured fields = %v; they must replace the defaults, not add to them", got)
	}
	if hs.Fields["email"].String() != "properties.email.value" {
		t.Errorf("email path = %q", hs.Fields["email"])
	}

	gh := all["github-style"]
	if gh.Header != "X-Hub-Signature-256" || gh.Prefix != "sha256=" || gh.Encoding != "hex" || gh.TimestampHeader != "" || gh.IDHeader != "X-GitHub-Delivery" {
		t.Errorf("github-style settings = %q %q %q %q %q", gh.Header, gh.Prefix, gh.Encoding, gh.TimestampHeader, gh.IDHeader)
	}

	m := all["meta"]
	if len(m.Secrets) != 2 || len(m.VerifyTokens) != 1 {
		t.Errorf("meta has %d secrets and %d verify tokens, want 2 and 1", len(m.Secrets), len(m.VerifyTokens))
	}
	if got := fieldNames(m); !slices.Contains(got, "email") || !slices.Contains(got, "company") {
		t.Errorf("meta default fields = %v, want the kind's defaults", got)
	}
}

func fieldNames(s *webhook.Source) []string {
	var names []string
	for n := range s.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestLoadSourcesDefaults(t *testing.T) {
	s := loadSource(t, "kind: generic-hmac\nsecret: env:K\nform: demo\nheader: X-Sig", map[string]string{"K": "k"})
	if s.Encoding != "hex" {
		t.Errorf("encoding = %q, want hex by default", s.Encoding)
	}
	c := loadSource(t, "kind: calendly\nsecret: env:K\nform: demo", map[string]string{"K": "k"})
	if !slices.Contains(c.Events, "invitee.created") || slices.Contains(c.Events, "invitee.canceled") {
		t.Errorf("calendly events = %v", c.Events)
	}
	c = loadSource(t, "kind: calendly\nsecret: env:K\nform: demo\nevents: [invitee.canceled]", map[string]string{"K": "k"})
	if !reflect.DeepEqual(c.Events, []string{"invitee.canceled"}) {
		t.Errorf("configured events = %v, want [invitee.canceled]", c.Events)
	}
}

func TestLoadSourcesSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := loadSource(t, "kind: typeform\nsecret: file:"+path+"\nform: demo", nil)
	if len(s.Secrets) != 1 {
		t.Fatalf("secrets = %d, want 1", len(s.Secrets))
	}
}

func TestLoadSourcesRefuses(t *testing.T) {
	env := map[string]string{"K": "0123456789abcdef", "SHORT": "short", "VT": "vt"}
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"kind missing", "s:\n    secret: env:K\n    form: demo", []string{"sources.s.kind: missing (one of calendly, generic-hmac"}},
		{"kind unknown", "s:\n    kind: stripe\n    secret: env:K\n    form: demo", []string{`sources.s.kind: unknown kind "stripe"`}},
		{"not a mapping", "s: hubspot", []string{"sources.s.kind: a source is a mapping"}},
		{"bad id", "Hub Spot:\n    kind: typeform\n    secret: env:K\n    form: demo", []string{"sources.Hub Spot: a source id is lower-case"}},
		{"clear-text secret", "s:\n    kind: typeform\n    secret: s3cret\n    form: demo", []string{"sources.s.secret: secrets are never written in the file"}},
		{"secret not a string", "s:\n    kind: typeform\n    secret: {a: b}\n    form: demo", []string{`sources.s.secret: must be "env:NAME"`}},
		{"secret missing", "s:\n    kind: typeform\n    form: demo", []string{"sources.s.secret: missing"}},
		{"secret list entry", "s:\n    kind: typeform\n    secret: [env:K, env:UNSET]\n    form: demo", []string{"sources.s.secret[1]: environment variable UNSET is empty"}},
		{"secret empty list", "s:\n    kind: typeform\n    secret: []\n    form: demo", []string{"sources.s.secret: an empty list"}},
		{"token too short", "s:\n    kind: mailchimp\n    secret: env:SHORT\n    form: demo", []string{"sources.s.secret: the secret has 5 characters", "at least 16"}},
		{"whsec not base64", "s:\n    kind: svix\n    secret: env:SHORT\n    form: demo", []string{"sources.s.secret: not a whsec_ secret"}},
		{"form missing", "s:\n    kind: typeform\n    secret: env:K", []string{"sources.s.form: missing"}},
		{"form unknown", "s:\n    kind: typeform\n    secret: env:K\n    form: nope", []string{`sources.s.form: no form "nope"`}},
		{"unknown key", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    secrets: env:K", []string{"sources.s.secrets: line 6: unknown setting (a source takes kind, secret, form, fields, events, rate_limit)"}},
		{"key of another kind", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    prefix: x", []string{"sources.s.prefix: line 6: not a setting of kind typeform"}},
		{"key given twice", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    form: demo", []string{"sources.s.form: line 6: given twice"}},
		{"generic without header", "s:\n    kind: generic-hmac\n    secret: env:K\n    form: demo", []string{"sources.s.header: missing"}},
		{"generic bad encoding", "s:\n    kind: generic-hmac\n    secret: env:K\n    form: demo\n    header: X-Sig\n    encoding: base32", []string{"sources.s.encoding: must be hex or base64"}},
		{"bad header name", "s:\n    kind: generic-hmac\n    secret: env:K\n    form: demo\n    header: \"X Sig:\"", []string{`sources.s.header: "X Sig:" is not a header name`}},
		{"prefix a number", "s:\n    kind: generic-hmac\n    secret: env:K\n    form: demo\n    header: X-Sig\n    prefix: 256", []string{"sources.s.prefix: must be a string"}},
		{"token header and username", "s:\n    kind: token\n    secret: env:K\n    form: demo\n    header: X-Token\n    username: u", []string{"sources.s.username: a token source uses either"}},
		{"meta without verify token", "s:\n    kind: meta-leadgen\n    secret: env:K\n    access_token: env:K\n    form: demo", []string{"sources.s.verify_token: missing"}},
		{"meta clear-text verify token", "s:\n    kind: meta-leadgen\n    secret: env:K\n    access_token: env:K\n    form: demo\n    verify_token: abc", []string{"sources.s.verify_token: secrets are never written"}},
		{"meta without access token", "s:\n    kind: meta-leadgen\n    secret: env:K\n    verify_token: env:VT\n    form: demo", []string{"sources.s.access_token: missing"}},
		{"meta clear-text access token", "s:\n    kind: meta-leadgen\n    secret: env:K\n    verify_token: env:VT\n    access_token: EAAB\n    form: demo", []string{"sources.s.access_token: secrets are never written"}},
		{"meta access token list", "s:\n    kind: meta-leadgen\n    secret: env:K\n    verify_token: env:VT\n    access_token: [env:K]\n    form: demo", []string{"sources.s.access_token: must be one"}},
		{"meta graph over http", "s:\n    kind: meta-leadgen\n    secret: env:K\n    verify_token: env:VT\n    access_token: env:K\n    graph_url: http://graph.example.com\n    form: demo", []string{"sources.s.graph_url: must be https"}},
		{"meta graph with a query", "s:\n    kind: meta-leadgen\n    secret: env:K\n    verify_token: env:VT\n    access_token: env:K\n    graph_url: https://graph.example.com?x=1\n    form: demo", []string{"sources.s.graph_url: \"https://graph.example.com?x=1\" is not a base URL"}},
		{"meta graph version", "s:\n    kind: meta-leadgen\n    secret: env:K\n    verify_token: env:VT\n    access_token: env:K\n    graph_version: \"23\"\n    form: demo", []string{`sources.s.graph_version: "23" is not a Graph API version`}},
		{"hubspot api over http", "s:\n    kind: hubspot-v3\n    secret: env:K\n    api_url: http://api.example.com\n    form: demo", []string{"sources.s.api_url: must be https"}},
		{"graph_url on hubspot", "s:\n    kind: hubspot-v3\n    secret: env:K\n    graph_url: https://graph.example.com\n    form: demo", []string{"sources.s.graph_url: line 5: not a setting of kind hubspot-v3"}},
		{"fields not a mapping", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    fields: [email]", []string{"sources.s.fields: must map form field names to paths"}},
		{"fields empty", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    fields: {}", []string{"sources.s.fields: must map"}},
		{"field path broken", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    fields: {email: \"answers[field.ref=email\"}", []string{`sources.s.fields.email: missing "]" in the brackets at offset 7`}},
		{"field path not a string", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    fields: {email: [a]}", []string{"sources.s.fields.email: must be a path"}},
		{"events not a list", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    events: form_response", []string{"sources.s.events: must be a list"}},
		{"events entry empty", "s:\n    kind: typeform\n    secret: env:K\n    form: demo\n    events: [\"\"]", []string{"sources.s.events[0]: must be an event type"}},
		{
			"every error reported",
			"a:\n    kind: typeform\n    secret: s3cret\n    form: nope\n  b:\n    kind: nope",
			[]string{"sources.a.secret:", "sources.a.form:", "sources.b.kind:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.LoadSources(sourcesNode(t, "sources:\n  "+tt.yml+"\n"), resolver(env), testForms)
			if err == nil {
				t.Fatal("LoadSources = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "sources.") {
					t.Errorf("error line %q does not start with its YAML path", line)
				}
			}
			for _, secret := range []string{env["K"], env["SHORT"], "s3cret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds a secret", err)
				}
			}
		})
	}
}

func TestLoadSourcesNone(t *testing.T) {
	for _, n := range []*yaml.Node{nil, sourcesNode(t, "sources:\n")} {
		all, err := webhook.LoadSources(n, resolver(nil), testForms)
		if err != nil || len(all) != 0 {
			t.Errorf("LoadSources(no sources) = %v, %v; want none and nil", all, err)
		}
	}
	if _, err := webhook.LoadSources(sourcesNode(t, "sources: [a]\n"), resolver(nil), testForms); err == nil || !strings.HasPrefix(err.Error(), "sources: ") {
		t.Errorf("LoadSources(a list) = %v, want an error naming sources", err)
	}
}

// YAML anchors and aliases work as anywhere else in the file.
func TestLoadSourcesAliases(t *testing.T) {
	doc := "common: &c {kind: typeform, secret: env:K, form: demo}\nsources:\n  a: *c\n"
	all, err := webhook.LoadSources(sourcesNode(t, doc), resolver(map[string]string{"K": "k"}), testForms)
	if err != nil || all["a"] == nil {
		t.Fatalf("LoadSources = %v, %v", all, err)
	}
}

// A dumped Source never shows its secrets: not with any fmt verb, not in
// slog, not in JSON.
func TestSecretsAreRedacted(t *testing.T) {
	const secret, token = "super-secret-value-42", "verify-token-value-43"
	const access = "page-access-token-44"
	s := loadSource(t, "kind: meta-leadgen\nsecret: env:K\nverify_token: env:VT\naccess_token: env:AT\nform: demo", map[string]string{"K": secret, "VT": token, "AT": access})
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s))
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("source", "source", s, "secrets", s.Secrets)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("source", "source", *s)
	out = append(out, logged.String())
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	for _, o := range out {
		for _, bad := range []string{secret, token, access, fmt.Sprintf("%x", secret), fmt.Sprint([]byte(secret))} {
			if strings.Contains(o, bad) {
				t.Errorf("dump shows a secret: %s", o)
			}
		}
	}
	if !strings.Contains(string(j), "[redacted]") {
		t.Errorf("JSON = %s, want [redacted] in place of the secrets", j)
	}
}

func TestRetryHorizons(t *testing.T) {
	tests := map[webhook.Kind]time.Duration{
		webhook.KindStandardWebhooks: 76 * time.Hour,
		webhook.KindSvix:             28 * time.Hour,
		webhook.KindHubSpotV3:        72 * time.Hour,
		webhook.KindTypeform:         10 * time.Hour,
		webhook.KindCalendly:         24 * time.Hour,
		webhook.KindMetaLeadgen:      36 * time.Hour,
		webhook.KindGoogleAds:        7 * 24 * time.Hour,
		webhook.KindUnbounce:         7 * 24 * time.Hour,
		webhook.KindMailchimp:        2 * time.Hour,
		webhook.KindGenericHMAC:      72 * time.Hour,
		webhook.KindToken:            72 * time.Hour,
	}
	for k, want := range tests {
		if got := k.RetryHorizon(); got != want {
			t.Errorf("%s.RetryHorizon() = %v, want %v", k, got, want)
		}
	}
}
