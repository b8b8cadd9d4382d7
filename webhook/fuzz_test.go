package webhook_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/webhook"
)

// fuzzHeaders are every header a verifier reads; the fuzzer's signature and
// timestamp text go into all of them at once.
var (
	fuzzSigHeaders = []string{"Webhook-Signature", "Svix-Signature", "X-HubSpot-Signature-v3", "X-HubSpot-Signature",
		"Typeform-Signature", "Calendly-Webhook-Signature", "X-Hub-Signature-256", "X-Signature", "Authorization", "X-Webhook-Secret"}
	fuzzTSHeaders = []string{"Webhook-Timestamp", "Svix-Timestamp", "X-HubSpot-Request-Timestamp", "X-Timestamp"}
)

// No request panics a verifier, and every refusal is a *VerifyError.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1700000000, 0)
	scs := schemes(f)
	sources := make([]*webhook.Source, len(scs))
	for i, sc := range scs {
		sources[i] = sc.load(f)
		r := sc.request(f, sc.secrets[0], now)
		sig := ""
		for _, h := range fuzzSigHeaders {
			if v := r.Header.Get(h); v != "" {
				sig = v
			}
		}
		f.Add(uint8(i), string(r.Body), sig, "1700000000", r.URL, "v2")
	}
	f.Add(uint8(0), `{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,", "1614265330", "https://x/?key=", "v1")
	f.Add(uint8(5), "{}", "t=,v1=,t=1", "-9223372036854775808", "%", "")
	f.Add(uint8(2), "", "", "99999999999999999999", "https://x/a%3", "v1")
	f.Fuzz(func(t *testing.T, which uint8, body, sig, ts, rawURL, version string) {
		s := sources[int(which)%len(sources)]
		h := http.Header{}
		for _, n := range fuzzSigHeaders {
			h.Set(n, sig)
		}
		for _, n := range fuzzTSHeaders {
			h.Set(n, ts)
		}
		h.Set("Webhook-Id", ts)
		h.Set("Svix-Id", ts)
		h.Set("X-HubSpot-Signature-Version", version)
		err := s.Verify(webhook.Request{Method: "POST", URL: rawURL, Header: h, Body: []byte(body)}, now)
		var ve *webhook.VerifyError
		if err != nil && !errors.As(err, &ve) {
			t.Errorf("%s: Verify = %v, want a *VerifyError", s.Kind, err)
		}
	})
}

// No body panics Leads or MapFetched; every lead has an ID; every failure
// is ErrPayload.
func FuzzLeads(f *testing.F) {
	scs := schemes(f)
	sources := make([]*webhook.Source, len(scs))
	for i, sc := range scs {
		sources[i] = sc.load(f)
		b := bodies[kindOf(sc)]
		f.Add(uint8(i), b.contentType, b.body)
	}
	f.Add(uint8(6), "application/json", `{"entry":[{"changes":[{"field":"leadgen","value":{"leadgen_id":[1,{"a":null}]}}]},7]}`)
	f.Add(uint8(2), "", `[{"eventId":1.5e400,"objectId":{},"subscriptionType":"."}]`)
	f.Add(uint8(12), "", "data[merges][]=1&data[merges]=2&data.=3&[]=4&a[b]c=5")
	f.Add(uint8(11), "text/plain;;", "data.json=%5B%5D&data=1")
	f.Fuzz(func(t *testing.T, which uint8, contentType, body string) {
		s := sources[int(which)%len(sources)]
		r := webhook.Request{Header: http.Header{"Content-Type": {contentType}, "Webhook-Id": {"m"}}, Body: []byte(body)}
		leads, err := s.Leads(r)
		if err != nil && !errors.Is(err, webhook.ErrPayload) {
			t.Errorf("%s: Leads = %v, want ErrPayload", s.Kind, err)
		}
		for _, l := range leads {
			if l.ID == "" {
				t.Errorf("%s: a lead without an ID: %+v", s.Kind, l)
			}
		}
		if _, err := s.MapFetched([]byte(body)); err != nil && !errors.Is(err, webhook.ErrPayload) {
			t.Errorf("%s: MapFetched = %v, want ErrPayload", s.Kind, err)
		}
	})
}

// No path panics the parser, and a parsed path looks up anything without
// panicking.
func FuzzPath(f *testing.F) {
	for _, p := range []string{
		"properties.email.value", "form_response.answers[field.ref=email].email", "data[merges][EMAIL]",
		"field_data[name=email].values[0]", `a[b="c]|d"] | e`, "a[0][1]", "a[=]", "|", "[", `a[b="`,
	} {
		f.Add(p, `{"a":[{"b":"c]|d","0":[1,[2]]}],"properties":{"email":{"value":"x"}}}`)
	}
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := webhook.ParsePath(path)
		if err != nil {
			return
		}
		if p.String() != path {
			t.Errorf("String() = %q, want %q", p.String(), path)
		}
		s := &webhook.Source{Fields: map[string]webhook.Path{"f": p}}
		s.MapFetched([]byte(doc))
	})
}
