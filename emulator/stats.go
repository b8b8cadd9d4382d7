package emulator

import (
	"net/http"
	"strconv"
	"sync"
)

// statsCounter accumulates Stats; see that type for what each counts.
type statsCounter struct {
	mu       sync.Mutex
	s        Stats
	inflight int64
	byStatus map[int]int64
}

func newStatsCounter() *statsCounter { return &statsCounter{byStatus: map[int]int64{}} }

func (c *statsCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = Stats{}
	c.byStatus = map[int]int64{}
	// In-flight requests are still in flight; they count towards the new
	// maximum.
	c.s.MaxConcurrentSeen = c.inflight
}

func (c *statsCounter) response(status int) {
	c.mu.Lock()
	c.s.RequestsTotal++
	c.byStatus[status]++
	c.mu.Unlock()
}

// enter and leave bracket a Web API request, for MaxConcurrentSeen.
func (c *statsCounter) enter() {
	c.mu.Lock()
	c.inflight++
	c.s.MaxConcurrentSeen = max(c.s.MaxConcurrentSeen, c.inflight)
	c.mu.Unlock()
}

func (c *statsCounter) leave() {
	c.mu.Lock()
	c.inflight--
	c.mu.Unlock()
}

func (c *statsCounter) earlyRetry() {
	c.mu.Lock()
	c.s.EarlyRetries++
	c.mu.Unlock()
}

// droppedAfterWrite counts a request answered with no response at all.
func (c *statsCounter) droppedAfterWrite() {
	c.mu.Lock()
	c.s.RequestsTotal++
	c.s.DroppedAfterWrite++
	c.mu.Unlock()
}

func (c *statsCounter) tokenIssued() {
	c.mu.Lock()
	c.s.TokensIssued++
	c.mu.Unlock()
}

func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.s
	out.ResponsesByStatus = make(map[string]int64, len(c.byStatus))
	for k, v := range c.byStatus {
		out.ResponsesByStatus[strconv.Itoa(k)] = v
	}
	return out
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	app    string // the client id the request's token was issued to, once known
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
