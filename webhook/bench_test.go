package webhook_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/webhook"
)

// typical2KB pads a kind's realistic payload to about 2 KB, the size of a
// lead with a message and tracking fields.
func typical2KB(kind string) (contentType, body string) {
	b := bodies[kind]
	pad := strings.Repeat("Interested in a demo for our team of forty. ", 2048/44)
	switch {
	case b.contentType == "application/x-www-form-urlencoded":
		return b.contentType, b.body + "&message=" + url.QueryEscape(pad[:2048-len(b.body)])
	default:
		n := 2048 - len(b.body) - len(`,"message":""`)
		return b.contentType, b.body[:len(b.body)-1] + `,"message":"` + pad[:n] + `"}`
	}
}

// BenchmarkVerify verifies a signed ~2 KB delivery per scheme.
func BenchmarkVerify(b *testing.B) {
	now := time.Now()
	for _, sc := range schemes(b) {
		b.Run(sc.name, func(b *testing.B) {
			s := sc.load(b)
			ct, body := typical2KB(kindOf(sc))
			r := webhook.Request{Method: "POST", URL: testURL, Header: http.Header{"Content-Type": {ct}}, Body: []byte(body)}
			sc.sign(b, &r, sc.secrets[1], now) // the second secret: rotation's usual case
			if err := s.Verify(r, now); err != nil {
				b.Fatalf("Verify: %v", err)
			}
			b.SetBytes(int64(len(r.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Verify(r, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLeads parses and maps the same deliveries.
func BenchmarkLeads(b *testing.B) {
	for _, sc := range schemes(b) {
		b.Run(sc.name, func(b *testing.B) {
			s := sc.load(b)
			ct, body := typical2KB(kindOf(sc))
			r := webhook.Request{Method: "POST", URL: testURL, Header: http.Header{"Content-Type": {ct}, "Webhook-Id": {"msg_1"}}, Body: []byte(body)}
			b.SetBytes(int64(len(r.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Leads(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
