package crmhealth

import (
	"context"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

func TestPublishAndRead(t *testing.T) {
	t.Parallel()
	rdb := testenv.StartRedis(t).Client()
	ctx := context.Background()
	clk := testenv.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	p := NewPublisher(rdb)
	p.now = clk.Now

	r, err := Read(ctx, rdb)
	if err != nil || r.TokenOK() || r.LastError != nil || r.Throttled(clk.Now()) {
		t.Fatalf("nothing published: %+v, %v; want a zero report", r, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Failed(ctx, submission.ErrorInfo{Category: submission.CategoryAuth, Status: 401, Message: "AADSTS7000215: Invalid client secret"}))
	r, _ = Read(ctx, rdb)
	if r.TokenOK() || r.Auth == nil || r.Auth.Status != 401 || r.LastError == nil || r.LastError.Message != r.Auth.Message {
		t.Errorf("after an auth failure: %+v", r)
	}
	clk.Advance(time.Second)
	must(p.OK(ctx))
	must(p.Throttled(ctx, clk.Now().Add(time.Minute)))
	must(p.Failed(ctx, submission.ErrorInfo{Category: submission.CategoryInvalidData, Status: 400, Code: "0x80044331", Message: "too long"}))
	r, _ = Read(ctx, rdb)
	if !r.TokenOK() || !r.Throttled(clk.Now()) || r.Throttled(clk.Now().Add(2*time.Minute)) {
		t.Errorf("after a success and a 429: token ok %v, throttled %v until %s", r.TokenOK(), r.Throttled(clk.Now()), r.ThrottledUntil)
	}
	if r.LastError == nil || r.LastError.Code != "0x80044331" || r.Auth == nil || r.Auth.Status != 401 {
		t.Errorf("last error %+v, auth %+v; want the 400, and the 401 kept as the last auth error", r.LastError, r.Auth)
	}
}
