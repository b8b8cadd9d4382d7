package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

func TestEraseCommandReportsAndAudits(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	ctx := context.Background()
	store := submission.NewStore(rdb, time.Hour)
	ann := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "ann@example.com", "phone": "+49 30 1234 5678"}}
	bob := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "bob@example.com"}}
	for _, rec := range []*submission.Record{ann, bob} {
		if _, err := store.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"LEADBRIDGE_REDIS_URL": r.URL, "LEADBRIDGE_LOG_LEVEL": "debug"}
	getenv := func(k string) string { return env[k] }

	var out bytes.Buffer
	if err := runErase(ctx, []string{"--email", "ANN@example.com", "--dry-run"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "would erase 1 submissions (1 accepted)") {
		t.Errorf("dry run printed %q", out.String())
	}
	if _, err := store.Get(ctx, ann.ID); err != nil {
		t.Fatalf("the dry run erased: %v", err)
	}

	out.Reset()
	if err := runErase(ctx, []string{"--phone", "030 1234 5678", "--email", "ann@example.com"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "erased 1 submissions (1 accepted)") {
		t.Errorf("erase printed %q", out.String())
	}
	if strings.Contains(strings.ToLower(out.String()), "ann@example.com") || strings.Contains(out.String(), "1234") {
		t.Errorf("the output (logs included) quotes the person: %q", out.String())
	}
	if _, err := store.Get(ctx, ann.ID); !errors.Is(err, submission.ErrNotFound) {
		t.Errorf("Ann's submission: %v, want ErrNotFound", err)
	}
	if _, err := store.Get(ctx, bob.ID); err != nil {
		t.Errorf("Bob's submission: %v", err)
	}
	entries, _, err := audit.New(rdb).List(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "erase" || !strings.Contains(entries[0].Detail, submission.EmailRef("ann@example.com")) ||
		strings.Contains(entries[0].Detail, "ann@") {
		t.Errorf("audit log: %+v; want one erase entry with the address's reference, not the address", entries)
	}

	for _, args := range [][]string{{}, {"--email", "nobody"}, {"--phone", "12"}, {"ann@example.com"}} {
		if err := runErase(ctx, args, getenv, &bytes.Buffer{}); err == nil {
			t.Errorf("erase %q: no error", args)
		}
	}
}
