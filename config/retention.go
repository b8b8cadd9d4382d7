package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Retention says how long leadbridge keeps each kind of record it holds
// about people (README, Personal data). Durations take "d" for days.
type Retention struct {
	// Delivered and discarded records: LEADBRIDGE_DELIVERED_RETENTION (30d),
	// read as API.Retention and Worker.DeliveredRetention.
	Failed time.Duration // LEADBRIDGE_FAILED_RETENTION: failed ones nobody acted on; 90d; 0 ("off"): until a person acts
	Spam   time.Duration // LEADBRIDGE_SPAM_RETENTION: held as spam; 30d; 0 ("off"): until a person acts
	Audit  time.Duration // LEADBRIDGE_AUDIT_RETENTION: audit-log entries; 365d; 0 ("off"): only the 100,000-entry cap
	// IdempotencyKeys: LEADBRIDGE_IDEMPOTENCY_RETENTION, how long a form's
	// Idempotency-Key names its submission; 24h.
	IdempotencyKeys time.Duration
	// WebhookDedupe: LEADBRIDGE_WEBHOOK_DEDUPE_RETENTION, how long a webhook
	// delivery id is remembered at least; 0 = each platform's retry horizon
	// (never less: a platform's late retry would make a second lead).
	WebhookDedupe time.Duration
	SessionIdle   time.Duration // LEADBRIDGE_ADMIN_SESSION_IDLE: 2h
	SessionMax    time.Duration // LEADBRIDGE_ADMIN_SESSION_MAX: 12h
}

// loadRetention reads the retention variables (both programs read them
// all; each uses its part).
func loadRetention(getenv Getenv) (Retention, error) {
	r := Retention{
		Failed:          90 * 24 * time.Hour,
		Spam:            30 * 24 * time.Hour,
		Audit:           365 * 24 * time.Hour,
		IdempotencyKeys: 24 * time.Hour,
		SessionIdle:     2 * time.Hour,
		SessionMax:      12 * time.Hour,
	}
	errs := []error{
		offDurationVar(getenv, "LEADBRIDGE_FAILED_RETENTION", &r.Failed, time.Hour),
		offDurationVar(getenv, "LEADBRIDGE_SPAM_RETENTION", &r.Spam, time.Hour),
		offDurationVar(getenv, "LEADBRIDGE_AUDIT_RETENTION", &r.Audit, 24*time.Hour),
		durationVar(getenv, "LEADBRIDGE_IDEMPOTENCY_RETENTION", &r.IdempotencyKeys, time.Minute),
		durationVar(getenv, "LEADBRIDGE_WEBHOOK_DEDUPE_RETENTION", &r.WebhookDedupe, time.Hour),
		durationVar(getenv, "LEADBRIDGE_ADMIN_SESSION_IDLE", &r.SessionIdle, time.Minute),
		durationVar(getenv, "LEADBRIDGE_ADMIN_SESSION_MAX", &r.SessionMax, time.Minute),
	}
	if r.SessionIdle > r.SessionMax {
		errs = append(errs, fmt.Errorf("LEADBRIDGE_ADMIN_SESSION_IDLE: %s is longer than LEADBRIDGE_ADMIN_SESSION_MAX (%s)", r.SessionIdle, r.SessionMax))
	}
	return r, errors.Join(errs...)
}

// offDurationVar is durationVar that also takes "off" (or "0") for 0.
func offDurationVar(getenv Getenv, name string, dst *time.Duration, min time.Duration) error {
	switch strings.ToLower(strings.TrimSpace(getenv(name))) {
	case "off", "0":
		*dst = 0
		return nil
	}
	if err := durationVar(getenv, name, dst, min); err != nil {
		return fmt.Errorf("%w, or off", err)
	}
	return nil
}
