package spam

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/internal/yamlnode"
)

// Config is a form's spam and flood settings: the value of its spam key.
// The zero Config checks nothing.
type Config struct {
	// Honeypot is a field the page hides from people (off-screen, not
	// type=hidden, with autocomplete=off and tabindex=-1, so that autofill
	// and screen readers leave it alone) and that bots fill in; it must come
	// back empty. "" means no honeypot.
	Honeypot string
	// MinFill is the least time between serving the form and receiving it;
	// a person needs seconds, a script milliseconds. It needs the form
	// token, so the form must be served by the hosted page or embed.js: a
	// copy of the HTML pasted elsewhere sends none, and its submissions are
	// held (token_missing). Zero checks no token.
	MinFill time.Duration
	// RateLimits are the form's rate limits; IP (every form together) is a
	// server-wide setting, not a form's, and is left zero here.
	RateLimits flood.Limits
	// RateLimitOff: the form says rate_limit: off — no per-address or
	// per-form limit, not even the server's defaults (the per-token limit
	// of min_seconds stays: it is part of the spam check).
	RateLimitOff bool
	// WaitingCap is how many of the form's submissions may wait for
	// delivery before intake answers 503; 0 leaves it to the server-wide
	// default.
	WaitingCap int64
	// Captcha is the form's captcha; nil for none.
	Captcha *Captcha
}

// DefaultTokenRate is the per-token rate limit of a form with min_seconds
// and no rate_limit.per_token: a person sends a form a few times at most
// (a retry, a correction); a script replaying one token, hundreds.
var DefaultTokenRate = flood.Rate{N: 10, Per: time.Hour}

// fieldName is what a honeypot field may be called; names starting with
// _lb_ are leadbridge's own (TokenField).
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// DecodeConfig reads a form's spam settings. n is the value of the spam key
// (nil or null: no settings); path is its YAML path, e.g.
// "forms.contact-us.spam", which starts every error. resolve turns a secret
// reference ("env:NAME" or "file:/path") into the secret; a secret written
// in clear text is refused before resolve is called, and no error quotes a
// secret.
//
// Decoding is strict: an unknown or repeated key, a value of the wrong
// type, a setting the provider does not take, or a bad rate is an error;
// all of them are returned, joined.
//
// The settings:
//
//	honeypot:    field name that must stay empty
//	min_seconds: least seconds between serving the form and receiving it (0–3600, decimals allowed)
//	rate_limit:  off, or N/second|minute|hour|day per client address on this form, or a mapping of
//	             per_ip (the same), per_form (everyone together) and per_token (uses of one
//	             form token; 10/hour by default when min_seconds is set)
//	waiting_cap: submissions waiting for delivery beyond which intake answers 503
//	captcha:
//	  provider:       turnstile | hcaptcha | recaptcha-v2 | recaptcha-v3 (required)
//	  site_key:       the widget's public key (required)
//	  secret:         env:NAME or file:/path (required)
//	  threshold:      recaptcha-v3: lowest score taken for a person, 0–1 (0.5)
//	  action:         recaptcha-v3, turnstile: the action the widget must report
//	  on_unavailable: accept (default) | hold — when the service cannot verify
func DecodeConfig(n *yaml.Node, path string, resolve func(ref string) (string, error)) (Config, error) {
	if path == "" {
		path = "spam"
	}
	d := &decoder{resolve: resolve}
	cfg := d.config(yamlnode.Deref(n))
	if len(d.errs) > 0 {
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = fmt.Errorf("%s%s", path, e)
		}
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// decoder gathers errors, each starting with the key path below the spam
// key (".captcha.provider: …"); DecodeConfig prefixes the spam key's path.
type decoder struct {
	resolve func(string) (string, error)
	errs    []error
	off     bool // rate_limit: off
}

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf(".%s: %s", key, fmt.Sprintf(format, args...)))
}

// mapping returns a mapping node's values by key, reporting repeated and
// unknown keys.
func (d *decoder) mapping(at string, n *yaml.Node, known []string) map[string]*yaml.Node {
	values := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		key := strings.TrimPrefix(at+"."+k.Value, ".")
		switch {
		case !slices.Contains(known, k.Value):
			d.fail(key, "line %d: unknown setting (want %s)", k.Line, strings.Join(known, ", "))
		case values[k.Value] != nil:
			d.fail(key, "line %d: given twice", k.Line)
		default:
			values[k.Value] = yamlnode.Deref(n.Content[i+1])
		}
	}
	return values
}

var configKeys = []string{"honeypot", "min_seconds", "rate_limit", "waiting_cap", "captcha"}

func (d *decoder) config(n *yaml.Node) Config {
	var cfg Config
	if n == nil || n.Tag == "!!null" {
		return cfg
	}
	if n.Kind != yaml.MappingNode {
		d.errs = append(d.errs, fmt.Errorf(": must be a mapping of %s", strings.Join(configKeys, ", ")))
		return cfg
	}
	v := d.mapping("", n, configKeys)

	if h := v["honeypot"]; h != nil {
		name, ok := yamlnode.String(h)
		switch {
		case !ok || !fieldName.MatchString(name):
			d.fail("honeypot", "must be a field name (letters, digits, _ . -; up to 64)")
		case strings.HasPrefix(name, "_lb_"):
			d.fail("honeypot", "%q: names starting with _lb_ are leadbridge's own fields", name)
		default:
			cfg.Honeypot = name
		}
	}
	if m := v["min_seconds"]; m != nil {
		s, ok := number(m)
		if !ok || s < 0 || s > 3600 {
			d.fail("min_seconds", "must be a number of seconds from 0 to 3600")
		} else {
			cfg.MinFill = time.Duration(s * float64(time.Second))
		}
	}
	if r := v["rate_limit"]; r != nil {
		cfg.RateLimits = d.rateLimits(r)
		cfg.RateLimitOff = d.off
	}
	if cfg.MinFill > 0 && cfg.RateLimits.Token.IsZero() {
		cfg.RateLimits.Token = DefaultTokenRate
	}
	if w := v["waiting_cap"]; w != nil {
		n, err := strconv.ParseInt(w.Value, 10, 64)
		if w.Kind != yaml.ScalarNode || w.Tag != "!!int" || err != nil || n < 1 {
			d.fail("waiting_cap", "must be a whole number of submissions, at least 1")
		} else {
			cfg.WaitingCap = n
		}
	}
	if c := v["captcha"]; c != nil {
		cfg.Captcha = d.captcha(c)
	}
	return cfg
}

func (d *decoder) rateLimits(n *yaml.Node) flood.Limits {
	var l flood.Limits
	if s, ok := yamlnode.String(n); ok {
		if s == "off" {
			d.off = true
			return l
		}
		l.IPForm = d.rate("rate_limit", s)
		return l
	}
	if n.Kind != yaml.MappingNode {
		d.fail("rate_limit", "must be a rate such as 10/minute, or a mapping of per_ip, per_form and per_token")
		return l
	}
	v := d.mapping("rate_limit", n, []string{"per_ip", "per_form", "per_token"})
	for _, f := range []struct {
		key string
		dst *flood.Rate
	}{{"per_ip", &l.IPForm}, {"per_form", &l.Form}, {"per_token", &l.Token}} {
		if r := v[f.key]; r != nil {
			s, ok := yamlnode.String(r)
			if !ok {
				d.fail("rate_limit."+f.key, "must be a rate such as 10/minute")
				continue
			}
			*f.dst = d.rate("rate_limit."+f.key, s)
		}
	}
	return l
}

func (d *decoder) rate(key, s string) flood.Rate {
	r, err := flood.ParseRate(s)
	if err != nil {
		d.fail(key, "%v", err)
	}
	return r
}

var captchaKeys = []string{"provider", "site_key", "secret", "threshold", "action", "on_unavailable"}

func (d *decoder) captcha(n *yaml.Node) *Captcha {
	if n.Kind != yaml.MappingNode {
		d.fail("captcha", "must be a mapping with at least provider, site_key and secret")
		return nil
	}
	v := d.mapping("captcha", n, captchaKeys)
	c := &Captcha{}
	names := make([]string, len(Providers))
	for i, p := range Providers {
		names[i] = string(p)
	}
	switch p, ok := yamlnode.String(v["provider"]); {
	case v["provider"] == nil:
		d.fail("captcha.provider", "missing (one of %s)", strings.Join(names, ", "))
	case !ok || !slices.Contains(Providers, Provider(p)):
		d.fail("captcha.provider", "unknown provider %q (want one of %s)", v["provider"].Value, strings.Join(names, ", "))
	default:
		c.Provider = Provider(p)
	}
	// A Turnstile site key starts with 0x and YAML may read it as a hex
	// number: take the text as written.
	switch k, ok := keyText(v["site_key"]); {
	case v["site_key"] == nil:
		d.fail("captcha.site_key", "missing: the public key the widget is shown with")
	case !ok || k == "":
		d.fail("captcha.site_key", "must be the widget's public key")
	default:
		c.SiteKey = k
	}
	switch ref, ok := yamlnode.String(v["secret"]); {
	case v["secret"] == nil:
		d.fail("captcha.secret", "missing: env:NAME or file:/path")
	case !ok || !(strings.HasPrefix(ref, "env:") || strings.HasPrefix(ref, "file:")):
		// The value is not quoted: it may be the secret itself.
		d.fail("captcha.secret", "secrets are never written in the file: use env:NAME or file:/path")
	default:
		c.Secret = d.secret(ref)
	}
	if t := v["threshold"]; t != nil {
		f, ok := number(t)
		switch {
		case c.Provider != "" && c.Provider != RecaptchaV3:
			d.fail("captcha.threshold", "only recaptcha-v3 gives a score")
		case !ok || f < 0 || f > 1:
			d.fail("captcha.threshold", "must be a score from 0 to 1")
		default:
			c.Threshold = f
		}
	}
	if a := v["action"]; a != nil {
		s, ok := yamlnode.String(a)
		switch {
		case c.Provider != "" && c.Provider != RecaptchaV3 && c.Provider != Turnstile:
			d.fail("captcha.action", "only recaptcha-v3 and turnstile report an action")
		case !ok || s == "":
			d.fail("captcha.action", "must be the action name the widget is given")
		default:
			c.Action = s
		}
	}
	if o := v["on_unavailable"]; o != nil {
		s, _ := yamlnode.String(o)
		if s != OnUnavailableAccept && s != OnUnavailableHold {
			d.fail("captcha.on_unavailable", "must be accept or hold")
		} else {
			c.OnUnavailable = s
		}
	}
	if c.Provider == RecaptchaV3 && c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	return c
}

// secret resolves the captcha secret's reference. Its errors are the
// resolver's, which name the variable or file, never the secret.
func (d *decoder) secret(ref string) Secret {
	s, err := d.resolve(ref)
	if err == nil && s == "" {
		err = errors.New("the secret is empty")
	}
	if err != nil {
		d.fail("captcha.secret", "%v", err)
		return ""
	}
	return Secret(s)
}

// keyText is a key's text as written, whether YAML read it as a string or
// a number.
func keyText(n *yaml.Node) (string, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		return n.Value, true
	}
	return yamlnode.String(n)
}

// number returns an int or float scalar's value.
func number(n *yaml.Node) (float64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, false
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	return f, err == nil
}
