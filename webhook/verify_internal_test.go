package webhook

import (
	"net/http"
	"testing"
	"time"
)

// Calendly's scheme is Stripe's (t=<seconds>,v1=<hex> over "t.body", the
// secret used as it is), so Stripe's DERIVED vector from webhooks.md checks
// the header parsing with several entries, including a v0 to skip.
func TestCalendlySchemeTakesStripeVector(t *testing.T) {
	h := http.Header{}
	h.Set("Calendly-Webhook-Signature", "t=1700000000,v1=00,v0=abc,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990")
	r := Request{Header: h, Body: []byte(`{"id":"evt_test_webhook","object":"event"}`)}
	secrets := []Secret{{b: []byte("whsec_test_secret")}}
	if err := verifyCalendly(secrets, r, time.Unix(1700000000, 0)); err != nil {
		t.Errorf("verifyCalendly = %v, want nil", err)
	}
}

func TestHubSpotURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://x/a", "https://x/a"},
		{"https://x/a%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", "https://x/a:/?@!$'()*,;"},
		{"https://x/a?b=%20%26%3D%25", "https://x/a?b=%20%26%3D%25"},
		{"https://x/%3", "https://x/%3"},
		{"https://x/%zz%3a", "https://x/%zz:"},
		{"%", "%"},
	}
	for _, tt := range tests {
		if got := hubspotURI(tt.in); got != tt.want {
			t.Errorf("hubspotURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
