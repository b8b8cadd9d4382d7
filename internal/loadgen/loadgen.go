// Package loadgen drives an HTTP endpoint with POST requests, either at a
// target rate (open loop: requests leave on a schedule, whether or not the
// earlier ones were answered) or as fast as a number of concurrent clients
// can go (closed loop), and reports how many were accepted and how long
// they took. `make bench` uses it to measure form intake against a minimal
// reference server (package loadgen's Reference) under the same load.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one run.
type Options struct {
	// URL receives every request (POST).
	URL string
	// Body returns the i-th request's body (i from 0); ContentType is its type.
	Body        func(i int) []byte
	ContentType string
	// Rate is the requests per second to send; 0 sends as fast as Clients
	// allow, each client sending its next request when the last is answered.
	Rate float64
	// Clients is how many requests may be in flight at once (and how many
	// connections are kept open).
	Clients int
	// Duration is how long requests are started for.
	Duration time.Duration
	// Timeout bounds one request; 10 s when zero.
	Timeout time.Duration
}

// Result is what one run measured.
type Result struct {
	Sent     int         // requests started
	Accepted int         // answered 202
	Statuses map[int]int // answers by status code (202 included)
	Errors   int         // requests that got no answer (connection error, timeout)
	Elapsed  time.Duration
	// Latencies of the accepted requests, sorted. In an open-loop run a
	// request's time counts from when the schedule meant to send it, so
	// time spent waiting for a free client is included (a server that
	// falls behind is not flattered by the generator slowing down).
	Latencies []time.Duration
}

// AcceptedPerSecond is Accepted over the run's wall-clock time.
func (r Result) AcceptedPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// Percentile is the p-th percentile (0 < p ≤ 100) of the accepted
// requests' latencies (nearest rank), or 0 when none was accepted.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	rank := int(float64(len(r.Latencies))*p/100+0.5) - 1
	return r.Latencies[min(max(rank, 0), len(r.Latencies)-1)]
}

// String is a one-line summary.
func (r Result) String() string {
	return fmt.Sprintf("%d sent, %d accepted (%.0f/s), p50 %.2f ms, p99 %.2f ms, %d errors, statuses %v",
		r.Sent, r.Accepted, r.AcceptedPerSecond(), ms(r.Percentile(50)), ms(r.Percentile(99)), r.Errors, r.Statuses)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run sends requests as o says until o.Duration has passed (or ctx ends),
// waits for those in flight, and returns what it measured.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.URL == "" || o.Body == nil || o.Clients <= 0 || o.Duration <= 0 || o.Rate < 0 {
		return Result{}, errors.New("loadgen: URL, Body, Clients > 0 and Duration > 0 are required, Rate ≥ 0")
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        o.Clients,
			MaxIdleConnsPerHost: o.Clients,
			MaxConnsPerHost:     o.Clients,
			IdleConnTimeout:     time.Minute,
		},
	}
	defer client.CloseIdleConnections()

	var (
		mu   sync.Mutex
		res  = Result{Statuses: map[int]int{}}
		wg   sync.WaitGroup
		next atomic.Int64 // the next request's index
	)
	start := time.Now()
	end := start.Add(o.Duration)
	// jobs carries the open loop's schedule: each request's index and when
	// it was meant to leave. The closed loop needs none.
	jobs := make(chan job, 1<<16)
	for range o.Clients {
		wg.Go(func() {
			var lat []time.Duration
			statuses := map[int]int{}
			errs := 0
			send := func(j job) {
				code, err := post(ctx, client, o, j.i)
				if err != nil {
					errs++
					return
				}
				statuses[code]++
				if code == http.StatusAccepted {
					lat = append(lat, time.Since(j.at))
				}
			}
			if o.Rate > 0 {
				for j := range jobs {
					send(j)
				}
			} else {
				for time.Now().Before(end) && ctx.Err() == nil {
					send(job{i: int(next.Add(1) - 1), at: time.Now()})
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Latencies = append(res.Latencies, lat...)
			res.Errors += errs
			for c, n := range statuses {
				res.Statuses[c] += n
			}
		})
	}
	if o.Rate > 0 {
		res.Sent = schedule(ctx, jobs, start, end, o.Rate)
	}
	close(jobs)
	wg.Wait()
	if o.Rate == 0 {
		res.Sent = int(next.Load())
	}
	res.Elapsed = time.Since(start)
	res.Accepted = res.Statuses[http.StatusAccepted]
	slices.Sort(res.Latencies)
	return res, ctx.Err()
}

type job struct {
	i  int
	at time.Time
}

// schedule hands out jobs at rate per second from start until end: the
// i-th is due at start + i/rate. When the generator wakes late it hands out
// every job already due, each keeping its due time.
func schedule(ctx context.Context, jobs chan<- job, start, end time.Time, rate float64) int {
	i := 0
	for {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if !due.Before(end) || ctx.Err() != nil {
			return i
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- job{i: i, at: due}
		i++
	}
}

func post(ctx context.Context, client *http.Client, o Options, i int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(o.Body(i)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", o.ContentType)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
