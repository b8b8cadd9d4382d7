package spam_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/spam"
)

func TestHoneypot(t *testing.T) {
	ch, err := spam.NewChecker("contact-us", spam.Config{Honeypot: "website_url"}, spam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		fields map[string]string
		spam   bool
	}{
		{"left empty", map[string]string{"email": "ada@example.com", "website_url": ""}, false},
		{"absent", map[string]string{"email": "ada@example.com"}, false},
		{"only spaces", map[string]string{"website_url": "  \t"}, false},
		{"filled in", map[string]string{"email": "x@spam.test", "website_url": "https://cheap-pills.test"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := ch.Check(context.Background(), spam.Submission{Value: values(c.fields)})
			if v.Spam != c.spam {
				t.Fatalf("got %+v, want spam %v", v, c.spam)
			}
			if c.spam && (v.Reason != spam.ReasonHoneypot || !strings.Contains(v.Detail, "website_url")) {
				t.Errorf("got %+v, want reason %s naming the field", v, spam.ReasonHoneypot)
			}
			if strings.Contains(v.Detail, "cheap-pills") {
				t.Errorf("detail %q quotes the value", v.Detail)
			}
		})
	}
}

func TestMinimumFillTime(t *testing.T) {
	tk := newTokens(t, key1)
	clock := testenv.NewClock(t0)
	ch, err := spam.NewChecker("contact-us", spam.Config{MinFill: 2 * time.Second}, spam.Options{Tokens: tk, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	check := func(token string) spam.Verdict {
		return ch.Check(context.Background(), spam.Submission{Value: values(map[string]string{spam.TokenField: token})})
	}

	tok := tk.Issue("contact-us", t0)
	clock.Advance(500 * time.Millisecond)
	if v := check(tok); !v.Spam || v.Reason != spam.ReasonTooFast || !strings.Contains(v.Detail, "0.5 s") {
		t.Errorf("sent 0.5 s after serving: got %+v, want spam %s saying 0.5 s", v, spam.ReasonTooFast)
	}
	clock.Advance(2 * time.Second)
	v := check(tok)
	if v.Spam || v.Reason != "" {
		t.Errorf("sent 2.5 s after serving: got %+v, want accepted", v)
	}
	if len(v.ReplayKey) != 32 {
		t.Errorf("ReplayKey %q, want the token's 32 hex digits for the per-token limit", v.ReplayKey)
	}

	refused := []struct {
		name, token, reason string
	}{
		{"no token", "", spam.ReasonTokenMissing},
		{"tampered", flip(tok, 30), spam.ReasonTokenInvalid},
		{"another form's", tk.Issue("newsletter", t0), spam.ReasonTokenInvalid},
		{"not a token", "1700000000", spam.ReasonTokenInvalid},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			if v := check(c.token); !v.Spam || v.Reason != c.reason || v.Detail == "" {
				t.Fatalf("got %+v, want spam %s with detail", v, c.reason)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		clock.Advance(spam.DefaultMaxAge)
		if v := check(tok); !v.Spam || v.Reason != spam.ReasonTokenExpired {
			t.Fatalf("got %+v, want spam %s", v, spam.ReasonTokenExpired)
		}
	})
}

// Without min_seconds no token is asked for: a form copied as plain HTML
// must not be held for lacking one.
func TestNoMinimumNoToken(t *testing.T) {
	ch, err := spam.NewChecker("contact-us", spam.Config{Honeypot: "hp"}, spam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := ch.Check(context.Background(), spam.Submission{Value: values(map[string]string{spam.TokenField: "junk"})})
	if v.Spam || v.ReplayKey != "" {
		t.Fatalf("got %+v, want accepted with no token checked", v)
	}
}

// The cheap checks come first: a filled honeypot costs no captcha call.
func TestCheapChecksFirst(t *testing.T) {
	s := startSiteverify(t, spam.Turnstile)
	tk := newTokens(t, key1)
	clock := testenv.NewClock(t0)
	cfg := spam.Config{Honeypot: "hp", MinFill: time.Second,
		Captcha: &spam.Captcha{Provider: spam.Turnstile, SiteKey: "k", Secret: spam.Secret(s.secret), VerifyURL: s.URL}}
	ch, err := spam.NewChecker("f", cfg, spam.Options{Tokens: tk, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := tk.Issue("f", t0)
	fields := map[string]string{"hp": "x", spam.TokenField: tok, "cf-turnstile-response": "human"}
	if v := ch.Check(context.Background(), spam.Submission{Value: values(fields)}); v.Reason != spam.ReasonHoneypot {
		t.Fatalf("honeypot and a fast token: got %+v, want %s first", v, spam.ReasonHoneypot)
	}
	fields["hp"] = ""
	if v := ch.Check(context.Background(), spam.Submission{Value: values(fields)}); v.Reason != spam.ReasonTooFast {
		t.Fatalf("fast token: got %+v, want %s", v, spam.ReasonTooFast)
	}
	if n := len(s.requests()); n != 0 {
		t.Fatalf("%d captcha calls for submissions already judged, want 0", n)
	}
	clock.Advance(3 * time.Second)
	if v := ch.Check(context.Background(), spam.Submission{Value: values(fields)}); v.Spam || v.ReplayKey == "" {
		t.Fatalf("every check passed: got %+v, want accepted with the token's replay key", v)
	}
	if n := len(s.requests()); n != 1 {
		t.Fatalf("%d captcha calls, want 1", n)
	}
}

func TestNewCheckerRefuses(t *testing.T) {
	cases := map[string]spam.Config{
		"min_seconds without token keys": {MinFill: time.Second},
		"unknown provider":               {Captcha: &spam.Captcha{Provider: "friendlycaptcha", Secret: "s"}},
		"no secret":                      {Captcha: &spam.Captcha{Provider: spam.HCaptcha}},
		"unknown on_unavailable":         {Captcha: &spam.Captcha{Provider: spam.HCaptcha, Secret: "s", OnUnavailable: "drop"}},
	}
	for name, cfg := range cases {
		if _, err := spam.NewChecker("f", cfg, spam.Options{}); err == nil {
			t.Errorf("%s: nil error, want one", name)
		}
	}
}
