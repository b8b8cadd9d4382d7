package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
)

func TestRetentionDefaultsSettingsAndRefusals(t *testing.T) {
	const day = 24 * time.Hour
	c, err := config.LoadWorker(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Retention{Failed: 90 * day, Spam: 30 * day, Audit: 365 * day, IdempotencyKeys: 24 * time.Hour,
		SessionIdle: 2 * time.Hour, SessionMax: 12 * time.Hour}
	if c.Keep != want {
		t.Errorf("defaults: got %+v, want %+v", c.Keep, want)
	}
	a, err := config.LoadAPI(env(map[string]string{
		"LEADBRIDGE_FAILED_RETENTION": "off", "LEADBRIDGE_SPAM_RETENTION": "7d", "LEADBRIDGE_AUDIT_RETENTION": "0",
		"LEADBRIDGE_IDEMPOTENCY_RETENTION": "48h", "LEADBRIDGE_WEBHOOK_DEDUPE_RETENTION": "30d",
		"LEADBRIDGE_ADMIN_SESSION_IDLE": "30m", "LEADBRIDGE_ADMIN_SESSION_MAX": "8h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want = config.Retention{Failed: 0, Spam: 7 * day, Audit: 0, IdempotencyKeys: 48 * time.Hour, WebhookDedupe: 30 * day,
		SessionIdle: 30 * time.Minute, SessionMax: 8 * time.Hour}
	if a.Keep != want {
		t.Errorf("settings: got %+v, want %+v", a.Keep, want)
	}
	for name, bad := range map[string]string{
		"LEADBRIDGE_FAILED_RETENTION":         "soon",
		"LEADBRIDGE_SPAM_RETENTION":           "10m",
		"LEADBRIDGE_AUDIT_RETENTION":          "1h",
		"LEADBRIDGE_IDEMPOTENCY_RETENTION":    "off",
		"LEADBRIDGE_WEBHOOK_DEDUPE_RETENTION": "-1d",
		"LEADBRIDGE_ADMIN_SESSION_IDLE":       "13h",
	} {
		_, err := config.LoadWorker(env(map[string]string{name: bad}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: got %v, want an error naming it", name, bad, err)
		}
	}
}
