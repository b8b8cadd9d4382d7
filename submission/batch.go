package submission

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatch bounds how many createScript calls one pipeline carries.
const maxBatch = 128

// maxSending is how many pipelines may be on their way at once. More than
// one, so that Redis has the next at hand while the api reads the answers
// of the last (and, with appendfsync always, one fsync covers several).
const maxSending = 2

// createBatch sends the createScript calls of concurrent CreateWith calls
// to Redis together (group commit): while maxSending pipelines are on
// their way, the calls that arrive wait, and go as the next pipeline when
// one returns. A call that finds fewer on their way goes at once, on its
// own, so a lone submission waits for nobody. Each call still gets its own answer:
// the scripts of a pipeline run one after another, each as it would alone.
//
// What it saves is not Redis's work on the scripts but what surrounds
// each: a connection from the pool, a write and a read system call and a
// wake-up on each side, for every submission.
type createBatch struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	waiting []*createCall
	sending int // pipelines on their way; at maxSending new calls wait
}

// createCall is one CreateWith's script call and, once done is closed, its
// answer.
type createCall struct {
	ctx  context.Context
	keys []string
	args []any
	o    CreateOptions

	res   string
	acked int64 // replicas that confirmed, -1 when no WAIT was sent
	err   error
	done  chan struct{}
}

// run sends one call, with whatever others wait, and returns its answer as
// runCreate does. When ctx ends first, run returns its error at once: a
// call still waiting is taken out and never sent; one on its way runs to
// its end in Redis (the pipeline's deadline is its calls' latest), and its
// caller, as with any reply that comes too late, cannot tell whether it
// was written.
func (b *createBatch) run(ctx context.Context, keys []string, args []any, o CreateOptions) (string, int64, error) {
	c := &createCall{ctx: ctx, keys: keys, args: args, o: o, done: make(chan struct{})}
	b.mu.Lock()
	if b.sending < maxSending {
		b.sending++
		b.mu.Unlock()
		b.send([]*createCall{c})
		b.next()
		return c.res, c.acked, c.err
	}
	b.waiting = append(b.waiting, c)
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.acked, c.err
	case <-ctx.Done():
		b.mu.Lock()
		if i := slices.Index(b.waiting, c); i >= 0 {
			b.waiting = slices.Delete(b.waiting, i, i+1)
		}
		b.mu.Unlock()
		// Not sent, or sent and not answered in time: as when a lone
		// call's reply comes too late, the caller cannot tell whether it
		// was written (a resend under its key can).
		return "", -1, ctx.Err()
	}
}

// next hands the calls that waited while a pipeline was on its way to a
// goroutine that sends them, or marks the way free when none wait. (The
// caller that sent the last pipeline returns its own answer at once
// instead of sending the next.)
func (b *createBatch) next() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiting) == 0 {
		b.sending--
		return
	}
	go b.drain()
}

// drain sends pipelines of waiting calls until none wait.
func (b *createBatch) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.waiting), maxBatch)
		if n == 0 {
			b.sending--
			b.mu.Unlock()
			return
		}
		batch := slices.Clone(b.waiting[:n])
		b.waiting = slices.Delete(b.waiting, 0, n)
		b.mu.Unlock()
		b.send(batch)
	}
}

// send runs the calls' scripts as one pipeline, followed by one WAIT when
// any of them asks for replicas (WAIT counts every write the connection
// made before it, so one covers them all), and answers each call.
func (b *createBatch) send(batch []*createCall) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	var replicas int
	var timeout time.Duration
	for _, c := range batch {
		replicas, timeout = max(replicas, c.o.Replicas), max(timeout, c.o.ReplicaTimeout)
	}
	scripts, wait := b.pipeline(ctx, batch, replicas, timeout, createScript.EvalSha)
	var again []*createCall
	for i, c := range batch {
		if redis.HasErrorPrefix(scripts[i].Err(), "NOSCRIPT") {
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		// The first call since Redis started (or SCRIPT FLUSH): those
		// refused get the script itself. They wrote nothing.
		scripts2, wait2 := b.pipeline(ctx, again, replicas, timeout, createScript.Eval)
		for i, c := range again {
			c.answer(scripts2[i], wait2)
		}
	}
	for i, c := range batch {
		if !slices.Contains(again, c) {
			c.answer(scripts[i], wait)
		}
	}
}

// pipeline sends the calls' scripts, and WAIT when replicas > 0.
func (b *createBatch) pipeline(ctx context.Context, batch []*createCall, replicas int, timeout time.Duration,
	eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) (scripts []*redis.Cmd, wait *redis.Cmd) {
	scripts = make([]*redis.Cmd, len(batch))
	// Each command's own error is read; Pipelined's is the first of them.
	_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			scripts[i] = eval(ctx, p, c.keys, c.args...)
		}
		if replicas > 0 {
			wait = p.Do(ctx, "WAIT", replicas, timeout.Milliseconds())
		}
		return nil
	})
	return scripts, wait
}

// answer sets c's answer from its script's reply and the pipeline's WAIT
// (nil when none was sent), and lets c's caller go.
func (c *createCall) answer(script, wait *redis.Cmd) {
	defer close(c.done)
	c.acked = -1
	c.res, c.err = script.Text()
	if c.err != nil || c.res != "" || wait == nil || c.o.Replicas <= 0 {
		// Nothing written (an error, an existing key, the waiting cap), or
		// no replicas asked for.
		return
	}
	c.acked, c.err = wait.Int64()
	if c.err != nil {
		c.acked = -1
	}
}

// batchContext is the context of a pipeline of calls: cancelled by none of
// theirs (a call that gives up does not take the others with it), and with
// the latest of their deadlines, or none if one has none. A pipeline of one
// call has that call's context.
func batchContext(batch []*createCall) (context.Context, context.CancelFunc) {
	if len(batch) == 1 {
		// Alone, as a call without batching: its own context (and no
		// second timer).
		return batch[0].ctx, func() {}
	}
	var last time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(batch[0].ctx))
		}
		if d.After(last) {
			last = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), last)
}
