package loadgen_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/loadgen"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// countingServer answers 202 to even-numbered bodies and 503 to odd ones,
// and remembers every body it saw.
func countingServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		body := string(data)
		mu.Lock()
		seen[body]++
		mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			return
		}
		n, _ := strconv.Atoi(body)
		if n%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

func TestRunAtARateSendsTheScheduleOnce(t *testing.T) {
	t.Parallel()
	srv, seen := countingServer(t)
	res, err := loadgen.Run(context.Background(), loadgen.Options{
		URL: srv.URL, ContentType: "application/json", Body: func(i int) []byte { return []byte(strconv.Itoa(i)) },
		Rate: 400, Clients: 4, Duration: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The schedule is 400/s for 250 ms: requests 0…99, whatever the machine's speed.
	if res.Sent != 100 || res.Accepted != 50 || res.Statuses[503] != 50 || res.Errors != 0 {
		t.Errorf("got %s; want 100 sent, 50 accepted, 50 answered 503", res)
	}
	if len(res.Latencies) != 50 {
		t.Errorf("latencies: %d, want one per accepted request (50)", len(res.Latencies))
	}
	got := seen()
	for i := range 100 {
		if got[strconv.Itoa(i)] != 1 {
			t.Fatalf("body %d sent %d times, want once", i, got[strconv.Itoa(i)])
		}
	}
}

func TestRunAsFastAsItCanCountsEveryAnswer(t *testing.T) {
	t.Parallel()
	srv, seen := countingServer(t)
	res, err := loadgen.Run(context.Background(), loadgen.Options{
		URL: srv.URL, ContentType: "application/json", Body: func(i int) []byte { return []byte(strconv.Itoa(i)) },
		Clients: 8, Duration: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := seen()
	if res.Sent == 0 || res.Sent != len(got) || res.Accepted+res.Statuses[503] != res.Sent {
		t.Errorf("got %s, server saw %d distinct bodies; want every sent request answered and counted once", res, len(got))
	}
	if res.Accepted != (res.Sent+1)/2 {
		t.Errorf("accepted %d of %d; want the even-numbered ones, %d", res.Accepted, res.Sent, (res.Sent+1)/2)
	}
}

func TestRunRefusesIncompleteOptions(t *testing.T) {
	t.Parallel()
	if _, err := loadgen.Run(context.Background(), loadgen.Options{URL: "http://127.0.0.1:1/", Clients: 1, Duration: time.Second}); err == nil {
		t.Error("no Body: got no error")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var r loadgen.Result
	if r.Percentile(99) != 0 {
		t.Errorf("no latencies: p99 %v, want 0", r.Percentile(99))
	}
	for i := 1; i <= 200; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 100 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}} {
		if got := r.Percentile(c.p); got != c.want {
			t.Errorf("p%v of 1…200 ms: got %v, want %v", c.p, got, c.want)
		}
	}
}

func TestReferenceStoresTheBody(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	srv := httptest.NewServer(loadgen.Reference(r.Client(), 16))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/f/demo", "application/json", strings.NewReader(`{"a":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("post: %d, want 202", resp.StatusCode)
	}
	if got, _ := r.Client().LRange(context.Background(), loadgen.ReferenceKey, 0, -1).Result(); len(got) != 1 || got[0] != `{"a":"b"}` {
		t.Errorf("list holds %q, want the one body", got)
	}
	resp, err = http.Post(srv.URL+"/", "application/json", strings.NewReader(`{"too":"long for sixteen bytes"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("body past the limit: %d, want 400", resp.StatusCode)
	}
	if n, _ := r.Client().LLen(context.Background(), loadgen.ReferenceKey).Result(); n != 1 {
		t.Errorf("list length %d after a refused body, want 1", n)
	}
}
