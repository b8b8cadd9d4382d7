package testenv

import (
	"context"
	"testing"
	"time"
)

// Running is a program's run function started in the test's process.
type Running struct {
	Addr   string // what run sent on its ready channel
	cancel context.CancelFunc
	done   chan error
}

// StartRun calls run in a goroutine with a cancellable context and waits
// until it reports its address on ready, failing the test if run ends first.
func StartRun(t testing.TB, run func(ctx context.Context, ready chan<- string) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { r.done <- run(ctx, ready) }()
	select {
	case r.Addr = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("run ended early: %v", err)
	}
	return r
}

// Stop cancels run's context and returns what run returned, failing the
// test if it does not return within a minute.
func (r *Running) Stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("run did not return after its context was cancelled")
		return nil
	}
}
