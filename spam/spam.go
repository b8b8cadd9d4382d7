// Package spam judges whether a form submission comes from a person,
// without losing one: a suspect is held, with its reason, never dropped.
//
// A Checker, one per form, runs the form's checks in order of cost and stops
// at the first that fails:
//
//  1. honeypot: a hidden field that people leave empty and bots fill in;
//  2. minimum fill time: the form token (Tokens) proves when leadbridge
//     served the form, and a submission faster than the form's min_seconds
//     is a script's;
//  3. captcha: Cloudflare Turnstile, hCaptcha or Google reCAPTCHA v2/v3,
//     verified with the provider's siteverify endpoint.
//
// Its answer is a Verdict. The caller (intake) answers a spam verdict
// exactly like a success, so a bot learns nothing from it, and keeps the
// submission with its reason outside the delivery queue (submission status
// spam), from where an admin can release it. Every check errs towards
// holding rather than deleting, so a false positive costs a click, not a
// lead; and a captcha service that is down does not hold anyone by default
// (see Captcha.OnUnavailable).
//
// The package reads no environment and speaks no HTTP of its own beyond
// the captcha call: configuration comes through DecodeConfig (or a Config
// built in Go), keys and clients from the caller.
package spam

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Reasons a Verdict gives: short, stable codes for metrics, filters and the
// admin console.
const (
	ReasonHoneypot     = "honeypot"      // the honeypot field was filled in
	ReasonTooFast      = "too_fast"      // sent sooner after serving than min_seconds
	ReasonTokenMissing = "token_missing" // min_seconds is set and no form token came
	ReasonTokenInvalid = "token_invalid" // the token is malformed, altered, or another form's
	ReasonTokenExpired = "token_expired" // the token is older than its maximum age
	// ReasonCaptchaMissing: no captcha response came (the widget did not
	// run: blocked script, no JavaScript, or a bot).
	ReasonCaptchaMissing  = "captcha_missing"
	ReasonCaptchaFailed   = "captcha_failed"    // the service refused the response
	ReasonCaptchaLowScore = "captcha_low_score" // reCAPTCHA v3 score below the threshold
	ReasonCaptchaAction   = "captcha_action"    // the response was for another action
	// ReasonCaptchaUnverified: the service could not verify the response
	// (down, slow, or refusing leadbridge's own request). On an accepted
	// submission (the default) it is a note for admins; with on_unavailable
	// hold it is the reason it was held.
	ReasonCaptchaUnverified = "captcha_unverified"
)

// Verdict is the judgement of one submission.
type Verdict struct {
	// Spam: hold the submission (answer as if accepted; keep it out of the
	// delivery queue; an admin may release it).
	Spam bool
	// Reason is one of the Reason constants: why it is spam, or, on an
	// accepted submission, a note (captcha_unverified). "" when accepted
	// with nothing to note.
	Reason string
	// Detail explains Reason for an admin, in a sentence. It holds no
	// field values.
	Detail string
	// ReplayKey names the verified form token, for the flood package's
	// per-token rate limit (flood.Request.Token); "" when no token was
	// verified.
	ReplayKey string
}

// Submission is what a Checker looks at.
type Submission struct {
	// Value returns the posted value of a field by name, "" when absent
	// (nil: every field is absent).
	Value func(name string) string
	// RemoteIP is the client's address, passed to the captcha service;
	// "" leaves it out.
	RemoteIP string
}

// Options are a Checker's collaborators.
type Options struct {
	// Tokens verifies form tokens; required when the form has MinFill.
	Tokens *Tokens
	// Client makes the captcha calls. Each call has its own deadline
	// (Captcha.Timeout); nil means a client with a 30 s backstop timeout.
	Client *http.Client
	// Now is the clock tokens are aged by; time.Now when nil.
	Now func() time.Time
}

// Checker checks one form's submissions. It is safe for concurrent use.
type Checker struct {
	form   string
	cfg    Config
	tokens *Tokens
	client *http.Client
	now    func() time.Time
}

// NewChecker returns the Checker of form with cfg. It fails when cfg needs
// what o does not give (tokens for MinFill) or names an unknown provider.
func NewChecker(form string, cfg Config, o Options) (*Checker, error) {
	if cfg.MinFill > 0 && o.Tokens == nil {
		return nil, fmt.Errorf("spam: form %s asks for a minimum fill time, which needs form tokens (no token key configured)", form)
	}
	if c := cfg.Captcha; c != nil {
		if c.Provider.VerifyURL() == "" {
			return nil, fmt.Errorf("spam: form %s: unknown captcha provider %q", form, c.Provider)
		}
		if c.Secret == "" {
			return nil, fmt.Errorf("spam: form %s: the captcha has no secret", form)
		}
		if c.OnUnavailable != "" && c.OnUnavailable != OnUnavailableAccept && c.OnUnavailable != OnUnavailableHold {
			return nil, fmt.Errorf("spam: form %s: captcha on_unavailable %q: want accept or hold", form, c.OnUnavailable)
		}
	}
	ch := &Checker{form: form, cfg: cfg, tokens: o.Tokens, client: o.Client, now: o.Now}
	if ch.client == nil {
		ch.client = &http.Client{Timeout: 30 * time.Second}
	}
	if ch.now == nil {
		ch.now = time.Now
	}
	return ch, nil
}

// Check judges s. It never fails: what it cannot verify is judged by the
// form's policy and said in the Verdict.
func (c *Checker) Check(ctx context.Context, s Submission) Verdict {
	if s.Value == nil {
		s.Value = func(string) string { return "" }
	}
	if h := c.cfg.Honeypot; h != "" {
		if v := strings.TrimSpace(s.Value(h)); v != "" {
			return Verdict{Spam: true, Reason: ReasonHoneypot,
				Detail: fmt.Sprintf("the hidden field %s, which people do not see, was filled in (%d characters)", h, utf8.RuneCountInString(v))}
		}
	}
	var v Verdict
	if c.cfg.MinFill > 0 {
		now := c.now()
		tok, err := c.tokens.Verify(c.form, s.Value(TokenField), now)
		switch {
		case errors.Is(err, ErrTokenMissing):
			return Verdict{Spam: true, Reason: ReasonTokenMissing,
				Detail: "no form token: the form was not served by leadbridge's page or embed.js, or the token field was removed"}
		case errors.Is(err, ErrTokenExpired):
			return Verdict{Spam: true, Reason: ReasonTokenExpired, Detail: detail(err)}
		case err != nil:
			return Verdict{Spam: true, Reason: ReasonTokenInvalid, Detail: detail(err)}
		}
		if age := tok.Age(now); age < c.cfg.MinFill {
			return Verdict{Spam: true, Reason: ReasonTooFast, ReplayKey: tok.ReplayKey(),
				Detail: fmt.Sprintf("sent %.1f s after the form was served; the form asks for at least %.1f s", age.Seconds(), c.cfg.MinFill.Seconds())}
		}
		v.ReplayKey = tok.ReplayKey()
	}
	if cp := c.cfg.Captcha; cp != nil {
		response := s.Value(cp.Provider.ResponseField())
		if response == "" && cp.Provider == HCaptcha {
			// hCaptcha's widget fills g-recaptcha-response too, and pages
			// migrated from reCAPTCHA may read only that one.
			response = s.Value("g-recaptcha-response")
		}
		if response == "" {
			v.Spam, v.Reason = true, ReasonCaptchaMissing
			v.Detail = fmt.Sprintf("no %s response (field %s): the widget did not run", cp.Provider, cp.Provider.ResponseField())
			return v
		}
		reason, why, err := cp.verify(ctx, c.client, response, s.RemoteIP)
		switch {
		case err != nil:
			v.Spam = cp.OnUnavailable == OnUnavailableHold
			v.Reason, v.Detail = ReasonCaptchaUnverified, detail(err)
		case reason != "":
			v.Spam, v.Reason, v.Detail = true, reason, why
		}
	}
	return v
}

// detail is an error's text for admins, without the package prefix.
func detail(err error) string {
	return strings.TrimPrefix(err.Error(), "spam: ")
}
