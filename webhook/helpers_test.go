package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/webhook"
)

// testForms are the forms the test configurations may name.
var testForms = []string{"demo", "contact-us"}

// resolver resolves env: references from env and file: references from
// disk, and refuses anything else, like config.ResolveSecret.
func resolver(env map[string]string) func(string) (string, error) {
	return func(ref string) (string, error) {
		switch {
		case strings.HasPrefix(ref, "env:"):
			v := env[strings.TrimPrefix(ref, "env:")]
			if v == "" {
				return "", errors.New("environment variable " + strings.TrimPrefix(ref, "env:") + " is empty")
			}
			return v, nil
		case strings.HasPrefix(ref, "file:"):
			b, err := os.ReadFile(strings.TrimPrefix(ref, "file:"))
			return strings.TrimSpace(string(b)), err
		}
		return "", errors.New(`secrets are never written in the file: use "env:NAME" or "file:/path"`)
	}
}

// sourcesNode parses a YAML document and returns its sources node.
func sourcesNode(t testing.TB, doc string) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "sources" {
			return m.Content[i+1]
		}
	}
	t.Fatal("test YAML has no sources")
	return nil
}

// loadSource loads one source, "s", from the settings in yml (indented as
// the lines under "  s:").
func loadSource(t testing.TB, yml string, env map[string]string) *webhook.Source {
	t.Helper()
	all, err := webhook.LoadSources(sourcesNode(t, "sources:\n  s:\n"+indent(yml)), resolver(env), testForms)
	if err != nil {
		t.Fatalf("LoadSources: %v", err)
	}
	return all["s"]
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "    " + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n") + "\n"
}

// Signers, written from webhooks.md and independent of the package's code.

func hmacSHA256(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func whsecKey(t testing.TB, secret string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("test secret: %v", err)
	}
	return k
}

func signStandard(t testing.TB, h http.Header, prefix, secret, id string, ts time.Time, body string) {
	t.Helper()
	sec := strconv.FormatInt(ts.Unix(), 10)
	h.Set(prefix+"-Id", id)
	h.Set(prefix+"-Timestamp", sec)
	h.Set(prefix+"-Signature", "v1,"+b64(hmacSHA256(whsecKey(t, secret), id, ".", sec, ".", body)))
}

func signHubSpotV3(h http.Header, secret, method, uri string, ts time.Time, body string) {
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	h.Set("X-HubSpot-Request-Timestamp", ms)
	h.Set("X-HubSpot-Signature-v3", b64(hmacSHA256([]byte(secret), method, uri, body, ms)))
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func signCalendly(h http.Header, secret string, ts time.Time, body string) {
	t := strconv.FormatInt(ts.Unix(), 10)
	h.Set("Calendly-Webhook-Signature", "t="+t+",v1="+hex.EncodeToString(hmacSHA256([]byte(secret), t, ".", body)))
}

func basic(user, pass string) string {
	return "Basic " + b64([]byte(user+":"+pass))
}
