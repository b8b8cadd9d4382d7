// Package submission keeps leadbridge's own record of every submission in
// Redis — what was received, every delivery attempt, the CRM ids and the
// reason for a failure — so that no lead is ever visible only in asynq's
// archive, which trims itself silently.
package submission

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Statuses a submission moves through.
const (
	StatusAccepted   = "accepted"   // durable, queued, not yet picked up
	StatusDelivering = "delivering" // a worker is writing it
	StatusRetrying   = "retrying"   // the last attempt failed transiently; another is scheduled
	StatusDelivered  = "delivered"  // in Dataverse
	StatusFailed     = "failed"     // needs a person: see LastError
	StatusSpam       = "spam"       // quarantined at intake
	StatusDiscarded  = "discarded"  // a person decided it is not to be delivered
)

// Statuses lists every status, in lifecycle order.
var Statuses = []string{StatusAccepted, StatusDelivering, StatusRetrying, StatusDelivered, StatusFailed, StatusSpam, StatusDiscarded}

// ValidStatus reports whether s is a known status.
func ValidStatus(s string) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// Error categories, chosen so that a person knows what to do next.
const (
	CategoryInvalidData   = "invalid_data"  // Dataverse refused the values: fix the data or the form mapping
	CategoryPermission    = "permission"    // the application user lacks a privilege
	CategoryConfiguration = "configuration" // wrong URL, missing table/column/key: fix leadbridge's settings
	CategoryThrottled     = "throttled"     // service protection limits; retried automatically
	CategoryUnavailable   = "unavailable"   // outage, timeout, 5xx; retried automatically
	CategoryAuth          = "auth"          // token could not be obtained or was refused
)

// Record is everything leadbridge knows about one submission.
type Record struct {
	ID             string            `json:"id"`
	Form           string            `json:"form"`
	Source         string            `json:"source"` // "form" or a webhook source id
	Status         string            `json:"status"`
	Fields         map[string]string `json:"fields"`
	ReceivedAt     time.Time         `json:"received_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	ClientIP       string            `json:"client_ip,omitempty"`
	UserAgent      string            `json:"user_agent,omitempty"`
	Page           string            `json:"page,omitempty"`
	Referrer       string            `json:"referrer,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	RequestID      string            `json:"request_id,omitempty"` // the intake request's id, carried into delivery logs
	// KeyTTL is how long IdempotencyKey names this submission (a webhook
	// platform's retry horizon); 0 means a day. Not stored on the record.
	KeyTTL time.Duration `json:"-"`

	// Attribution is where the visitor came from: utm_source, utm_medium,
	// utm_campaign, utm_term, utm_content, gclid, fbclid, msclkid.
	Attribution map[string]string `json:"attribution,omitempty"`
	// Consent is what the person agreed to, as shown to them.
	Consent *Consent `json:"consent,omitempty"`
	// Payload is a webhook's body as received, for the admin console.
	Payload *Payload `json:"payload,omitempty"`
	// Fetch is set on a webhook lead that arrived as ids only: the worker
	// reads the lead from the platform before delivering it (fetch.go).
	Fetch *Fetch `json:"fetch,omitempty"`
	// Spam says why intake held the submission back from delivery.
	Spam *SpamInfo `json:"spam,omitempty"`
	// Edits are the changes people made to the fields before a retry.
	Edits []Edit `json:"edits,omitempty"`

	AttemptID    string     `json:"attempt_id,omitempty"` // the attempt in progress; an older one's result is dropped
	RetriedAt    *time.Time `json:"retried_at,omitempty"` // a person asked for a retry; the retry horizon restarts here
	AttemptCount int        `json:"attempt_count"`
	Attempts     []Attempt  `json:"attempts,omitempty"` // the most recent ones
	LastError    *ErrorInfo `json:"last_error,omitempty"`
	NextAttempt  *time.Time `json:"next_attempt_at,omitempty"`

	LeadID      string     `json:"lead_id,omitempty"`
	ContactID   string     `json:"contact_id,omitempty"`
	Action      string     `json:"action,omitempty"`  // created | updated
	Match       string     `json:"match,omitempty"`   // why this lead was chosen
	Changes     []Change   `json:"changes,omitempty"` // what an update changed on the lead
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`

	DiscardReason string `json:"discard_reason,omitempty"`
}

// Consent is a person's consent as given on a form.
type Consent struct {
	Given   bool      `json:"given"`
	Text    string    `json:"text,omitempty"`    // the words shown next to the checkbox
	Version string    `json:"version,omitempty"` // the form's consent version
	Policy  string    `json:"policy,omitempty"`  // the privacy policy linked
	At      time.Time `json:"at"`
	IP      string    `json:"ip,omitempty"`
}

// Payload is a raw request body kept as received (webhooks).
type Payload struct {
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
	// Size is the whole body's length in bytes; Truncated says Body holds
	// only its beginning (intake keeps at most a bounded part).
	Size      int  `json:"size"`
	Truncated bool `json:"truncated,omitempty"`
}

// SpamInfo is intake's spam verdict: a short reason code and words for an admin.
type SpamInfo struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Edit is one change a person made to a submission's fields.
type Edit struct {
	By     string            `json:"by"`
	At     time.Time         `json:"at"`
	Before map[string]string `json:"before"`
	After  map[string]string `json:"after"`
}

// Change is one lead column an update set: its value before and after.
type Change struct {
	Column string `json:"column"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Attempt is one delivery attempt.
type Attempt struct {
	At       time.Time  `json:"at"`
	Outcome  string     `json:"outcome"` // delivered | retrying | failed
	Duration float64    `json:"duration_seconds"`
	Error    *ErrorInfo `json:"error,omitempty"`
}

// ErrorInfo says why an attempt did not deliver.
type ErrorInfo struct {
	Category string `json:"category"`
	Status   int    `json:"status,omitempty"` // HTTP status from Dataverse, if any
	Code     string `json:"code,omitempty"`   // Dataverse error code, e.g. 0x80044331
	Message  string `json:"message"`
}

// maxAttempts bounds the attempts kept on a record: a CRM outage retried
// for days must not grow a record without limit. AttemptCount keeps the total.
const maxAttempts = 30

// HorizonStart is when the current run of automatic retries began: receipt,
// or the last retry a person asked for.
func (r *Record) HorizonStart() time.Time {
	if r.RetriedAt != nil && r.RetriedAt.After(r.ReceivedAt) {
		return *r.RetriedAt
	}
	return r.ReceivedAt
}

// addAttempt appends an attempt, keeping the most recent ones.
func (r *Record) addAttempt(a Attempt) {
	r.AttemptCount++
	r.Attempts = append(r.Attempts, a)
	if n := len(r.Attempts); n > maxAttempts {
		r.Attempts = append([]Attempt(nil), r.Attempts[n-maxAttempts:]...)
	}
}

// NewID returns a random submission id: 16 bytes of hex, safe in URLs,
// Redis keys and asynq task ids.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}
