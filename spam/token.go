package spam

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// TokenField is the form field that carries the form token. The hosted page
// and embed.js put it in every form they render.
const TokenField = "_lb_token"

// Errors returned by Tokens.Verify.
var (
	// ErrTokenMissing: no token was sent.
	ErrTokenMissing = errors.New("spam: no form token")
	// ErrTokenMalformed: the token is not one leadbridge writes (wrong
	// encoding, length or version).
	ErrTokenMalformed = errors.New("spam: form token malformed")
	// ErrTokenInvalid: the signature does not match: the token was altered,
	// was issued for another form, or under a key no longer configured, or
	// claims to be issued in the future.
	ErrTokenInvalid = errors.New("spam: form token invalid")
	// ErrTokenExpired: the token is older than the maximum age.
	ErrTokenExpired = errors.New("spam: form token expired")
)

const (
	tokenVersion = 1
	nonceLen     = 16
	macLen       = sha256.Size
	// tokenLen is version, issue time (Unix seconds, big-endian), nonce
	// and MAC.
	tokenLen = 1 + 8 + nonceLen + macLen
	// DefaultMaxAge is how long a token stays valid unless Tokens says
	// otherwise: a day, so that a form left open in a tab over lunch (or
	// overnight, nearly) still counts.
	DefaultMaxAge = 24 * time.Hour
	// futureSkew is how far in the future an issue time may be: replicas'
	// clocks differ a little.
	futureSkew = time.Minute
	// MinKeyLen is the shortest token key accepted.
	MinKeyLen = 32
)

// tokenEncoding is strict: a token has exactly one spelling, so that a
// re-encoded copy cannot pass for a different token (and dodge the
// per-token rate limit).
var tokenEncoding = base64.RawURLEncoding.Strict()

// Tokens issues and verifies form tokens: proof that a submission comes
// from a form leadbridge served, and of when it was served, so that a
// minimum fill time can be asked for.
//
// A token is base64url(version ‖ issued ‖ nonce ‖ HMAC-SHA256(key, form ‖
// version ‖ issued ‖ nonce)): 76 characters. It is bound to its form and
// its issue time, and to nothing else: not to the client's address (a phone
// changes address between loading a page and sending it), not to a cookie
// (embedded forms live on other sites, where third-party cookies are
// blocked), and it is not single-use (a person who sends twice, after a
// double click, a network retry or a correction, must not be taken for a
// bot). Replay is bounded instead by counting submissions per token (see
// ReplayKey and the flood package's per-token limit), so one token buys a
// handful of submissions, not thousands.
type Tokens struct {
	keys   [][]byte
	maxAge time.Duration
}

// NewTokens returns Tokens signing with keys[0] and accepting any of keys
// (list a new key first and keep the old one until its tokens have expired,
// to rotate without holding anyone's submission). Every key must have at
// least MinKeyLen bytes and be the same on every API replica. maxAge 0
// means DefaultMaxAge.
func NewTokens(keys [][]byte, maxAge time.Duration) (*Tokens, error) {
	if len(keys) == 0 {
		return nil, errors.New("spam: form tokens need a key")
	}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("spam: form token key %d has %d bytes, want at least %d", i+1, len(k), MinKeyLen)
		}
	}
	if maxAge < 0 {
		return nil, fmt.Errorf("spam: form token max age %s: must not be negative", maxAge)
	}
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	return &Tokens{keys: keys, maxAge: maxAge}, nil
}

// Issue returns a new token for form, issued at now.
func (t *Tokens) Issue(form string, now time.Time) string {
	b := make([]byte, tokenLen)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(now.Unix()))
	rand.Read(b[9 : 9+nonceLen]) // never fails (crypto/rand's contract since Go 1.24)
	copy(b[9+nonceLen:], sign(t.keys[0], form, b[:9+nonceLen]))
	return tokenEncoding.EncodeToString(b)
}

// Token is a verified token.
type Token struct {
	Issued time.Time
	nonce  []byte
}

// Age is how long before now the token was issued (negative if a replica's
// clock is ahead of this one's).
func (t Token) Age(now time.Time) time.Duration { return now.Sub(t.Issued) }

// Verify checks that token was issued by leadbridge for form, unaltered,
// no later than now (give or take a minute of clock skew) and no earlier
// than the maximum age. It returns ErrTokenMissing, ErrTokenMalformed,
// ErrTokenInvalid or ErrTokenExpired, each wrapped with detail an admin can
// read; the minimum fill time is the caller's to compare with Token.Age.
func (t *Tokens) Verify(form, token string, now time.Time) (Token, error) {
	if token == "" {
		return Token{}, ErrTokenMissing
	}
	if tokenEncoding.DecodedLen(len(token)) != tokenLen {
		return Token{}, fmt.Errorf("%w: %d characters, want %d", ErrTokenMalformed, len(token), tokenEncoding.EncodedLen(tokenLen))
	}
	b, err := tokenEncoding.DecodeString(token)
	if err != nil || len(b) != tokenLen {
		return Token{}, fmt.Errorf("%w: not base64url", ErrTokenMalformed)
	}
	if b[0] != tokenVersion {
		return Token{}, fmt.Errorf("%w: version %d", ErrTokenMalformed, b[0])
	}
	body, mac := b[:9+nonceLen], b[9+nonceLen:]
	ok := false
	for _, k := range t.keys {
		// Every key is tried, whatever matched: the time taken says nothing
		// about which key, if any, signed it.
		ok = hmac.Equal(mac, sign(k, form, body)) || ok
	}
	if !ok {
		return Token{}, fmt.Errorf("%w: signature does not match form %q", ErrTokenInvalid, form)
	}
	secs := binary.BigEndian.Uint64(b[1:9])
	if secs > uint64(now.Add(futureSkew).Unix()) {
		return Token{}, fmt.Errorf("%w: issued in the future (%d)", ErrTokenInvalid, secs)
	}
	tok := Token{Issued: time.Unix(int64(secs), 0), nonce: b[9 : 9+nonceLen]}
	if age := tok.Age(now); age > t.maxAge {
		return Token{}, fmt.Errorf("%w: issued %s ago, at %s; tokens last %s", ErrTokenExpired,
			age.Truncate(time.Second), tok.Issued.UTC().Format(time.RFC3339), t.maxAge)
	}
	return tok, nil
}

// sign is the MAC of a token's body for form. The form id is
// length-prefixed so that no (form, body) pair can be read as another.
func sign(key []byte, form string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	var n [binary.MaxVarintLen64]byte
	m.Write([]byte("leadbridge form token\x00"))
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(form)))])
	m.Write([]byte(form))
	m.Write(body)
	return m.Sum(nil)
}

// ReplayKey names a verified token for counting its uses (the flood
// package's per-token limit): its nonce in hex, which says nothing about
// who sent it.
func (t Token) ReplayKey() string { return hex.EncodeToString(t.nonce) }
