package submission

import "time"

// KeyRetention says how long idempotency keys name their submission.
type KeyRetention struct {
	// Form is how long a form's Idempotency-Key does (0: a day).
	Form time.Duration
	// WebhookAtLeast lengthens a webhook delivery id's life beyond its
	// platform's retry horizon (Record.KeyTTL) when longer; it never
	// shortens it, which would let a platform's late retry make a second
	// lead.
	WebhookAtLeast time.Duration
}

// SetKeyRetention sets how long idempotency keys are kept from now on.
// Call it before the store is shared.
func (s *Store) SetKeyRetention(k KeyRetention) { s.keys = k }

// keyTTL is how long r's idempotency key is kept.
func (s *Store) keyTTL(r *Record) time.Duration {
	if r.KeyTTL > 0 {
		return max(r.KeyTTL, s.keys.WebhookAtLeast)
	}
	if s.keys.Form > 0 {
		return s.keys.Form
	}
	return idempotencyTTL
}
