package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Why a delivery was refused. Verify returns them inside a *VerifyError, so
// errors.Is(err, ErrStale) tells one reason from another (for logs and
// metrics); every one of them is a 401 to the sender.
var (
	// ErrMissing: a header, query parameter or body key that the scheme
	// needs is absent.
	ErrMissing = errors.New("missing credential")
	// ErrMalformed: the credential is there but cannot be read (a timestamp
	// that is not a number, a signature that is not hex or base64, a body
	// that is not JSON where the key is inside it).
	ErrMalformed = errors.New("malformed credential")
	// ErrStale: the signed timestamp is too far from now, in the past
	// (a replay) or in the future.
	ErrStale = errors.New("timestamp outside the window")
	// ErrNoMatch: the credential is well-formed, but no configured secret
	// produces it.
	ErrNoMatch = errors.New("no secret matched")
)

// VerifyError is a refused delivery. Detail names what was wrong — a header
// name, how far off a timestamp was — and never holds a secret, a signature,
// a token or any other value the sender chose.
type VerifyError struct {
	Err    error // ErrMissing, ErrMalformed, ErrStale or ErrNoMatch
	Detail string
}

func (e *VerifyError) Error() string { return "webhook: " + e.Err.Error() + ": " + e.Detail }

// Unwrap returns Err, for errors.Is.
func (e *VerifyError) Unwrap() error { return e.Err }

func refuse(err error, format string, args ...any) error {
	return &VerifyError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// Timestamp windows. Each scheme's own libraries or samples set them.
const (
	// Standard Webhooks, Svix, HubSpot v3 (its SDKs: 300000 ms), and our
	// generic-hmac.
	window = 5 * time.Minute
	// Calendly's own sample code refuses signatures older than 3 minutes.
	calendlyWindow = 3 * time.Minute
)

// Verify authenticates a delivery from its raw bytes, as its kind's scheme
// says, before anything parses it; now is the clock for timestamp windows.
// Any of the source's secrets may match, and so may any of several
// signatures in one header where the scheme has lists. Comparisons are
// constant-time. It returns nil or a *VerifyError (ErrMissing, ErrMalformed,
// ErrStale, ErrNoMatch).
//
// Per kind:
//   - standard-webhooks, svix: webhook-id, webhook-timestamp and
//     webhook-signature, or the same with svix-; "v1,<base64>" entries,
//     space-separated; HMAC-SHA256 of "{id}.{timestamp}.{body}" under the
//     decoded whsec_ key; timestamp within 5 minutes either way.
//   - hubspot-v3: X-HubSpot-Signature-v3, base64 HMAC-SHA256 of the method,
//     URI, body and X-HubSpot-Request-Timestamp run together (milliseconds,
//     within 5 minutes either way), the URI with %3A %2F %3F %40 %21 %24 %27
//     %28 %29 %2A %2C %3B decoded. When only X-HubSpot-Signature is sent,
//     X-HubSpot-Signature-Version v1 (hex SHA-256 of secret + body) or v2
//     (hex SHA-256 of secret + method + URL + body); those have no
//     timestamp, so only delivery ids stop a replay.
//   - typeform: Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>.
//   - calendly: Calendly-Webhook-Signature: t=<seconds>,v1=<hex HMAC-SHA256
//     of "t.body">, t within 3 minutes either way.
//   - meta-leadgen: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//     under the app secret.
//   - generic-hmac: Header, after Prefix, in Encoding, HMAC-SHA256 of the
//     body or, with TimestampHeader, of "<timestamp>.<body>" (seconds,
//     within 5 minutes either way).
//   - google-ads: the body's google_key. The body is decoded for that key
//     alone.
//   - unbounce: the token in Header if set, else in the URL's key parameter.
//   - mailchimp: the token in the URL's key parameter.
//   - token: Authorization: Basic with Username and a secret as the
//     password; else the token as Header's whole value; else
//     Authorization: Bearer <token>.
func (s *Source) Verify(r Request, now time.Time) error {
	switch s.Kind {
	case KindStandardWebhooks, KindSvix:
		return verifyStandard(s.Secrets, r, now)
	case KindHubSpotV3:
		return verifyHubSpot(s.Secrets, r, now)
	case KindTypeform:
		return verifyPrefixed(s.Secrets, r, "Typeform-Signature", "sha256=", base64.StdEncoding.DecodeString)
	case KindCalendly:
		return verifyCalendly(s.Secrets, r, now)
	case KindMetaLeadgen:
		return verifyPrefixed(s.Secrets, r, "X-Hub-Signature-256", "sha256=", hex.DecodeString)
	case KindGenericHMAC:
		return s.verifyGeneric(r, now)
	case KindGoogleAds:
		return verifyGoogle(s.Secrets, r)
	case KindUnbounce:
		if s.Header != "" {
			return verifyHeaderToken(s.Secrets, r, s.Header)
		}
		return verifyURLToken(s.Secrets, r)
	case KindMailchimp:
		return verifyURLToken(s.Secrets, r)
	case KindToken:
		return s.verifyToken(r)
	}
	// LoadSources refuses unknown kinds; a Source made by hand may not.
	return refuse(ErrNoMatch, "kind %q has no verifier", s.Kind)
}

// hmacMatches reports whether some signature is the HMAC-SHA256 of msg under
// some secret.
func hmacMatches(secrets []Secret, sigs [][]byte, msg ...[]byte) bool {
	return sumMatches(secrets, sigs, func(key []byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range msg {
			m.Write(p)
		}
		return m.Sum(nil)
	})
}

// sumMatches reports whether some signature equals sum(secret) for some
// secret. hmac.Equal is constant-time for equal lengths, and a signature's
// length is no secret.
func sumMatches(secrets []Secret, sigs [][]byte, sum func(key []byte) []byte) bool {
	for _, s := range secrets {
		want := sum(s.b)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return true
			}
		}
	}
	return false
}

// tokenMatches compares a token the sender presented with every secret in
// constant time. Comparing SHA-256 digests, which have one length, keeps
// the time independent of the secret's length too.
func tokenMatches(secrets []Secret, got string) bool {
	g := sha256.Sum256([]byte(got))
	ok := 0
	for _, s := range secrets {
		w := sha256.Sum256(s.b)
		ok |= subtle.ConstantTimeCompare(g[:], w[:])
	}
	return ok == 1
}

// checkWindow refuses a timestamp that is tol or more away from now, either
// way. Durations saturate, so absurd timestamps are refused, not wrapped.
func checkWindow(ts, now time.Time, tol time.Duration) error {
	if age := now.Sub(ts); age >= tol {
		return refuse(ErrStale, "timestamp %s old, the limit is %s", age.Round(time.Second), tol)
	}
	if ahead := ts.Sub(now); ahead >= tol {
		return refuse(ErrStale, "timestamp %s in the future, the limit is %s", ahead.Round(time.Second), tol)
	}
	return nil
}

func parseSeconds(v, header string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, refuse(ErrMalformed, "%s is not a Unix time in seconds", header)
	}
	return time.Unix(n, 0), nil
}

func verifyStandard(secrets []Secret, r Request, now time.Time) error {
	// Svix's libraries accept either header set, since white-labelled Svix
	// accounts send webhook-*; Standard Webhooks senders send webhook-*.
	names := [3]string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}
	if r.Header.Get("Svix-Signature") != "" || r.Header.Get("Svix-Id") != "" {
		names = [3]string{"Svix-Id", "Svix-Timestamp", "Svix-Signature"}
	}
	var vals [3]string
	for i, n := range names {
		if vals[i] = r.Header.Get(n); vals[i] == "" {
			return refuse(ErrMissing, "header %s", n)
		}
	}
	id, ts, header := vals[0], vals[1], vals[2]
	t, err := parseSeconds(ts, names[1])
	if err != nil {
		return err
	}
	if err := checkWindow(t, now, window); err != nil {
		return err
	}
	var sigs [][]byte
	for _, entry := range strings.Fields(header) {
		version, sig, _ := strings.Cut(entry, ",")
		if version != "v1" {
			continue // v1a (ed25519) and future versions: not ours to check
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil && len(b) > 0 {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return refuse(ErrMalformed, "%s has no v1 entry in base64", names[2])
	}
	if !hmacMatches(secrets, sigs, []byte(id), []byte("."), []byte(ts), []byte("."), r.Body) {
		return refuse(ErrNoMatch, "%s", names[2])
	}
	return nil
}

func verifyHubSpot(secrets []Secret, r Request, now time.Time) error {
	if sig := r.Header.Get("X-HubSpot-Signature-v3"); sig != "" {
		ts := r.Header.Get("X-HubSpot-Request-Timestamp")
		if ts == "" {
			return refuse(ErrMissing, "header X-HubSpot-Request-Timestamp")
		}
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return refuse(ErrMalformed, "X-HubSpot-Request-Timestamp is not a Unix time in milliseconds")
		}
		// HubSpot's SDKs refuse only old timestamps; a future one is
		// refused here as well, since a clock that far ahead is as
		// suspect as one behind.
		if err := checkWindow(time.UnixMilli(ms), now, window); err != nil {
			return err
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return refuse(ErrMalformed, "X-HubSpot-Signature-v3 is not base64")
		}
		if !hmacMatches(secrets, [][]byte{b}, []byte(r.Method), []byte(hubspotURI(r.URL)), r.Body, []byte(ts)) {
			return refuse(ErrNoMatch, "X-HubSpot-Signature-v3")
		}
		return nil
	}
	// v1 and v2: sent alone by older apps and workflow actions. A v3
	// signature that fails is not retried as v1: the fallback is only for
	// senders that do not sign v3 at all.
	sig := r.Header.Get("X-HubSpot-Signature")
	if sig == "" {
		return refuse(ErrMissing, "header X-HubSpot-Signature-v3 (or X-HubSpot-Signature)")
	}
	b, err := hex.DecodeString(sig)
	if err != nil {
		return refuse(ErrMalformed, "X-HubSpot-Signature is not hex")
	}
	var tail []byte
	switch v := r.Header.Get("X-HubSpot-Signature-Version"); v {
	case "v1":
		tail = r.Body
	case "v2":
		tail = append([]byte(r.Method+r.URL), r.Body...)
	case "":
		return refuse(ErrMissing, "header X-HubSpot-Signature-Version")
	default:
		return refuse(ErrMalformed, "X-HubSpot-Signature-Version is neither v1 nor v2")
	}
	// v1 and v2 are plain SHA-256 of the secret followed by the text, not
	// an HMAC.
	ok := sumMatches(secrets, [][]byte{b}, func(key []byte) []byte {
		h := sha256.New()
		h.Write(key)
		h.Write(tail)
		return h.Sum(nil)
	})
	if !ok {
		return refuse(ErrNoMatch, "X-HubSpot-Signature")
	}
	return nil
}

// hubspotDecoded are the characters whose percent-escapes HubSpot decodes
// in the URI it signs with v3; every other escape (%20, %26, %3D…) stays as
// it was sent.
const hubspotDecoded = ":/?@!$'()*,;"

func hubspotURI(u string) string {
	if !strings.Contains(u, "%") {
		return u
	}
	var b strings.Builder
	b.Grow(len(u))
	for i := 0; i < len(u); i++ {
		if u[i] == '%' && i+2 < len(u) {
			if c, err := hex.DecodeString(u[i+1 : i+3]); err == nil && strings.IndexByte(hubspotDecoded, c[0]) >= 0 {
				b.WriteByte(c[0])
				i += 2
				continue
			}
		}
		b.WriteByte(u[i])
	}
	return b.String()
}

// verifyPrefixed checks a "<prefix><encoded HMAC-SHA256 of the body>" header
// (Typeform, Meta).
func verifyPrefixed(secrets []Secret, r Request, header, prefix string, decode func(string) ([]byte, error)) error {
	v := r.Header.Get(header)
	if v == "" {
		return refuse(ErrMissing, "header %s", header)
	}
	enc, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return refuse(ErrMalformed, "%s does not start with %q", header, prefix)
	}
	sig, err := decode(enc)
	if err != nil || len(sig) == 0 {
		return refuse(ErrMalformed, "%s is not encoded as the scheme says", header)
	}
	if !hmacMatches(secrets, [][]byte{sig}, r.Body) {
		return refuse(ErrNoMatch, "%s", header)
	}
	return nil
}

func verifyCalendly(secrets []Secret, r Request, now time.Time) error {
	const header = "Calendly-Webhook-Signature"
	v := r.Header.Get(header)
	if v == "" {
		return refuse(ErrMissing, "header %s", header)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = val
		case "v1":
			if b, err := hex.DecodeString(val); err == nil && len(b) > 0 {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" {
		return refuse(ErrMalformed, "%s has no t=", header)
	}
	t, err := parseSeconds(ts, header+" t")
	if err != nil {
		return err
	}
	if err := checkWindow(t, now, calendlyWindow); err != nil {
		return err
	}
	if len(sigs) == 0 {
		return refuse(ErrMalformed, "%s has no v1= in hex", header)
	}
	if !hmacMatches(secrets, sigs, []byte(ts), []byte("."), r.Body) {
		return refuse(ErrNoMatch, "%s", header)
	}
	return nil
}

func (s *Source) verifyGeneric(r Request, now time.Time) error {
	v := r.Header.Get(s.Header)
	if v == "" {
		return refuse(ErrMissing, "header %s", s.Header)
	}
	enc, ok := strings.CutPrefix(v, s.Prefix)
	if !ok {
		return refuse(ErrMalformed, "%s does not start with %q", s.Header, s.Prefix)
	}
	var sig []byte
	var err error
	if s.Encoding == "base64" {
		sig, err = decodeBase64(enc)
	} else {
		sig, err = hex.DecodeString(enc)
	}
	if err != nil || len(sig) == 0 {
		return refuse(ErrMalformed, "%s is not %s", s.Header, s.Encoding)
	}
	if s.TimestampHeader == "" {
		if !hmacMatches(s.Secrets, [][]byte{sig}, r.Body) {
			return refuse(ErrNoMatch, "%s", s.Header)
		}
		return nil
	}
	ts := r.Header.Get(s.TimestampHeader)
	if ts == "" {
		return refuse(ErrMissing, "header %s", s.TimestampHeader)
	}
	t, err := parseSeconds(ts, s.TimestampHeader)
	if err != nil {
		return err
	}
	if err := checkWindow(t, now, window); err != nil {
		return err
	}
	if !hmacMatches(s.Secrets, [][]byte{sig}, []byte(ts), []byte("."), r.Body) {
		return refuse(ErrNoMatch, "%s", s.Header)
	}
	return nil
}

func verifyGoogle(secrets []Secret, r Request) error {
	// The key is inside the body, so this scheme must parse before it can
	// trust: decode into a struct with the one key and nothing else, and
	// let Leads decode the payload afresh once the key has matched.
	var p struct {
		GoogleKey *string `json:"google_key"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return refuse(ErrMalformed, "the body is not a JSON object")
	}
	if p.GoogleKey == nil {
		return refuse(ErrMissing, "google_key in the body")
	}
	if !tokenMatches(secrets, *p.GoogleKey) {
		return refuse(ErrNoMatch, "google_key")
	}
	return nil
}

func verifyURLToken(secrets []Secret, r Request) error {
	u, err := url.Parse(r.URL)
	if err != nil {
		return refuse(ErrMalformed, "the request URL")
	}
	tok := u.Query().Get(TokenParam)
	if tok == "" {
		return refuse(ErrMissing, "query parameter %s", TokenParam)
	}
	if !tokenMatches(secrets, tok) {
		return refuse(ErrNoMatch, "query parameter %s", TokenParam)
	}
	return nil
}

func verifyHeaderToken(secrets []Secret, r Request, header string) error {
	tok := strings.TrimSpace(r.Header.Get(header))
	if tok == "" {
		return refuse(ErrMissing, "header %s", header)
	}
	if !tokenMatches(secrets, tok) {
		return refuse(ErrNoMatch, "header %s", header)
	}
	return nil
}

func (s *Source) verifyToken(r Request) error {
	if s.Header != "" {
		return verifyHeaderToken(s.Secrets, r, s.Header)
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return refuse(ErrMissing, "header Authorization")
	}
	scheme, cred, _ := strings.Cut(auth, " ")
	cred = strings.TrimSpace(cred)
	if s.Username == "" {
		if !strings.EqualFold(scheme, "Bearer") || cred == "" {
			return refuse(ErrMalformed, "Authorization is not Bearer")
		}
		if !tokenMatches(s.Secrets, cred) {
			return refuse(ErrNoMatch, "Authorization")
		}
		return nil
	}
	if !strings.EqualFold(scheme, "Basic") {
		return refuse(ErrMalformed, "Authorization is not Basic")
	}
	dec, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return refuse(ErrMalformed, "Authorization Basic is not base64")
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok {
		return refuse(ErrMalformed, "Authorization Basic has no user:password")
	}
	// Both halves are always compared, so the time does not tell a right
	// user name with a wrong password from a wrong user name.
	userOK := tokenMatches([]Secret{{b: []byte(s.Username)}}, user)
	passOK := tokenMatches(s.Secrets, pass)
	if !userOK || !passOK {
		return refuse(ErrNoMatch, "Authorization Basic")
	}
	return nil
}
