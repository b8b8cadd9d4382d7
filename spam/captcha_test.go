package spam_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/spam"
)

// siteverify is a local stand-in for a provider's siteverify endpoint,
// answering as its documentation shows. What it answers depends on the
// response token the "widget" produced:
//
//	human         success (v3: score 0.9; v3 and Turnstile: action "contact")
//	bot           success false, invalid-input-response
//	reused        success false, timeout-or-duplicate
//	low           v3: success, score 0.1
//	borderline    v3: success, score 0.6
//	other-action  success, action "login"
//	no-score      success without a score (a v2 key used as v3)
//	slow          no answer until the caller gives up
//	down          503
//	garbage       200 with a body that is not JSON
//
// and a request with another secret is refused with invalid-input-secret.
type siteverify struct {
	*httptest.Server
	provider spam.Provider
	secret   string

	mu  sync.Mutex
	got []url.Values
}

func startSiteverify(t *testing.T, p spam.Provider) *siteverify {
	t.Helper()
	s := &siteverify{provider: p, secret: "s3cret-" + string(p)}
	stop := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form POST", http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got = append(s.got, r.PostForm)
		s.mu.Unlock()
		answer := map[string]any{"success": true, "challenge_ts": "2026-12-01T09:30:00Z", "hostname": "www.example.com"}
		switch p {
		case spam.HCaptcha:
			answer["credit"] = false
		case spam.RecaptchaV3:
			answer["score"], answer["action"] = 0.9, "contact"
		case spam.Turnstile:
			answer["action"], answer["cdata"] = "contact", ""
		}
		refuse := func(code string) {
			answer["success"] = false
			answer["error-codes"] = []string{code}
			delete(answer, "score")
		}
		switch resp := r.PostForm.Get("response"); {
		case r.PostForm.Get("secret") != s.secret:
			refuse("invalid-input-secret")
		case resp == "human":
		case resp == "bot":
			refuse("invalid-input-response")
		case resp == "reused":
			refuse("timeout-or-duplicate")
		case resp == "low":
			answer["score"] = 0.1
		case resp == "borderline":
			answer["score"] = 0.6
		case resp == "other-action":
			answer["action"] = "login"
		case resp == "no-score":
			delete(answer, "score")
		case resp == "slow":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		case resp == "down":
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		case resp == "garbage":
			w.Write([]byte("<html>maintenance</html>"))
			return
		default:
			refuse("invalid-input-response")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(func() { close(stop); s.Close() })
	return s
}

func (s *siteverify) requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.got...)
}

// captchaChecker is a form with only a captcha, verified at s.
func captchaChecker(t *testing.T, s *siteverify, edit func(*spam.Captcha)) *spam.Checker {
	t.Helper()
	c := &spam.Captcha{Provider: s.provider, SiteKey: "site-key-1", Secret: spam.Secret(s.secret),
		VerifyURL: s.URL, Timeout: 10 * time.Second}
	if edit != nil {
		edit(c)
	}
	ch, err := spam.NewChecker("contact-us", spam.Config{Captcha: c}, spam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func withResponse(p spam.Provider, response string) spam.Submission {
	return spam.Submission{Value: values(map[string]string{p.ResponseField(): response, "email": "ada@example.com"}), RemoteIP: "203.0.113.7"}
}

func values(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

func TestCaptcha(t *testing.T) {
	type want struct {
		spam   bool
		reason string
	}
	accepted := want{}
	unverified := want{false, spam.ReasonCaptchaUnverified}
	common := []struct {
		name     string
		response string
		want     want
	}{
		{"person", "human", accepted},
		{"bot", "bot", want{true, spam.ReasonCaptchaFailed}},
		{"token used twice", "reused", want{true, spam.ReasonCaptchaFailed}},
		{"service down", "down", unverified},
		{"service answers garbage", "garbage", unverified},
		{"service times out", "slow", unverified},
	}
	for _, p := range spam.Providers {
		t.Run(string(p), func(t *testing.T) {
			s := startSiteverify(t, p)
			ch := captchaChecker(t, s, func(c *spam.Captcha) {
				if p == spam.RecaptchaV3 || p == spam.Turnstile {
					c.Action = "contact"
				}
			})
			for _, c := range common {
				t.Run(c.name, func(t *testing.T) {
					ch := ch
					if c.response == "slow" {
						ch = captchaChecker(t, s, func(c *spam.Captcha) { c.Timeout = 50 * time.Millisecond })
					}
					v := ch.Check(context.Background(), withResponse(p, c.response))
					if v.Spam != c.want.spam || v.Reason != c.want.reason {
						t.Fatalf("got %+v, want spam %v reason %q", v, c.want.spam, c.want.reason)
					}
					if v.Reason != "" && v.Detail == "" {
						t.Error("a reason without detail for the admin")
					}
				})
			}
			t.Run("no response", func(t *testing.T) {
				v := ch.Check(context.Background(), spam.Submission{Value: values(nil)})
				if !v.Spam || v.Reason != spam.ReasonCaptchaMissing {
					t.Fatalf("got %+v, want spam %s", v, spam.ReasonCaptchaMissing)
				}
			})
			t.Run("wrong secret is leadbridge's fault, not the person's", func(t *testing.T) {
				ch := captchaChecker(t, s, func(c *spam.Captcha) { c.Secret = "typo" })
				v := ch.Check(context.Background(), withResponse(p, "human"))
				if v.Spam || v.Reason != spam.ReasonCaptchaUnverified || !strings.Contains(v.Detail, "check the captcha secret") {
					t.Fatalf("got %+v, want accepted, %s, detail telling the admin to check the secret", v, spam.ReasonCaptchaUnverified)
				}
				if strings.Contains(v.Detail, "typo") || strings.Contains(v.Detail, s.secret) {
					t.Errorf("detail %q shows a secret", v.Detail)
				}
			})
			t.Run("hold when unavailable", func(t *testing.T) {
				ch := captchaChecker(t, s, func(c *spam.Captcha) { c.OnUnavailable = spam.OnUnavailableHold })
				v := ch.Check(context.Background(), withResponse(p, "down"))
				if !v.Spam || v.Reason != spam.ReasonCaptchaUnverified {
					t.Fatalf("got %+v, want held as %s", v, spam.ReasonCaptchaUnverified)
				}
			})
			t.Run("request follows the protocol", func(t *testing.T) {
				reqs := s.requests()
				if len(reqs) == 0 {
					t.Fatal("no request reached siteverify")
				}
				r := reqs[0]
				if r.Get("secret") != s.secret || r.Get("response") != "human" || r.Get("remoteip") != "203.0.113.7" {
					t.Errorf("siteverify got %v, want secret, response and remoteip", r)
				}
				if hasKey := r.Has("sitekey"); hasKey != (p == spam.HCaptcha) {
					t.Errorf("sitekey sent: %v, want it only for hcaptcha", hasKey)
				}
			})
		})
	}
}

func TestCaptchaServiceGone(t *testing.T) {
	s := startSiteverify(t, spam.Turnstile)
	ch := captchaChecker(t, s, nil)
	s.Close() // connection refused from now on
	v := ch.Check(context.Background(), withResponse(spam.Turnstile, "human"))
	if v.Spam || v.Reason != spam.ReasonCaptchaUnverified {
		t.Fatalf("got %+v, want accepted and marked %s", v, spam.ReasonCaptchaUnverified)
	}
}

func TestRecaptchaV3Score(t *testing.T) {
	s := startSiteverify(t, spam.RecaptchaV3)
	cases := []struct {
		name      string
		threshold float64
		action    string
		response  string
		spam      bool
		reason    string
	}{
		{"high score", 0, "", "human", false, ""},
		{"low score", 0, "", "low", true, spam.ReasonCaptchaLowScore},
		{"above the default threshold", 0, "", "borderline", false, ""},
		{"below a stricter threshold", 0.7, "", "borderline", true, spam.ReasonCaptchaLowScore},
		{"expected action", 0, "contact", "human", false, ""},
		{"another action", 0, "contact", "other-action", true, spam.ReasonCaptchaAction},
		{"any action when none is expected", 0, "", "other-action", false, ""},
		{"no score: a v2 key", 0, "", "no-score", false, spam.ReasonCaptchaUnverified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := captchaChecker(t, s, func(cp *spam.Captcha) { cp.Threshold, cp.Action = c.threshold, c.action })
			v := ch.Check(context.Background(), withResponse(spam.RecaptchaV3, c.response))
			if v.Spam != c.spam || v.Reason != c.reason {
				t.Fatalf("got %+v, want spam %v reason %q", v, c.spam, c.reason)
			}
		})
	}
}

func TestTurnstileAction(t *testing.T) {
	s := startSiteverify(t, spam.Turnstile)
	ch := captchaChecker(t, s, func(c *spam.Captcha) { c.Action = "contact" })
	if v := ch.Check(context.Background(), withResponse(spam.Turnstile, "other-action")); !v.Spam || v.Reason != spam.ReasonCaptchaAction {
		t.Fatalf("got %+v, want spam %s", v, spam.ReasonCaptchaAction)
	}
}

// hCaptcha's widget also fills g-recaptcha-response; a page that posts only
// that field still verifies.
func TestHCaptchaLegacyField(t *testing.T) {
	s := startSiteverify(t, spam.HCaptcha)
	ch := captchaChecker(t, s, nil)
	v := ch.Check(context.Background(), spam.Submission{Value: values(map[string]string{"g-recaptcha-response": "human"})})
	if v.Spam || v.Reason != "" {
		t.Fatalf("got %+v, want accepted", v)
	}
}

func TestProviderEndpoints(t *testing.T) {
	for _, p := range spam.Providers {
		u, err := url.Parse(p.VerifyURL())
		if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Path, "siteverify") {
			t.Errorf("%s: VerifyURL %q, want an https siteverify URL", p, p.VerifyURL())
		}
		if p.ResponseField() == "" || !strings.HasPrefix(p.ScriptURL("k"), "https://") {
			t.Errorf("%s: ResponseField %q ScriptURL %q", p, p.ResponseField(), p.ScriptURL("k"))
		}
	}
	if got := spam.RecaptchaV3.ScriptURL("a b"); !strings.HasSuffix(got, "?render=a+b") {
		t.Errorf("v3 ScriptURL = %q, want the site key in render", got)
	}
}

func TestSecretIsRedacted(t *testing.T) {
	c := spam.Captcha{Provider: spam.Turnstile, Secret: "0x4AAA-real-secret"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(f, c); strings.Contains(got, "real-secret") {
			t.Errorf("Printf(%q) = %s: shows the secret", f, got)
		}
	}
}
