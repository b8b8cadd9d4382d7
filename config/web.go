package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/spam"
)

// Web is the API's settings for website forms: where it is reached, the
// keys of its form tokens, and the flood limits shared by every form.
type Web struct {
	// PublicURL is the API's address as browsers reach it
	// (LEADBRIDGE_PUBLIC_URL), without a trailing /: the base URL embed.js
	// posts to and links are made with; "" = embed.js uses the address it
	// was loaded from, and pages the request's own.
	PublicURL string
	// FormTokenKeys sign the form tokens (newest first); every replica
	// must have the same. Generated for this process when GeneratedKeys.
	FormTokenKeys [][]byte
	GeneratedKeys bool
	// LimiterSecret keys the hash of client addresses in Redis keys,
	// derived from the oldest form token key: adding a new key first does
	// not reset the counts.
	LimiterSecret []byte
	// RateLimitIP is every form together from one address
	// (LEADBRIDGE_RATE_LIMIT_IP), for forms that have rate limits.
	RateLimitIP flood.Rate
	// WaitingCap is a form's waiting submissions beyond which intake
	// answers 503 (LEADBRIDGE_WAITING_CAP), unless the form sets its own;
	// 0 = no cap.
	WaitingCap int64
	// RedisMemoryLimit is the Redis memory, in bytes, beyond which intake
	// answers 503 (LEADBRIDGE_REDIS_MEMORY_LIMIT); 0 = 90 % of Redis's
	// maxmemory, or no cap if that is unset.
	RedisMemoryLimit int64
}

// DefaultRateLimitIP is every form together from one address, unless
// LEADBRIDGE_RATE_LIMIT_IP says otherwise.
var DefaultRateLimitIP = flood.Rate{N: 60, Per: time.Minute}

// DefaultWaitingCap is a form's waiting submissions beyond which intake
// answers 503, when neither the form nor LEADBRIDGE_WAITING_CAP says.
const DefaultWaitingCap = 10000

func loadWeb(getenv Getenv, fs forms.Set) (Web, error) {
	w := Web{RateLimitIP: DefaultRateLimitIP, WaitingCap: DefaultWaitingCap}
	var errs []error
	if v := getenv("LEADBRIDGE_PUBLIC_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_PUBLIC_URL: %q is not an http:// or https:// address like https://leads.example.com", v))
		}
		w.PublicURL = strings.TrimRight(v, "/")
	}
	keys, err := formTokenKeys(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	if len(keys) == 0 {
		k := make([]byte, spam.MinKeyLen)
		rand.Read(k)
		keys, w.GeneratedKeys = [][]byte{k}, true
		var need []string
		for id, f := range fs {
			if f.Spam.MinFill > 0 {
				need = append(need, "forms."+id+".spam.min_seconds")
			}
		}
		sort.Strings(need)
		if len(need) > 0 {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_FORM_TOKEN_KEYS: %s needs form tokens that every API replica, and the next start, can verify: set at least 32 random bytes (e.g. openssl rand -base64 33)", strings.Join(need, ", ")))
		}
	}
	w.FormTokenKeys = keys
	m := hmac.New(sha256.New, keys[len(keys)-1])
	m.Write([]byte("leadbridge flood limiter"))
	w.LimiterSecret = m.Sum(nil)

	switch v := getenv("LEADBRIDGE_RATE_LIMIT_IP"); v {
	case "":
	case "off":
		w.RateLimitIP = flood.Rate{}
	default:
		r, err := flood.ParseRate(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_RATE_LIMIT_IP: %v, or off", err))
		}
		w.RateLimitIP = r
	}
	switch v := getenv("LEADBRIDGE_WAITING_CAP"); v {
	case "":
	case "off":
		w.WaitingCap = 0
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_WAITING_CAP: %q is not a whole number of submissions ≥ 1, or off", v))
		}
		w.WaitingCap = n
	}
	if v := getenv("LEADBRIDGE_REDIS_MEMORY_LIMIT"); v != "" {
		n, err := parseBytes(v)
		if err != nil || n < 1<<20 {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_REDIS_MEMORY_LIMIT: %q is not a size of at least 1MB, like 512MB or 2GB", v))
		}
		w.RedisMemoryLimit = n
	}
	if v := getenv("LEADBRIDGE_CAPTCHA_VERIFY_URL"); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_CAPTCHA_VERIFY_URL: %q is not an http:// or https:// address", v))
		}
		for _, f := range fs {
			if f.Spam.Captcha != nil {
				f.Spam.Captcha.VerifyURL = v
			}
		}
	}
	return w, errors.Join(errs...)
}

// formTokenKeys reads LEADBRIDGE_FORM_TOKEN_KEYS (comma-separated, newest
// first) or the file LEADBRIDGE_FORM_TOKEN_KEYS_FILE names (one key a line).
func formTokenKeys(getenv Getenv) ([][]byte, error) {
	name, list := "LEADBRIDGE_FORM_TOKEN_KEYS", getenv("LEADBRIDGE_FORM_TOKEN_KEYS")
	var parts []string
	if file := getenv("LEADBRIDGE_FORM_TOKEN_KEYS_FILE"); file != "" {
		if list != "" {
			return nil, errors.New("LEADBRIDGE_FORM_TOKEN_KEYS and LEADBRIDGE_FORM_TOKEN_KEYS_FILE: set one, not both")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("LEADBRIDGE_FORM_TOKEN_KEYS_FILE: %v", err)
		}
		name, parts = "LEADBRIDGE_FORM_TOKEN_KEYS_FILE", strings.Split(string(b), "\n")
	} else {
		parts = strings.Split(list, ",")
	}
	var keys [][]byte
	for _, p := range parts {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if len(p) < spam.MinKeyLen {
			return nil, fmt.Errorf("%s: key %d has %d bytes; each key needs at least %d (e.g. openssl rand -base64 33)", name, len(keys)+1, len(p), spam.MinKeyLen)
		}
		keys = append(keys, []byte(p))
	}
	return keys, nil
}

// parseBytes reads a size: a number of bytes, or with a KB, MB or GB
// suffix (powers of 1024, as Redis's maxmemory counts them).
func parseBytes(s string) (int64, error) {
	up := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(up, u.suffix); ok {
			up, mult = strings.TrimSpace(n), u.n
			break
		}
	}
	n, err := strconv.ParseInt(up, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}
