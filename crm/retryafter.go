package crm

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps every Retry-After leadbridge honours, so that a
// nonsensical value cannot stall delivery for hours. Dataverse's own waits
// are seconds to a few minutes.
const MaxRetryAfter = 10 * time.Minute

// ParseRetryAfter reads a Retry-After header: a number of seconds (Dataverse
// documents whole seconds; a fraction is read too and rounded up to the
// nanosecond, since early is still early) or an HTTP-date, relative to now.
// Values past MaxRetryAfter are cut to it. ok is false when the header is
// absent or unreadable. It is the one Retry-After parser of leadbridge.
func ParseRetryAfter(h string, now time.Time) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(h, 64); err == nil {
		if math.IsNaN(secs) || secs < 0 {
			return 0, false
		}
		if secs >= MaxRetryAfter.Seconds() {
			return MaxRetryAfter, true
		}
		return time.Duration(math.Ceil(secs * float64(time.Second))), true
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}
