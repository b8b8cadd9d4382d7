package throttle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/throttle"
)

// crmClient is a Dataverse client on emu paced by pacer, as the worker builds one.
func crmClient(t *testing.T, emu *testenv.Emulator, pacer crm.Pacer) *crm.Client {
	t.Helper()
	c, err := crm.New(crm.Config{
		URL: emu.URL(), AuthorityHost: emu.URL(), TenantID: emulator.DefaultTenantID,
		ClientID: emulator.DefaultClientID, ClientSecret: emulator.DefaultClientSecret,
		RootCAs: emu.CertPool(), Timeout: 10 * time.Second, Pacer: pacer,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// With the service protection limits low, calls paced by a real Limiter all
// succeed, and none of them is sent before its Retry-After has passed.
func TestThrottledCallsWaitRetryAfter(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	// The execution-time facet: the Limiter cannot see it coming (no header
	// counts it down in a form it reads), so 429s are certain.
	emu.Configure(`{"latency_ms":50,"limits":{"requests_per_window":0,"window_seconds":1,"concurrent":0,"execution_ms_per_window":200}}`)
	rdb := testenv.StartRedis(t).Client()
	limiter := throttle.New(rdb, emulator.DefaultClientID+"@crm-test", throttle.Options{})
	c := crmClient(t, emu, limiter)
	ctx := ctx(t)

	const calls = 8
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			_, err := c.CreateLead(ctx, fmt.Sprintf("00000000-0000-0000-0000-%012d", i), crm.Row{"lastname": fmt.Sprintf("Lee %d", i)})
			errs <- err
		}()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("CreateLead: %v", err)
		}
	}
	s := emu.Stats()
	if s.ResponsesByStatus["429"] == 0 {
		t.Errorf("stats = %+v: no 429 at all, the limits did not bite", s)
	}
	if s.EarlyRetries != 0 {
		t.Errorf("early_retries = %d, want 0 (stats %+v)", s.EarlyRetries, s)
	}
	if n := s.ResponsesByStatus["201"]; n != calls {
		t.Errorf("%d leads created, want %d", n, calls)
	}
}
