package spam_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/spam"
)

var (
	key1 = []byte("k1-0123456789abcdef0123456789abcdef")
	key2 = []byte("k2-0123456789abcdef0123456789abcdef")
	t0   = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
)

func newTokens(t testing.TB, keys ...[]byte) *spam.Tokens {
	t.Helper()
	tk, err := spam.NewTokens(keys, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenRoundTrip(t *testing.T) {
	tk := newTokens(t, key1)
	a := tk.Issue("contact-us", t0)
	b := tk.Issue("contact-us", t0)
	if a == b {
		t.Fatal("two tokens issued at the same second are equal: the nonce is missing")
	}
	if len(a) != 76 {
		t.Errorf("token length %d, want 76", len(a))
	}
	tok, err := tk.Verify("contact-us", a, t0.Add(5*time.Second))
	if err != nil {
		t.Fatalf("Verify a fresh token: %v", err)
	}
	if got := tok.Age(t0.Add(5 * time.Second)); got != 5*time.Second {
		t.Errorf("Age = %s, want 5s", got)
	}
	if k := tok.ReplayKey(); len(k) != 32 || strings.ContainsAny(k, "ghijklmnopqrstuvwxyz") {
		t.Errorf("ReplayKey %q, want 32 hex digits", k)
	}
	tb, _ := tk.Verify("contact-us", b, t0)
	if tok.ReplayKey() == tb.ReplayKey() {
		t.Error("two tokens share a replay key")
	}
	if _, err := tk.Verify("contact-us", a, t0.Add(spam.DefaultMaxAge)); err != nil {
		t.Errorf("Verify at exactly the maximum age: %v, want valid", err)
	}
}

// flip changes the character at i to another valid base64url character
// (the last character keeps its unused bits zero, or strict decoding would
// catch it before the signature does).
func flip(tok string, i int) string {
	b := []byte(tok)
	switch {
	case i == len(b)-1 && b[i] == 'A':
		b[i] = 'E'
	case i == len(b)-1:
		b[i] = 'A'
	case b[i] == 'A':
		b[i] = 'B'
	default:
		b[i] = 'A'
	}
	return string(b)
}

func TestTokenRefused(t *testing.T) {
	tk := newTokens(t, key1)
	tok := tk.Issue("contact-us", t0)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	raw[0] = 2
	v2 := base64.RawURLEncoding.EncodeToString(raw)
	cases := []struct {
		name  string
		form  string
		token string
		now   time.Time
		want  error
	}{
		{"missing", "contact-us", "", t0, spam.ErrTokenMissing},
		{"garbage", "contact-us", "hello", t0, spam.ErrTokenMalformed},
		{"right length, not base64url", "contact-us", strings.Repeat("!", 76), t0, spam.ErrTokenMalformed},
		{"padded", "contact-us", tok + "==", t0, spam.ErrTokenMalformed},
		{"unknown version", "contact-us", v2, t0, spam.ErrTokenMalformed},
		{"issue time altered", "contact-us", flip(tok, 8), t0, spam.ErrTokenInvalid},
		{"nonce altered", "contact-us", flip(tok, 20), t0, spam.ErrTokenInvalid},
		{"signature altered", "contact-us", flip(tok, 60), t0, spam.ErrTokenInvalid},
		{"last character altered", "contact-us", flip(tok, 75), t0, spam.ErrTokenInvalid},
		{"another form's", "newsletter", tok, t0, spam.ErrTokenInvalid},
		{"a form whose id extends this one's", "contact-us2", tok, t0, spam.ErrTokenInvalid},
		{"expired", "contact-us", tok, t0.Add(spam.DefaultMaxAge + time.Second), spam.ErrTokenExpired},
		{"issued in the future", "contact-us", tok, t0.Add(-2 * time.Minute), spam.ErrTokenInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tk.Verify(c.form, c.token, c.now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
	if _, err := tk.Verify("contact-us", tok, t0.Add(-30*time.Second)); err != nil {
		t.Errorf("issued 30 s ahead of this replica's clock: %v, want valid (clock skew)", err)
	}
}

func TestTokenKeyRotation(t *testing.T) {
	old := newTokens(t, key1)
	rotating := newTokens(t, key2, key1)
	fresh := newTokens(t, key2)
	byOld := old.Issue("f", t0)
	byNew := rotating.Issue("f", t0)
	if _, err := rotating.Verify("f", byOld, t0); err != nil {
		t.Errorf("old key's token during rotation: %v, want valid", err)
	}
	if _, err := fresh.Verify("f", byNew, t0); err != nil {
		t.Errorf("rotation signs with the first key: %v from a verifier with only the new key", err)
	}
	if _, err := fresh.Verify("f", byOld, t0); !errors.Is(err, spam.ErrTokenInvalid) {
		t.Errorf("old key's token after the old key is dropped: %v, want ErrTokenInvalid", err)
	}
}

func TestNewTokensRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		keys   [][]byte
		maxAge time.Duration
	}{
		"no key":        {nil, 0},
		"short key":     {[][]byte{[]byte("short")}, 0},
		"short 2nd key": {[][]byte{key1, []byte("short")}, 0},
		"negative age":  {[][]byte{key1}, -time.Second},
	} {
		if _, err := spam.NewTokens(c.keys, c.maxAge); err == nil {
			t.Errorf("%s: nil error, want one", name)
		}
	}
}

func TestTokenMaxAge(t *testing.T) {
	tk, err := spam.NewTokens([][]byte{key1}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok := tk.Issue("f", t0)
	if _, err := tk.Verify("f", tok, t0.Add(61*time.Minute)); !errors.Is(err, spam.ErrTokenExpired) {
		t.Errorf("61 minutes old with a 1 h max age: %v, want ErrTokenExpired", err)
	}
}

// issued is a token Issue wrote for contact-us at t0 with key1. It is
// written out because the format is a contract: during a rolling deploy a
// page served by the old version is sent to the new one.
const issued = "AQAAAABrDpOYkmrLFaxB_P1_LhXHxl6Hol4zih2_LYt66SkA4jurIMAazaOrJBmZWMbftSMwiDYy"

func TestTokenFormatIsStable(t *testing.T) {
	tok, err := newTokens(t, key1).Verify("contact-us", issued, t0.Add(time.Minute))
	if err != nil || !tok.Issued.Equal(t0) {
		t.Fatalf("a token of this format: %v, issued %s; want valid, issued %s", err, tok.Issued, t0)
	}
}

// FuzzVerify: whatever comes in, Verify answers with one of its errors and
// never accepts a token it did not issue (the fuzzer cannot forge HMAC, so
// the only acceptable token is the seed issued here).
func FuzzVerify(f *testing.F) {
	tk := newTokens(f, key1)
	valid := issued
	f.Add("contact-us", valid)
	f.Add("contact-us", flip(valid, 40))
	f.Add("newsletter", valid)
	f.Add("contact-us", "")
	f.Add("", valid[:75])
	f.Add("contact-us", valid+"A")
	f.Add("x", strings.Repeat("_", 76))
	f.Fuzz(func(t *testing.T, form, token string) {
		tok, err := tk.Verify(form, token, t0.Add(time.Minute))
		if err == nil {
			if form != "contact-us" || token != valid {
				t.Fatalf("accepted a token leadbridge did not issue: form %q token %q", form, token)
			}
			if !tok.Issued.Equal(t0) {
				t.Fatalf("Issued = %s, want %s", tok.Issued, t0)
			}
			return
		}
		for _, e := range []error{spam.ErrTokenMissing, spam.ErrTokenMalformed, spam.ErrTokenInvalid, spam.ErrTokenExpired} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("Verify: %v is none of the documented errors", err)
	})
}
