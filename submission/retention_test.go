package submission

import (
	"testing"
	"time"
)

func TestKeyRetention(t *testing.T) {
	s, rdb, _ := newStore(t)
	s.SetKeyRetention(KeyRetention{Form: 48 * time.Hour, WebhookAtLeast: 10 * 24 * time.Hour})
	ttl := func(r *Record) time.Duration {
		t.Helper()
		d, err := rdb.TTL(ctx(t), idemKey(r.Form, r.IdempotencyKey)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	form := create(t, s, &Record{Form: "demo", Source: "form", IdempotencyKey: "k1", Fields: map[string]string{"a": "1"}})
	if d := ttl(form); d <= 47*time.Hour || d > 48*time.Hour {
		t.Errorf("a form's key lives %s, want 48h", d)
	}
	short := create(t, s, &Record{Form: "demo", Source: "hub", IdempotencyKey: "hook:hub:1", KeyTTL: 72 * time.Hour, Fields: map[string]string{"a": "2"}})
	if d := ttl(short); d <= 239*time.Hour || d > 240*time.Hour {
		t.Errorf("a webhook id with a 72h horizon lives %s, want the configured 240h", d)
	}
	long := create(t, s, &Record{Form: "demo", Source: "hub", IdempotencyKey: "hook:hub:2", KeyTTL: 30 * 24 * time.Hour, Fields: map[string]string{"a": "3"}})
	if d := ttl(long); d <= 719*time.Hour {
		t.Errorf("a webhook id with a 30d horizon lives %s: the setting must never shorten it", d)
	}
}
