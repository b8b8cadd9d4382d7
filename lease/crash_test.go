package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// A holder whose process dies stops renewing; the next holder gets in once
// the ttl runs out, and the dead holder's late Release cannot remove it.
func TestCrashedHolderExpires(t *testing.T) {
	r := testenv.StartRedis(t)
	dead := New(r.Client(), "test:lease", 300*time.Millisecond)
	next := New(r.Client(), "test:lease", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	old, err := dead.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	old.stopRenewal() // the crash: nothing renews the lease any more
	<-old.renewalDone

	le, err := next.Acquire(ctx, "k")
	if err != nil {
		t.Fatalf("acquire after the holder crashed: %v", err)
	}
	if le.Token() <= old.Token() {
		t.Errorf("got token %d after %d, want it greater", le.Token(), old.Token())
	}
	if err := old.Check(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("check by crashed holder: got %v, want ErrLost", err)
	}
	if err := old.Release(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("release by crashed holder: got %v, want ErrLost", err)
	}
	if err := le.Check(ctx); err != nil {
		t.Errorf("new holder after crashed holder's release: got %v, want nil", err)
	}
	le.Release(ctx)
}

// A holder that stalled past its ttl while another took the key finds out at
// its next renewal, and its context is cancelled so its writes stop.
func TestTakenOverLeaseCancelsContext(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	l := New(rdb, "test:lease", 300*time.Millisecond)
	le, err := l.Acquire(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	holder, _, _ := l.keys("k")
	if err := rdb.Set(context.Background(), holder, le.Token()+1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-le.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("lease context still live 10s after the lease was taken over")
	}
	if cause := context.Cause(le.Context()); !errors.Is(cause, ErrLost) {
		t.Errorf("got cause %v, want ErrLost", cause)
	}
	if err := le.Release(context.Background()); !errors.Is(err, ErrLost) {
		t.Errorf("release: got %v, want ErrLost", err)
	}
	if got, _ := rdb.Get(context.Background(), holder).Int64(); got != le.Token()+1 {
		t.Errorf("new holder's token after the old one's release: got %d, want %d", got, le.Token()+1)
	}
}
