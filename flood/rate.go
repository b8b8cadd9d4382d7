package flood

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of requests allowed per period, as a form's settings
// write it: "10/minute". A burst of N requests is allowed at once (a person
// who fills two forms in a row is not slowed down); after that, requests are
// let through evenly, one every Per/N.
//
// The zero Rate means no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// maxN bounds N: a limit above a million per period is no limit, and a
// typo such as "10000000/second" is more likely than a wish for it.
const maxN = 1_000_000

// units are the periods a Rate may name.
var units = map[string]time.Duration{
	"second": time.Second,
	"minute": time.Minute,
	"hour":   time.Hour,
	"day":    24 * time.Hour,
}

// ParseRate reads "N/unit", where N is a whole number from 1 to 1,000,000
// and unit is second, minute, hour or day: "10/minute", "100/hour",
// "5/second". The error says what was expected and never guesses (a plural
// "10/minutes" is refused, as is "10 per minute").
func ParseRate(s string) (Rate, error) {
	want := fmt.Errorf("%q is not a rate: want N/second, N/minute, N/hour or N/day, with N a whole number from 1 to %d (e.g. 10/minute)", s, maxN)
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, want
	}
	per, ok := units[strings.TrimSpace(unit)]
	if !ok {
		return Rate{}, want
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 || n > maxN {
		return Rate{}, want
	}
	return Rate{N: n, Per: per}, nil
}

// IsZero reports whether r is no limit.
func (r Rate) IsZero() bool { return r.N <= 0 || r.Per <= 0 }

// String writes r as ParseRate reads it.
func (r Rate) String() string {
	if r.IsZero() {
		return "none"
	}
	for name, d := range units {
		if d == r.Per {
			return strconv.Itoa(r.N) + "/" + name
		}
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}
