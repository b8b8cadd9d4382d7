// Package crmhealth is what the workers last learned about Dataverse — a
// token obtained and a call answered, the last authentication error, how
// long the service throttles, the last error an attempt met — published
// in Redis for the admin console. Workers write it (they alone talk to
// Dataverse); the API reads it. It imports nothing of the Dataverse client,
// so the API links none.
package crmhealth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/submission"
)

// key is one hash: ok (Unix ms of the last answered call), auth (JSON
// Error: the last authentication failure), throttled (Unix ms until which
// Dataverse asked every caller to wait), error (JSON Error: the last failed
// attempt of any kind).
const key = "lb:crm:health"

// writeTimeout bounds one report; a worker never waits longer on it.
const writeTimeout = 2 * time.Second

// Error is a failure as the console shows it.
type Error struct {
	At       time.Time `json:"at"`
	Category string    `json:"category"`
	Status   int       `json:"status,omitempty"`
	Code     string    `json:"code,omitempty"`
	Message  string    `json:"message"`
}

// Report is the published state.
type Report struct {
	OKAt           time.Time // the last call Dataverse answered (a token was valid then); zero = none yet
	Auth           *Error    // the last time no token could be had, or it was refused
	ThrottledUntil time.Time // Dataverse's last Retry-After, from when it was given
	LastError      *Error    // the last failed delivery attempt
}

// TokenOK: the last word on authentication is a success.
func (r Report) TokenOK() bool { return !r.OKAt.IsZero() && (r.Auth == nil || r.OKAt.After(r.Auth.At)) }

// Throttled reports whether Dataverse's last Retry-After is still running at now.
func (r Report) Throttled(now time.Time) bool { return now.Before(r.ThrottledUntil) }

// Publisher writes reports. Failures to write are returned for logging,
// never in the way of a delivery.
type Publisher struct {
	rdb redis.UniversalClient
	now func() time.Time
}

// NewPublisher returns a Publisher on rdb.
func NewPublisher(rdb redis.UniversalClient) *Publisher {
	return &Publisher{rdb: rdb, now: time.Now}
}

// OK records a call Dataverse answered.
func (p *Publisher) OK(ctx context.Context) error {
	return p.set(ctx, "ok", strconv.FormatInt(p.now().UnixMilli(), 10))
}

// Failed records a failed attempt, and an authentication failure as such.
func (p *Publisher) Failed(ctx context.Context, e submission.ErrorInfo) error {
	data, _ := json.Marshal(Error{At: p.now().UTC(), Category: e.Category, Status: e.Status, Code: e.Code, Message: e.Message})
	vals := []any{"error", data}
	if e.Category == submission.CategoryAuth {
		vals = append(vals, "auth", data)
	}
	return p.set(ctx, vals...)
}

// Throttled records that Dataverse asked to wait until.
func (p *Publisher) Throttled(ctx context.Context, until time.Time) error {
	return p.set(ctx, "throttled", strconv.FormatInt(until.UnixMilli(), 10))
}

func (p *Publisher) set(ctx context.Context, vals ...any) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := p.rdb.HSet(ctx, key, vals...).Err(); err != nil {
		return fmt.Errorf("crmhealth: %w", err)
	}
	return nil
}

// Read returns what the workers published; a zero Report if nothing yet.
func Read(ctx context.Context, rdb redis.UniversalClient) (Report, error) {
	m, err := rdb.HGetAll(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Report{}, fmt.Errorf("crmhealth: %w", err)
	}
	var r Report
	if ms, err := strconv.ParseInt(m["ok"], 10, 64); err == nil {
		r.OKAt = time.UnixMilli(ms).UTC()
	}
	if ms, err := strconv.ParseInt(m["throttled"], 10, 64); err == nil {
		r.ThrottledUntil = time.UnixMilli(ms).UTC()
	}
	for field, dst := range map[string]**Error{"auth": &r.Auth, "error": &r.LastError} {
		if v := m[field]; v != "" {
			var e Error
			if json.Unmarshal([]byte(v), &e) == nil {
				*dst = &e
			}
		}
	}
	return r, nil
}
