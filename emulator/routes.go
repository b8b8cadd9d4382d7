package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// routes lists every route the emulator serves.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Entra ID (package identity).
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.counted(s.identity.ServeOpenIDConfiguration, false))
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.counted(s.identity.ServeToken, false))
	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", s.counted(s.identity.ServeAuthorize, false))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.counted(s.identity.ServeKeys, false))
	// Dataverse Web API.
	mux.HandleFunc(apiPrefix, s.counted(s.serveWebAPI, true))
	// Control surface and overview, unauthenticated and not counted.
	mux.HandleFunc("GET /_emulator/config", s.serveConfig)
	mux.HandleFunc("PUT /_emulator/config", s.serveConfigUpdate)
	mux.HandleFunc("GET /_emulator/stats", s.serveStats)
	mux.HandleFunc("POST /_emulator/reset", s.serveReset)
	mux.HandleFunc("PUT /_emulator/rows/{set}", s.serveSeed)
	mux.HandleFunc("GET /_emulator/requests", s.serveRequests)
	mux.HandleFunc("GET /{$}", s.serveOverview)
	return mux
}

// counted feeds requests_total and responses_by_status, logs the request
// once and, for the Web API (logged), adds it to the request log, dropped
// answers included.
func (s *Server) counted(h http.HandlerFunc, logged bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		if logged {
			defer func() { s.record(r, rec, rec.status, start) }()
		}
		h(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.stats.response(rec.status)
		// The path only: queries and keys may hold personal data.
		s.log.Debug("request", "method", r.Method, "route", routeName(r.URL.Path), "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds())
	}
}

// routeName reduces a path to its resource: "leads(…)" → "leads".
func routeName(p string) string {
	rest, ok := strings.CutPrefix(p, apiPrefix)
	if !ok {
		for _, r := range []string{"token", "authorize", "keys"} {
			if strings.HasSuffix(p, "/"+r) {
				return r
			}
		}
		return "openid-configuration"
	}
	if i := strings.IndexAny(rest, "(/?"); i >= 0 {
		rest = rest[:i]
	}
	return "api/" + rest
}

// maxBody bounds a request body; Dataverse's own limit is far above
// anything a lead needs.
const maxBody = 32 << 20

// serveWebAPI runs a request through what stands in front of Dataverse's
// handlers, in order: the outage fault, authentication, the injected error
// rate, the service protection limits, then simulated latency and the
// operation itself.
func (s *Server) serveWebAPI(w http.ResponseWriter, r *http.Request) {
	s.stats.enter()
	defer s.stats.leave()
	now := time.Now()
	cfg := s.config()
	// respond writes a response, shaped as the configuration asks.
	respond := func(res *result) {
		if cfg.BlankErrorCodes {
			res = res.withoutCode()
		}
		writeResult(w, res)
	}
	h := w.Header()
	setRaw(h, "OData-Version", "4.0")
	setRaw(h, "x-ms-dop-hint", dopHint(cfg.Limits))
	// Seen on live responses; handy for matching client logs to ours.
	setRaw(h, "x-ms-service-request-id", newGUID())

	if cfg.Faults.Down {
		respond(faultResult(http.StatusServiceUnavailable))
		return
	}
	clientID, res := s.authenticate(r, now)
	if res != nil {
		respond(res)
		return
	}
	if rec, ok := w.(*statusRecorder); ok {
		rec.app = clientID
	}
	if cfg.Faults.ErrorRate > 0 && rand.Float64() < cfg.Faults.ErrorRate {
		respond(faultResult(cfg.Faults.ErrorStatus))
		return
	}
	adm := s.limiter.admit(clientID, cfg.Limits, now)
	adm.setHeaders(h)
	if !adm.ok {
		respond(adm.result())
		return
	}
	var execMS int64
	defer func() { s.limiter.release(clientID, execMS, cfg.Limits, time.Now()) }()
	// Whether this request's answer is lost once its write is applied is
	// decided now, so that the decision does not depend on the outcome.
	loseAnswer := cfg.Faults.DropAfterWriteRate > 0 && canWrite(r.Method) && rand.Float64() < cfg.Faults.DropAfterWriteRate

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			respond(apiError(http.StatusRequestEntityTooLarge, "", "The request body is too large."))
			return
		}
		respond(badRequest("", "The request body could not be read."))
		return
	}
	req := &apiRequest{
		method:   r.Method,
		path:     strings.TrimPrefix(r.URL.Path, apiPrefix),
		rawQuery: r.URL.RawQuery,
		header:   r.Header,
		body:     body,
		root:     baseURL(r) + apiPrefix,
		cfg:      cfg,
		now:      now,
	}
	if req.path == "$batch" {
		res, execMS = s.serveBatch(r.Context(), req)
		if loseAnswer {
			s.dropConnection(w, r)
		}
		respond(res)
		return
	}
	if !simulateLatency(r.Context(), cfg.LatencyMS) {
		return // the client gave up
	}
	execMS = int64(cfg.LatencyMS)
	req.now = time.Now()
	s.store.mu.Lock()
	res = s.execute(nil, req)
	s.store.mu.Unlock()
	if cost := opMS(cfg, res); cost > execMS {
		// A bulk operation message costs its rows (opMS); one operation's
		// time was waited for above.
		if !simulateLatencyMS(r.Context(), cost-execMS) {
			return
		}
		execMS = cost
	}
	if loseAnswer {
		s.dropConnection(w, r)
	}
	respond(res)
}

// canWrite reports whether a Web API method can change rows.
func canWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// dropConnection ends a request whose work is done without answering it:
// on HTTP/1.1 it takes the connection over and closes it; on HTTP/2, where a
// handler cannot, the server resets the stream. Either way the client reads
// no status, only a transport error. It then panics with
// http.ErrAbortHandler, net/http's own way to abort a handler (which it
// does not log), so nothing after the call runs but deferred accounting.
func (s *Server) dropConnection(w http.ResponseWriter, r *http.Request) {
	s.stats.droppedAfterWrite()
	s.log.Debug("request", "method", r.Method, "route", routeName(r.URL.Path), "dropped_after_write", true)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
	panic(http.ErrAbortHandler)
}

// simulateLatency waits ms milliseconds, or until ctx ends (false).
func simulateLatency(ctx context.Context, ms int) bool { return simulateLatencyMS(ctx, int64(ms)) }

// simulateLatencyMS is simulateLatency for an int64 of milliseconds.
func simulateLatencyMS(ctx context.Context, ms int64) bool {
	if ms <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// opMS is the execution time of an executed operation: latency_ms, or for
// a bulk operation message bulk_row_percent of latency_ms per row, at least
// latency_ms. Microsoft documents bulk messages on standard tables as
// "optimized to perform on multiple rows in a single transaction.
// Operations become more efficient ... as the number of operations per
// request increases" ("Use bulk operation messages"), where a $batch gives
// "no improved efficiency per operation"; how much is not documented. Its
// samples' output shows 100 rows written in 1 s by CreateMultiple against
// 10 s one request at a time, and updated in 3 s by UpdateMultiple against
// 12 s: a row of a bulk message at 10–25% of a single write, so 25 is the
// default (docs/BENCHMARKS.md).
func opMS(cfg Config, res *result) int64 {
	lat := int64(cfg.LatencyMS)
	if res.ops == 0 {
		return lat
	}
	return max(lat, lat*int64(res.ops)*int64(cfg.BulkRowPercent)/100)
}

// faultResult is an injected failure, shaped like a Dataverse platform
// error. The code is the generic "unexpected error"; the message says it was
// injected, so that nobody mistakes it for a real bug.
func faultResult(status int) *result {
	return apiError(status, codeUnexpected, http.StatusText(status)+": failure injected by the emulator (faults config).")
}

func writeResult(w http.ResponseWriter, res *result) {
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	if len(res.body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", contentTypeJSON)
	}
	w.WriteHeader(res.status)
	if len(res.body) > 0 {
		_, _ = w.Write(res.body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(v))
}

func (s *Server) serveConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.config())
}

func (s *Server) serveConfigUpdate(w http.ResponseWriter, r *http.Request) {
	patch, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		err = s.UpdateConfig(patch)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, s.config())
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) serveReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

// serveSeed is PUT /_emulator/rows/{set}: a JSON array of rows written as
// Server.Seed writes them, answered {"ids":[…]} or 400 {"error":"…"}.
func (s *Server) serveSeed(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var rows []map[string]any
	if err == nil {
		err = json.Unmarshal(body, &rows)
	}
	var ids []string
	if err == nil {
		ids, err = s.Seed(r.PathValue("set"), rows...)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"ids": ids})
}
