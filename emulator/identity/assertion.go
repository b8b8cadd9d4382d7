package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client assertions: instead of a secret, an app may authenticate with a
// signed JWT (RFC 7523) in client_assertion. Entra takes two kinds, and so
// does the emulator:
//
//   - A certificate assertion, which the app signs with the private key of a
//     certificate registered on it: iss = sub = the client id, aud = the
//     token endpoint, exp, nbf and a fresh jti; the header names the
//     certificate by its SHA-1 (x5t, with RS256) or SHA-256 (x5t#S256, with
//     PS256, what MSAL sends to Entra) thumbprint, base64url (MSAL Go sends
//     standard base64; both are accepted). An x5c header, when sent, must
//     start with that certificate; trust by subject name and issuer alone
//     (without registering the certificate) is not emulated.
//   - A federated assertion (workload identity federation): a token another
//     issuer gave the workload (a Kubernetes service account token, say),
//     accepted when a federated identity credential of the app names its
//     issuer, its subject and one of its audiences, and the issuer's key
//     verifies it. Entra reads that key from the issuer's OpenID
//     configuration; the emulator is given it.
//
// An assertion whose iss is the client id is a certificate assertion; any
// other is federated. The AADSTS codes are Entra's: 50027 malformed JWT,
// 700021 sub not the client id, 700023 wrong audience, 700024 outside its
// time range, 700027 a certificate not registered on the app (or a
// signature that does not verify, or a registered certificate that has
// expired), 70021 no federated credential matches. Which code Entra gives
// for a replayed jti is not known here: the emulator answers 50027. The
// messages are Entra's as seen in its answers, shortened where they link to
// documentation.

// clientAssertionType is the only client_assertion_type Entra accepts.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultFederatedAudience is the audience Entra suggests for federated
// identity credentials, and the one used when a credential lists none.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

// clockSkew is how far exp and nbf may be off the emulator's clock.
const clockSkew = 5 * time.Minute

// Credentials are an app registration's credentials besides its secret.
type Credentials struct {
	// Certificates are its certificate credentials: an assertion signed
	// with the key of one of them, while it is valid, authenticates the
	// app.
	Certificates []*x509.Certificate
	// Federated are its federated identity credentials.
	Federated []FederatedCredential
}

// FederatedCredential trusts tokens of one subject from one issuer.
type FederatedCredential struct {
	Name      string
	Issuer    string
	Subject   string
	Audiences []string // none = DefaultFederatedAudience
	// IssuerKeys verify the issuer's tokens (*rsa.PublicKey or
	// *ecdsa.PublicKey).
	IssuerKeys []crypto.PublicKey
}

// refusal is an Entra error answer.
type refusal struct {
	status int
	code   string
	num    int
	desc   string
}

func invalidClient(num int, desc string) *refusal {
	return &refusal{http.StatusUnauthorized, "invalid_client", num, desc}
}

func malformed(reason string) *refusal {
	return &refusal{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed. [Reason - " + reason + "]"}
}

// jwtParts is a decoded compact JWT.
type jwtParts struct {
	header       map[string]any
	claims       map[string]any
	signedPart   string // header.payload, what the signature covers
	signature    []byte
	alg          string
	issuer, subj string
}

func parseJWT(s string) (*jwtParts, *refusal) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, malformed("The assertion is not a JWS in compact form (three dot-separated parts).")
	}
	j := &jwtParts{signedPart: parts[0] + "." + parts[1]}
	for i, dst := range []*map[string]any{&j.header, &j.claims} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return nil, malformed("The assertion's " + []string{"header", "payload"}[i] + " is not base64url.")
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil || *dst == nil {
			return nil, malformed("The assertion's " + []string{"header", "payload"}[i] + " is not a JSON object.")
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil || len(sig) == 0 {
		return nil, malformed("The assertion's signature is not base64url.")
	}
	j.signature = sig
	j.alg, _ = j.header["alg"].(string)
	j.issuer, _ = j.claims["iss"].(string)
	j.subj, _ = j.claims["sub"].(string)
	if j.issuer == "" || j.subj == "" {
		return nil, malformed("The assertion has no 'iss' or no 'sub' claim.")
	}
	return j, nil
}

// audiences are the aud claim's values (a string or an array of them).
func (j *jwtParts) audiences() []string {
	switch v := j.claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// unixClaim reads a NumericDate claim.
func (j *jwtParts) unixClaim(name string) (time.Time, bool) {
	n, ok := j.claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// checkTimes refuses an assertion past its exp or before its nbf.
func (j *jwtParts) checkTimes(now time.Time) *refusal {
	exp, ok := j.unixClaim("exp")
	if !ok {
		return malformed("The assertion has no 'exp' claim.")
	}
	nbf, hasNbf := j.unixClaim("nbf")
	if now.After(exp.Add(clockSkew)) || (hasNbf && now.Add(clockSkew).Before(nbf)) {
		from := "(none)"
		if hasNbf {
			from = entraTime(nbf)
		}
		return invalidClient(700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
			entraTime(now), from, entraTime(exp)))
	}
	return nil
}

func entraTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// verifySignature checks the JWS signature with key for the RS256, PS256
// and ES256 algorithms.
func (j *jwtParts) verifySignature(key crypto.PublicKey) bool {
	sum := sha256.Sum256([]byte(j.signedPart))
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch j.alg {
		case "RS256":
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], j.signature) == nil
		case "PS256":
			return rsa.VerifyPSS(k, crypto.SHA256, sum[:], j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
	case *ecdsa.PublicKey:
		if j.alg == "ES256" && len(j.signature) == 64 {
			r, s := new(big.Int).SetBytes(j.signature[:32]), new(big.Int).SetBytes(j.signature[32:])
			return ecdsa.Verify(k, sum[:], r, s)
		}
	}
	return false
}

// decodeThumbprint accepts base64url or standard base64, padded or not.
func decodeThumbprint(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// assertionChecker verifies client assertions and remembers the jti of
// every certificate assertion until it expires, so that none is used twice.
type assertionChecker struct {
	mu   sync.Mutex
	seen map[string]time.Time // jti → when it may be forgotten
}

func newAssertionChecker() *assertionChecker {
	return &assertionChecker{seen: map[string]time.Time{}}
}

// check verifies a client assertion for clientID sent to tokenEndpoint
// (the URL the request came to).
func (a *assertionChecker) check(form map[string][]string, clientID string, tokenEndpoints []string, creds Credentials, now time.Time) *refusal {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if t := get("client_assertion_type"); t != clientAssertionType {
		if t == "" {
			return &refusal{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_assertion_type'."}
		}
		return &refusal{http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The provided value for the input parameter 'client_assertion_type' is not valid. Expected '%s'.", clientAssertionType)}
	}
	j, r := parseJWT(get("client_assertion"))
	if r != nil {
		return r
	}
	if j.issuer == clientID {
		return a.checkCertificate(j, clientID, tokenEndpoints, creds.Certificates, now)
	}
	return checkFederated(j, creds.Federated, now)
}

func (a *assertionChecker) checkCertificate(j *jwtParts, clientID string, tokenEndpoints []string, certs []*x509.Certificate, now time.Time) *refusal {
	if j.subj != clientID {
		return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	// The certificate the header names, by SHA-256 or SHA-1 thumbprint.
	var want []byte
	var sum func(*x509.Certificate) []byte
	if v, ok := j.header["x5t#S256"].(string); ok {
		want, ok = decodeThumbprint(v)
		if !ok {
			return malformed("The assertion's 'x5t#S256' header is not base64.")
		}
		sum = func(c *x509.Certificate) []byte { s := sha256.Sum256(c.Raw); return s[:] }
	} else if v, ok := j.header["x5t"].(string); ok {
		want, ok = decodeThumbprint(v)
		if !ok {
			return malformed("The assertion's 'x5t' header is not base64.")
		}
		sum = func(c *x509.Certificate) []byte { s := sha1.Sum(c.Raw); return s[:] }
	} else {
		return invalidClient(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The key was not found., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", clientID))
	}
	thumb := strings.ToUpper(fmt.Sprintf("%x", want))
	var cert *x509.Certificate
	for _, c := range certs {
		if string(sum(c)) == string(want) {
			cert = c
			break
		}
	}
	if cert == nil {
		return invalidClient(700027, fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", thumb, clientID))
	}
	if x5c, ok := j.header["x5c"]; ok && !chainStartsWith(x5c, cert) {
		return invalidClient(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The certificate chain in 'x5c' does not start with the certificate of the thumbprint., Thumbprint of key used by client: '%s']", thumb))
	}
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return invalidClient(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The key used is expired., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
			thumb, cert.NotBefore.UTC().Format("01/02/2006 15:04:05"), cert.NotAfter.UTC().Format("01/02/2006 15:04:05")))
	}
	if j.alg != "RS256" && j.alg != "PS256" {
		return invalidClient(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The signing algorithm '%s' is not supported; use RS256 or PS256., Thumbprint of key used by client: '%s']", j.alg, thumb))
	}
	if !j.verifySignature(cert.PublicKey) {
		return invalidClient(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
			thumb, cert.NotBefore.UTC().Format("01/02/2006 15:04:05"), cert.NotAfter.UTC().Format("01/02/2006 15:04:05")))
	}
	if !audienceIn(j.audiences(), tokenEndpoints) {
		return invalidClient(700023, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	if r := j.checkTimes(now); r != nil {
		return r
	}
	jti, _ := j.claims["jti"].(string)
	if jti == "" {
		return malformed("The assertion has no 'jti' claim.")
	}
	// Kept until the assertion expires, but no longer than a day: an
	// assertion valid for years must not pin memory for years.
	exp, _ := j.unixClaim("exp")
	until := exp.Add(clockSkew)
	if day := now.Add(24 * time.Hour); until.After(day) {
		until = day
	}
	return a.remember(jti, until, now)
}

// chainStartsWith reports whether an x5c header (base64 DER certificates,
// the signer's first) begins with cert.
func chainStartsWith(x5c any, cert *x509.Certificate) bool {
	list, ok := x5c.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	first, ok := list[0].(string)
	if !ok {
		return false
	}
	der, err := base64.StdEncoding.DecodeString(first)
	return err == nil && string(der) == string(cert.Raw)
}

// remember records a certificate assertion's jti, refusing one seen before.
func (a *assertionChecker) remember(jti string, until, now time.Time) *refusal {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.seen[jti]; ok && now.Before(t) {
		return malformed(fmt.Sprintf("The client assertion with jti '%s' has already been used.", jti))
	}
	if len(a.seen) >= 10_000 {
		for k, t := range a.seen {
			if !now.Before(t) {
				delete(a.seen, k)
			}
		}
	}
	a.seen[jti] = until
	return nil
}

func checkFederated(j *jwtParts, fics []FederatedCredential, now time.Time) *refusal {
	auds := j.audiences()
	var match *FederatedCredential
	for i, f := range fics {
		want := f.Audiences
		if len(want) == 0 {
			want = []string{DefaultFederatedAudience}
		}
		if f.Issuer == j.issuer && f.Subject == j.subj && audienceIn(auds, want) {
			match = &fics[i]
			break
		}
	}
	if match == nil {
		return invalidClient(70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://docs.microsoft.com/azure/active-directory/develop/workload-identity-federation",
			j.issuer, j.subj, strings.Join(auds, ",")))
	}
	verified := false
	for _, k := range match.IssuerKeys {
		if j.verifySignature(k) {
			verified = true
			break
		}
	}
	if !verified {
		return invalidClient(700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The key was not found among the keys of issuer '%s'.]", j.issuer))
	}
	return j.checkTimes(now)
}

// audienceIn reports whether one of got is among want (URLs compared
// without case or a trailing slash).
func audienceIn(got, want []string) bool {
	for _, g := range got {
		for _, w := range want {
			if strings.EqualFold(strings.TrimRight(g, "/"), strings.TrimRight(w, "/")) {
				return true
			}
		}
	}
	return false
}

// errNoKey is returned by ParsePublicKey for PEM without a usable key.
var errNoKey = errors.New("no PEM CERTIFICATE or PUBLIC KEY block with an RSA or ECDSA key")

// ParsePublicKey reads a PEM public key ("PUBLIC KEY") or the key of a PEM
// certificate, as a federated issuer's signing key is given to the emulator.
func ParsePublicKey(pemText []byte) (crypto.PublicKey, error) {
	for {
		var b *pem.Block
		b, pemText = pem.Decode(pemText)
		if b == nil {
			return nil, errNoKey
		}
		var key any
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			key = c.PublicKey
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			key = k
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			key = k
		default:
			continue
		}
		switch key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			return key, nil
		}
		return nil, errNoKey
	}
}
