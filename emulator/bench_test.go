package emulator_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
)

// BenchmarkEmulator measures the emulator's throughput over real TLS with
// kept-alive connections and the service protection limits off, so that "is
// the emulator the bottleneck?" has a number. HTTP1.1 uses one connection per
// concurrent caller; HTTP2 multiplexes them over one connection, as crm's
// client does (ForceAttemptHTTP2). Client and server share the machine's
// cores, so the figures are a floor for the server alone.
//
//	go test -run '^$' -bench Emulator -benchtime 5s ./emulator/
//
// Each sub-benchmark reports req/s (requests completed per wall-clock second).
func BenchmarkEmulator(b *testing.B) {
	for _, proto := range []string{"HTTP1.1", "HTTP2"} {
		b.Run(proto, func(b *testing.B) {
			// A fresh emulator per protocol, so that rows created by one
			// run do not slow the other's queries.
			e := startBenchEmulator(b, proto == "HTTP2")
			benchmarkRoutes(b, e)
		})
	}
}

func benchmarkRoutes(b *testing.B, e *benchEmulator) {
	// A table of realistic size for the dedupe query to search.
	const seeded = 1000
	ids := make([]string, seeded)
	for i := range seeded {
		ids[i] = e.createLead(b, i)
	}

	b.Run("GetByID", func(b *testing.B) {
		var n atomic.Uint64
		e.run(b, http.StatusOK, func() *http.Request {
			id := ids[n.Add(1)%seeded]
			return e.request(b, http.MethodGet, "leads("+id+")?$select=leadid,emailaddress1,statecode", nil)
		})
	})

	b.Run("FilteredGet", func(b *testing.B) {
		// The worker's dedupe query: case-insensitive email match among open leads.
		var n atomic.Uint64
		e.run(b, http.StatusOK, func() *http.Request {
			email := fmt.Sprintf("Bench.Lead+%d@Example.com", n.Add(1)%seeded)
			filter := "emailaddress1 eq '" + email + "' and statecode eq 0"
			q := "leads?$select=leadid,emailaddress1,statecode&$top=1&$filter=" +
				escapeODataLiteral(filter)
			return e.request(b, http.MethodGet, q, nil)
		})
	})

	// Last: it grows the table the other two read.
	b.Run("Create", func(b *testing.B) {
		var n atomic.Uint64
		e.run(b, http.StatusNoContent, func() *http.Request {
			i := n.Add(1)
			body := fmt.Appendf(nil, `{"subject":"Bench create %d","firstname":"Ann","lastname":"Lee",`+
				`"emailaddress1":"create-%d@example.com","leadsourcecode":8}`, i, i)
			return e.request(b, http.MethodPost, "leads", body)
		})
	})
}

type benchEmulator struct {
	base   string // .../api/data/v9.2/
	token  string
	client *http.Client
}

func startBenchEmulator(b *testing.B, http2 bool) *benchEmulator {
	b.Helper()
	s, err := emulator.Start(emulator.Options{Addr: "127.0.0.1:0", DataDir: b.TempDir()})
	if err != nil {
		b.Fatalf("start emulator: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	// 0 switches a facet off; throttling would measure the limiter, not the server.
	if err := s.UpdateConfig([]byte(`{"limits":{"requests_per_window":0,"execution_ms_per_window":0,"concurrent":0},"latency_ms":0}`)); err != nil {
		b.Fatalf("limits off: %v", err)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		b.Fatal("emulator CA PEM holds no certificate")
	}
	// Enough idle connections that HTTP/1.1 callers never redial (and redo
	// the TLS handshake) between requests.
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   http2,
	}
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	return &benchEmulator{
		base:   s.URL() + "/api/data/v9.2/",
		token:  fetchToken(b, client, s.URL()),
		client: client,
	}
}

func (e *benchEmulator) request(b *testing.B, method, path string, body []byte) *http.Request {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		b.Error(err)
		return nil
	}
	setDataverseHeaders(req, e.token)
	return req
}

func (e *benchEmulator) createLead(b *testing.B, i int) string {
	b.Helper()
	body := fmt.Appendf(nil, `{"subject":"Bench seed %d","firstname":"Ann","lastname":"Lee",`+
		`"emailaddress1":"bench.lead+%d@example.com","leadsourcecode":8}`, i, i)
	resp, err := e.client.Do(e.request(b, http.MethodPost, "leads", body))
	if err != nil {
		b.Fatalf("seed lead %d: %v", i, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	entityID := resp.Header.Get("OData-EntityId")
	_, rest, ok1 := strings.Cut(entityID, "/leads(")
	id, _, ok2 := strings.Cut(rest, ")")
	if resp.StatusCode != http.StatusNoContent || !ok1 || !ok2 || len(id) != 36 {
		b.Fatalf("seed lead %d: status %d, OData-EntityId %q", i, resp.StatusCode, entityID)
	}
	return id
}

// run sends requests from many goroutines over kept-alive connections and
// reports completed requests per second.
func (e *benchEmulator) run(b *testing.B, want int, next func() *http.Request) {
	b.ReportAllocs()
	// 2 cores × 16 = 32 callers: enough in flight to keep both cores busy
	// while some wait on the network, and under Dataverse's default 52.
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := next()
			if req == nil {
				return
			}
			resp, err := e.client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Errorf("%s %s: status %d, want %d", req.Method, req.URL.Path, resp.StatusCode, want)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
