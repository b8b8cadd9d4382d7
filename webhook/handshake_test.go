package webhook_test

import (
	"net/url"
	"strings"
	"testing"
)

func TestHandshakeMeta(t *testing.T) {
	s := loadSource(t, "kind: meta-leadgen\nsecret: env:K\nverify_token: [env:OLD, env:NEW]\naccess_token: env:K\nform: demo",
		map[string]string{"K": "app-secret", "OLD": "old-verify-token", "NEW": "new-verify-token"})
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantBody   string
	}{
		{"subscribe with the token", "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=new-verify-token", 200, "1158201444"},
		{"subscribe with the old token (rotation)", "hub.mode=subscribe&hub.challenge=42&hub.verify_token=old-verify-token", 200, "42"},
		{"wrong token", "hub.mode=subscribe&hub.challenge=42&hub.verify_token=guess", 403, ""},
		{"no token", "hub.mode=subscribe&hub.challenge=42", 403, ""},
		{"other mode", "hub.mode=unsubscribe&hub.challenge=42&hub.verify_token=new-verify-token", 403, ""},
		{"no mode", "hub.challenge=42&hub.verify_token=new-verify-token", 403, ""},
		{"no challenge", "hub.mode=subscribe&hub.verify_token=new-verify-token", 400, ""},
		{"huge challenge", "hub.mode=subscribe&hub.verify_token=new-verify-token&hub.challenge=" + strings.Repeat("9", 2000), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			status, body := s.Handshake(q)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("Handshake = %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestHandshakeOtherKinds(t *testing.T) {
	mc := loadSource(t, "kind: mailchimp\nsecret: env:K\nform: demo", map[string]string{"K": "0123456789abcdef0123"})
	// Mailchimp's validation GET carries no secret and wants 200, empty.
	if status, body := mc.Handshake(url.Values{}); status != 200 || body != "" {
		t.Errorf("mailchimp Handshake = %d %q, want 200 and an empty body", status, body)
	}
	tf := loadSource(t, "kind: typeform\nsecret: env:K\nform: demo", map[string]string{"K": "k"})
	q := url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1"}, "hub.verify_token": {"k"}}
	if status, body := tf.Handshake(q); status != 405 || body != "" {
		t.Errorf("typeform Handshake = %d %q, want 405 and nothing echoed", status, body)
	}
}
