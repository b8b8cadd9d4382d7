package emulator

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimiter drives the limiter with a synthetic clock, so the arithmetic
// of windows, waits and escalation is checked exactly and without waiting.
func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	t.Run("requests facet", func(t *testing.T) {
		l := newLimiter(newStatsCounter())
		lim := Limits{RequestsPerWindow: 2, WindowSeconds: 10}
		for i, d := range []time.Duration{0, 3 * time.Second} {
			a := l.admit("u", lim, at(d))
			if !a.ok || a.requestsLeft != 1-i {
				t.Fatalf("request %d: got ok=%v left=%d, want ok, %d left", i, a.ok, a.requestsLeft, 1-i)
			}
			l.release("u", 0, lim, at(d))
		}
		a := l.admit("u", lim, at(4*time.Second))
		if a.ok || a.code != codeThrottleRequests || a.retryAfter != 6*time.Second {
			t.Fatalf("third: got ok=%v code=%s wait=%v, want refused %s after 6s (the first leaves the window)", a.ok, a.code, a.retryAfter, codeThrottleRequests)
		}
		if want := "Number of requests exceeded the limit of 2 over time window of 10 seconds."; a.msg != want {
			t.Errorf("message: got %q, want %q", a.msg, want)
		}
		if a := l.admit("u", lim, at(10*time.Second)); !a.ok {
			t.Errorf("after the wait: got refused (%s), want admitted", a.code)
		}
		if a := l.admit("other", lim, at(10*time.Second)); !a.ok {
			t.Errorf("another user: got refused, want admitted (limits are per user)")
		}
	})

	t.Run("execution time facet", func(t *testing.T) {
		l := newLimiter(newStatsCounter())
		lim := Limits{ExecutionMSPerWindow: 1000, WindowSeconds: 10}
		for i := range 2 {
			if a := l.admit("u", lim, at(time.Duration(i)*time.Second)); !a.ok {
				t.Fatalf("request %d refused", i)
			}
			l.release("u", 500, lim, at(time.Duration(i)*time.Second))
		}
		a := l.admit("u", lim, at(2*time.Second))
		if a.ok || a.code != codeThrottleExecution || a.retryAfter != 8*time.Second || a.execLeftMS != 0 {
			t.Fatalf("got ok=%v code=%s wait=%v left=%d, want refused %s after 8s, 0 left", a.ok, a.code, a.retryAfter, a.execLeftMS, codeThrottleExecution)
		}
		want := "Combined execution time of incoming requests exceeded limit of 1,000  milliseconds over time window of 10 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later."
		if a.msg != want {
			t.Errorf("message:\n got %q\nwant %q", a.msg, want)
		}
	})

	t.Run("concurrency facet fails at once", func(t *testing.T) {
		l := newLimiter(newStatsCounter())
		lim := Limits{Concurrent: 2, WindowSeconds: 300}
		l.admit("u", lim, t0)
		l.admit("u", lim, t0)
		a := l.admit("u", lim, t0)
		if a.ok || a.code != codeThrottleConcurrency || a.retryAfter != concurrencyWait {
			t.Fatalf("got ok=%v code=%s wait=%v, want refused %s after %v", a.ok, a.code, a.retryAfter, codeThrottleConcurrency, concurrencyWait)
		}
		if want := "Number of concurrent requests exceeded the limit of 2."; a.msg != want {
			t.Errorf("message: got %q, want %q", a.msg, want)
		}
		l.release("u", 0, lim, t0)
		if a := l.admit("u", lim, t0.Add(concurrencyWait)); !a.ok {
			t.Errorf("after a release and the wait: refused, want admitted")
		}
	})

	t.Run("waits scale with the window, in whole seconds", func(t *testing.T) {
		for _, tt := range []struct {
			window int
			want   time.Duration
		}{
			{window: 3000, want: 10 * concurrencyWait},
			{window: 3, want: time.Second}, // a hundredth of a second, rounded up
		} {
			l := newLimiter(newStatsCounter())
			lim := Limits{Concurrent: 1, WindowSeconds: tt.window}
			l.admit("u", lim, t0)
			if a := l.admit("u", lim, t0); a.retryAfter != tt.want {
				t.Errorf("wait at a %d s window: got %v, want %v", tt.window, a.retryAfter, tt.want)
			}
		}
	})

	t.Run("a wait is whole seconds and lasts as long as its Retry-After", func(t *testing.T) {
		l := newLimiter(newStatsCounter())
		lim := Limits{RequestsPerWindow: 1, WindowSeconds: 10}
		l.admit("u", lim, t0)
		l.release("u", 0, lim, t0)
		// The window frees at 10 s, 0.6 s from now: the wait is 1 s.
		a := l.admit("u", lim, at(9400*time.Millisecond))
		if a.ok || a.retryAfter != time.Second {
			t.Fatalf("got ok=%v wait=%v, want refused for 1s", a.ok, a.retryAfter)
		}
		// Within the grace, so not an early retry: the wait runs to 10.4 s,
		// past the moment the window freed.
		if a := l.admit("u", lim, at(9600*time.Millisecond)); a.ok || a.retryAfter != 800*time.Millisecond {
			t.Errorf("at 9.6 s: got ok=%v wait=%v, want refused for the 0.8s left", a.ok, a.retryAfter)
		}
		if a := l.admit("u", lim, at(10400*time.Millisecond)); !a.ok {
			t.Errorf("once the Retry-After passed: refused (%s), want admitted", a.code)
		}
	})

	t.Run("early retries", func(t *testing.T) {
		stats := newStatsCounter()
		l := newLimiter(stats)
		lim := Limits{RequestsPerWindow: 1, WindowSeconds: 60}
		l.admit("u", lim, t0)
		l.release("u", 0, lim, t0)
		first := l.admit("u", lim, at(50*time.Second)) // refused: wait 10s
		if first.retryAfter != 10*time.Second {
			t.Fatalf("first refusal: wait %v, want 10s", first.retryAfter)
		}
		steps := []struct {
			at       time.Duration
			wantWait time.Duration
			early    int64
		}{
			// In flight when the 429 was written: not early, wait unchanged.
			{at: 50*time.Second + earlyRetryGrace, wantWait: 10*time.Second - earlyRetryGrace, early: 0},
			// Later: early, and the wait doubles from the last one sent...
			{at: 51 * time.Second, wantWait: 20 * time.Second, early: 1},
			{at: 52 * time.Second, wantWait: 40 * time.Second, early: 2},
			// ...but never beyond the window.
			{at: 53 * time.Second, wantWait: 60 * time.Second, early: 3},
		}
		for i, s := range steps {
			a := l.admit("u", lim, at(s.at))
			if a.ok || a.retryAfter != s.wantWait {
				t.Errorf("step %d: got ok=%v wait=%v, want refused with %v", i, a.ok, a.retryAfter, s.wantWait)
			}
			if got := stats.snapshot().EarlyRetries; got != s.early {
				t.Errorf("step %d: early retries %d, want %d", i, got, s.early)
			}
			if a.code != codeThrottleRequests {
				t.Errorf("step %d: code %s, want the code of the facet that started the wait", i, a.code)
			}
		}
		if a := l.admit("u", lim, at(113*time.Second)); !a.ok {
			t.Errorf("after the full wait: refused (%s), want admitted", a.code)
		}
	})

	t.Run("off facets", func(t *testing.T) {
		l := newLimiter(newStatsCounter())
		lim := Limits{WindowSeconds: 300}
		for i := range 1000 {
			if a := l.admit("u", lim, t0); !a.ok || a.requestsLeft != -1 || a.execLeftMS != -1 {
				t.Fatalf("request %d: got %+v, want admitted with no capacity headers", i, a)
			}
		}
	})
}

func TestFormatSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{2 * time.Second, "2"},
		{250 * time.Millisecond, "1"},
		{1500*time.Millisecond + 1, "2"}, // rounded up: never early
		{time.Microsecond, "1"},
		{0, "1"},
	} {
		if got := formatSeconds(tt.d); got != tt.want {
			t.Errorf("formatSeconds(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestThrottlingOverHTTP checks what a client sees: the 429, its body and
// headers, and that waiting exactly Retry-After is enough.
func TestThrottlingOverHTTP(t *testing.T) {
	h := start(t, &Config{Limits: Limits{RequestsPerWindow: 2, WindowSeconds: 1}})
	for i := range 2 {
		resp, body := h.api(http.MethodGet, "WhoAmI", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: got status %d; body %s", i, resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"), strconv.Itoa(1-i); got != want {
			t.Errorf("request %d: burst remaining %q, want %q", i, got, want)
		}
	}
	resp, body := h.api(http.MethodGet, "WhoAmI", nil)
	msg := wantError(t, resp, body, http.StatusTooManyRequests, codeThrottleRequests)
	if want := "Number of requests exceeded the limit of 2 over time window of 1 seconds."; msg != want {
		t.Errorf("message: got %q, want %q", msg, want)
	}
	// Whole seconds: clients such as Microsoft's retry sample parse an int.
	wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || wait != 1 {
		t.Fatalf("Retry-After: got %q, want 1 (whole seconds, rounded up)", resp.Header.Get("Retry-After"))
	}
	if resp.Header.Get("x-ms-dop-hint") == "" {
		t.Error("429 without x-ms-dop-hint")
	}
	// The client under test here is a well-behaved one: it waits exactly
	// what it was told, and must then be served.
	time.Sleep(time.Duration(wait) * time.Second)
	resp, body = h.api(http.MethodGet, "WhoAmI", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after Retry-After: got status %d, want 200; body %s", resp.StatusCode, body)
	}
	if got := h.srv.Stats().EarlyRetries; got != 0 {
		t.Errorf("early retries: got %d, want 0 for a client that waited", got)
	}
}

func TestExecutionTimeOverHTTP(t *testing.T) {
	h := start(t, &Config{LatencyMS: 5, Limits: Limits{ExecutionMSPerWindow: 10, WindowSeconds: 300}})
	for i := range 2 {
		resp, body := h.api(http.MethodGet, "WhoAmI", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: got status %d; body %s", i, resp.StatusCode, body)
		}
	}
	resp, body := h.api(http.MethodGet, "WhoAmI", nil)
	wantError(t, resp, body, http.StatusTooManyRequests, codeThrottleExecution)
	if got := resp.Header.Get("x-ms-ratelimit-time-remaining-xrm-requests"); got != "0.00" {
		t.Errorf("time remaining: got %q, want 0.00", got)
	}
}

// TestConcurrency holds one request in the emulator (by latency) and checks
// that a second one from the same user fails at once, and that
// max_concurrent_seen saw both.
func TestConcurrency(t *testing.T) {
	// A 3000 s window makes the concurrency wait 10 s: long enough that the
	// late retry below certainly arrives inside it.
	h := start(t, &Config{LatencyMS: 60_000, Limits: Limits{Concurrent: 1, WindowSeconds: 3000}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL()+apiPrefix+"WhoAmI", nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		if resp, err := h.srv.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "first request admitted", func() bool {
		h.srv.limiter.mu.Lock()
		defer h.srv.limiter.mu.Unlock()
		u := h.srv.limiter.users[DefaultClientID]
		return u != nil && u.inflight == 1
	})
	resp, body := h.api(http.MethodGet, "WhoAmI", nil)
	if msg := wantError(t, resp, body, http.StatusTooManyRequests, codeThrottleConcurrency); msg != "Number of concurrent requests exceeded the limit of 1." {
		t.Errorf("message: got %q", msg)
	}
	if got := resp.Header.Get("x-ms-dop-hint"); got != "1" {
		t.Errorf("x-ms-dop-hint: got %q, want 1", got)
	}
	if got := h.srv.Stats().MaxConcurrentSeen; got != 2 {
		t.Errorf("max_concurrent_seen: got %d, want 2", got)
	}
	if got := resp.Header.Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After: got %q, want 10", got)
	}

	// A caller that does not wait: past the grace its retry is early,
	// counted, and told to wait longer.
	time.Sleep(earlyRetryGrace + 50*time.Millisecond)
	resp, body = h.api(http.MethodGet, "WhoAmI", nil)
	wantError(t, resp, body, http.StatusTooManyRequests, codeThrottleConcurrency)
	if got := resp.Header.Get("Retry-After"); got != "20" {
		t.Errorf("Retry-After of an early retry: got %q, want 20 (doubled)", got)
	}
	if got := h.srv.Stats().EarlyRetries; got != 1 {
		t.Errorf("early_retries: got %d, want 1", got)
	}
}

func TestFaults(t *testing.T) {
	h := start(t, nil)
	token := tokenForm(h)

	t.Run("down", func(t *testing.T) {
		h := h.sub(t)
		if err := h.srv.UpdateConfig([]byte(`{"faults":{"down":true}}`)); err != nil {
			t.Fatal(err)
		}
		resp, body := h.api(http.MethodGet, "WhoAmI", nil)
		wantError(t, resp, body, http.StatusServiceUnavailable, codeUnexpected)
		resp, body = h.postForm("/"+DefaultTenantID+"/oauth2/v2.0/token", token, nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("token while down: got status %d, want 503; body %s", resp.StatusCode, body)
		}
		if err := h.srv.UpdateConfig([]byte(`{"faults":{"down":false}}`)); err != nil {
			t.Fatal(err)
		}
		if resp, _ := h.api(http.MethodGet, "WhoAmI", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("back up: got status %d, want 200", resp.StatusCode)
		}
	})

	t.Run("error rate with a chosen status", func(t *testing.T) {
		h := h.sub(t)
		if err := h.srv.UpdateConfig([]byte(`{"faults":{"error_rate":1,"error_status":502}}`)); err != nil {
			t.Fatal(err)
		}
		resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "x"})
		wantError(t, resp, body, http.StatusBadGateway, codeUnexpected)
		if err := h.srv.UpdateConfig([]byte(`{"faults":{"error_rate":0}}`)); err != nil {
			t.Fatal(err)
		}
		resp, body = h.api(http.MethodGet, "leads/$count", nil)
		if resp.StatusCode != http.StatusOK || string(body) != "0" {
			t.Errorf("after the fault: got %d %s, want 200 and no rows (faulted writes must not happen)", resp.StatusCode, body)
		}
	})

	t.Run("invalid fault config is refused", func(t *testing.T) {
		h := h.sub(t)
		for _, patch := range []string{`{"faults":{"error_status":404}}`, `{"faults":{"error_rate":1.5}}`, `{"faults":{"drop_after_write_rate":-0.1}}`, `{"limits":{"concurrent":-1}}`, `{"nope":1}`, `{"alternate_keys":{"leads":["nosuch"]}}`} {
			if err := h.srv.UpdateConfig([]byte(patch)); err == nil {
				t.Errorf("%s: got no error, want one", patch)
			}
		}
	})
}

func tokenForm(h *harness) map[string][]string {
	return map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}, "scope": {h.srv.URL() + "/.default"},
	}
}

// TestDropAfterWrite: at drop_after_write_rate 1 every write is applied and
// its answer lost, on HTTP/2 (a reset stream) and HTTP/1.1 (a closed
// connection) alike: the client gets a transport error and no status, and
// the row is there anyway.
func TestDropAfterWrite(t *testing.T) {
	for _, proto := range []string{"HTTP/2.0", "HTTP/1.1"} {
		t.Run(proto, func(t *testing.T) {
			h := start(t, nil)
			tr := h.srv.Client().Transport.(*http.Transport).Clone()
			// The emulator's own client has offered h2 in its TLS config;
			// this one offers only the protocol under test.
			tr.TLSClientConfig = tr.TLSClientConfig.Clone()
			tr.TLSClientConfig.NextProtos = nil
			tr.Protocols = new(http.Protocols)
			if proto == "HTTP/1.1" {
				tr.Protocols.SetHTTP1(true)
			} else {
				tr.Protocols.SetHTTP2(true)
			}
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			t.Cleanup(tr.CloseIdleConnections)
			do := func(method, path, contentType, body string) (*http.Response, error) {
				req, err := http.NewRequest(method, h.srv.URL()+apiPrefix+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+h.token)
				req.Header.Set("Content-Type", contentType)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				return resp, err
			}
			const jsonType = "application/json"
			// A request before the fault, so the write below goes over a
			// reused connection: HTTP/1.1 clients must not replay a POST.
			if resp, err := do(http.MethodGet, "WhoAmI", jsonType, ""); err != nil || resp.Proto != proto {
				t.Fatalf("GET WhoAmI: %v, %v; want a %s response", resp, err, proto)
			}
			if err := h.srv.UpdateConfig([]byte(`{"faults":{"drop_after_write_rate":1}}`)); err != nil {
				t.Fatal(err)
			}

			id := newGUID()
			resp, err := do(http.MethodPost, "leads", jsonType, `{"leadid":"`+id+`","lastname":"Dropped"}`)
			if err == nil {
				t.Fatalf("POST leads: got status %d, want a transport error and no response", resp.StatusCode)
			}
			t.Logf("POST leads: %v", err)
			body := (&batchBuilder{}).changeSetOf([]string{"POST", "leads", `{"lastname":"Batched"}`}).body()
			if resp, err := do(http.MethodPost, "$batch", `multipart/mixed; boundary="`+testBoundary+`"`, body); err == nil {
				t.Fatalf("POST $batch: got status %d, want a transport error", resp.StatusCode)
			}
			// Reads are answered as usual.
			if resp, err := do(http.MethodGet, "leads("+id+")", jsonType, ""); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET the dropped POST's row: %v, %v; want 200 (the write was applied)", resp, err)
			}
			if got := h.srv.Stats().DroppedAfterWrite; got != 2 {
				t.Errorf("dropped_after_write: got %d, want 2", got)
			}

			if err := h.srv.UpdateConfig([]byte(`{"faults":{"drop_after_write_rate":0}}`)); err != nil {
				t.Fatal(err)
			}
			resp, rowsBody := h.api(http.MethodGet, "leads?$select=lastname&$orderby=lastname", nil)
			var names []string
			for _, r := range rows(t, rowsBody) {
				names = append(names, r["lastname"].(string))
			}
			if resp.StatusCode != http.StatusOK || strings.Join(names, ",") != "Batched,Dropped" {
				t.Errorf("leads after the fault: got %d %q, want Batched and Dropped, each once", resp.StatusCode, names)
			}
		})
	}
}
