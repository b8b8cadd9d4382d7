package spam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Provider is a captcha service.
type Provider string

// The captcha services leadbridge verifies, each through its documented
// siteverify protocol: a form POST of secret, response and optionally
// remoteip, answered with JSON {"success", "error-codes", …}.
const (
	Turnstile   Provider = "turnstile"    // Cloudflare Turnstile
	HCaptcha    Provider = "hcaptcha"     // hCaptcha
	RecaptchaV2 Provider = "recaptcha-v2" // Google reCAPTCHA v2 (checkbox or invisible)
	RecaptchaV3 Provider = "recaptcha-v3" // Google reCAPTCHA v3 (score)
)

// Providers are the known providers, in the order error messages list them.
var Providers = []Provider{Turnstile, HCaptcha, RecaptchaV2, RecaptchaV3}

// VerifyURL is the provider's documented siteverify endpoint.
func (p Provider) VerifyURL() string {
	switch p {
	case Turnstile:
		return "https://challenges.cloudflare.com/turnstile/v0/siteverify"
	case HCaptcha:
		return "https://api.hcaptcha.com/siteverify"
	case RecaptchaV2, RecaptchaV3:
		return "https://www.google.com/recaptcha/api/siteverify"
	}
	return ""
}

// ResponseField is the form field the provider's widget fills with its
// response token.
func (p Provider) ResponseField() string {
	switch p {
	case Turnstile:
		return "cf-turnstile-response"
	case HCaptcha:
		return "h-captcha-response"
	}
	return "g-recaptcha-response"
}

// ScriptURL is the widget's script for a page showing the form with
// siteKey (reCAPTCHA v3 is given its site key in the URL).
func (p Provider) ScriptURL(siteKey string) string {
	switch p {
	case Turnstile:
		return "https://challenges.cloudflare.com/turnstile/v0/api.js"
	case HCaptcha:
		return "https://js.hcaptcha.com/1/api.js"
	case RecaptchaV3:
		return "https://www.google.com/recaptcha/api.js?render=" + url.QueryEscape(siteKey)
	}
	return "https://www.google.com/recaptcha/api.js"
}

// What to do with a submission whose captcha could not be verified because
// the service did not answer (or answered that leadbridge's own request was
// wrong).
const (
	// OnUnavailableAccept keeps the submission as accepted, marked
	// captcha_unverified. The default: see Captcha.OnUnavailable.
	OnUnavailableAccept = "accept"
	// OnUnavailableHold holds it as spam (captcha_unverified) until an
	// admin releases it.
	OnUnavailableHold = "hold"
)

// DefaultThreshold is the lowest reCAPTCHA v3 score taken for a person, as
// Google's documentation suggests to start with.
const DefaultThreshold = 0.5

// DefaultCaptchaTimeout bounds one siteverify call.
const DefaultCaptchaTimeout = 5 * time.Second

// Secret is a resolved secret. It prints as [redacted], so that a
// configuration dump in a log shows that it is set and not what it is.
type Secret string

// String hides the secret.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret from %#v too.
func (Secret) GoString() string { return "[redacted]" }

// Captcha is a form's captcha: which service and how its answer is judged.
type Captcha struct {
	Provider Provider
	// SiteKey is the public key the page's widget is rendered with; hCaptcha
	// is sent it on verification too, to refuse tokens of another site.
	SiteKey string
	// Secret is the key siteverify is called with.
	Secret Secret
	// Threshold is the lowest reCAPTCHA v3 score taken for a person
	// (DefaultThreshold when zero).
	Threshold float64
	// Action, if set, must equal the action the widget reported
	// (reCAPTCHA v3 and Turnstile), so that a token solved on another page
	// of the site is not accepted here.
	Action string
	// OnUnavailable is OnUnavailableAccept (when empty) or
	// OnUnavailableHold.
	//
	// Accept is the default because the service being down says nothing
	// about the person: holding would park every real lead of the outage
	// until an admin notices and releases them, while a bot gains little
	// (it cannot cause the outage, and the honeypot, the fill time and the
	// rate limits still apply). The submission is marked, so an admin can
	// review what came in unverified.
	OnUnavailable string
	// VerifyURL overrides the provider's siteverify endpoint (tests, or a
	// proxy); "" uses Provider.VerifyURL. Like Timeout, it is not read from
	// the YAML file.
	VerifyURL string
	// Timeout bounds one siteverify call; DefaultCaptchaTimeout when zero.
	Timeout time.Duration
}

// siteverify is the answer of every provider's siteverify endpoint; each
// sends a subset of these fields.
type siteverify struct {
	Success    bool     `json:"success"`
	ErrorCodes []string `json:"error-codes"`
	Score      *float64 `json:"score"`
	Action     string   `json:"action"`
	Hostname   string   `json:"hostname"`
}

// ourFault are error codes that say leadbridge's request, not the person's
// response, was wrong (a bad secret, a broken request, a service error):
// judging the person by them would hold real people for an admin's typo.
// (Codes from the providers' documentation: all three use the secret codes
// and bad-request; Turnstile adds internal-error, hCaptcha the site key and
// remoteip ones.)
var ourFault = []string{
	"missing-input-secret", "invalid-input-secret", "bad-request", "internal-error",
	"sitekey-secret-mismatch", "invalid-sitekey", "invalid-remoteip",
}

// errUnavailable: the service did not judge the response (down, slow,
// unreadable answer, or our request was at fault).
var errUnavailable = errors.New("captcha service unavailable")

// verify asks the service about response and judges the answer: "" when the
// person passed, else a Reason; err wraps errUnavailable when the service
// did not judge. detail explains either for an admin.
func (c *Captcha) verify(ctx context.Context, client *http.Client, response, remoteIP string) (reason, detail string, err error) {
	form := url.Values{"secret": {string(c.Secret)}, "response": {response}}
	if remoteIP != "" {
		form.Set("remoteip", remoteIP)
	}
	if c.Provider == HCaptcha && c.SiteKey != "" {
		form.Set("sitekey", c.SiteKey)
	}
	endpoint := c.VerifyURL
	if endpoint == "" {
		endpoint = c.Provider.VerifyURL()
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCaptchaTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", errUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// No retry: a response token is single-use, so a retry after an answer
	// that was lost on the way back would be refused as a duplicate, and a
	// person taken for a bot. Not verified is the honest outcome.
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL, which holds no secret (that is in the body).
		return "", "", fmt.Errorf("%w: %s: %v", errUnavailable, c.Provider, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("%w: %s answered %s", errUnavailable, c.Provider, resp.Status)
	}
	var sv siteverify
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&sv); err != nil {
		return "", "", fmt.Errorf("%w: %s: unreadable answer: %v", errUnavailable, c.Provider, err)
	}
	codes := strings.Join(sv.ErrorCodes, ", ")
	if !sv.Success {
		for _, code := range sv.ErrorCodes {
			if slices.Contains(ourFault, code) {
				return "", "", fmt.Errorf("%w: %s refused leadbridge's request (%s): check the captcha secret and site key", errUnavailable, c.Provider, codes)
			}
		}
		if codes == "" {
			codes = "no error code"
		}
		return ReasonCaptchaFailed, fmt.Sprintf("%s did not accept the response (%s)", c.Provider, codes), nil
	}
	if c.Action != "" && (c.Provider == RecaptchaV3 || c.Provider == Turnstile) && sv.Action != c.Action {
		return ReasonCaptchaAction, fmt.Sprintf("%s response was for action %q, want %q", c.Provider, sv.Action, c.Action), nil
	}
	if c.Provider == RecaptchaV3 {
		if sv.Score == nil {
			return "", "", fmt.Errorf("%w: reCAPTCHA answered without a score: is the site key a v3 key?", errUnavailable)
		}
		threshold := c.Threshold
		if threshold == 0 {
			threshold = DefaultThreshold
		}
		if *sv.Score < threshold {
			return ReasonCaptchaLowScore, fmt.Sprintf("reCAPTCHA v3 score %.2f is below the form's threshold %.2f", *sv.Score, threshold), nil
		}
	}
	return "", "", nil
}
