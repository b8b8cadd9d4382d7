package handlers_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// BenchmarkHostedPage renders the demo form's hosted page and reports what
// a visitor downloads: the HTML, its stylesheet, embed.js and the form's
// definition embed.js fetches, raw and gzipped (leadbridge does not
// compress; a proxy in front may).
func BenchmarkHostedPage(b *testing.B) {
	v := newEnv(b)
	get := func(path string) []byte {
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec.Body.Bytes()
	}
	page := get("/f/demo")
	var sizes []int
	var all []byte
	for _, path := range []string{"/f/demo", regexp.MustCompile(`/static/form\.css\?v=\w+`).FindString(string(page)), "/embed.js", "/f/demo/definition"} {
		body := get(path)
		sizes = append(sizes, len(body))
		all = append(all, body...)
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(all)
	w.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		get("/f/demo")
	}
	b.ReportMetric(float64(sizes[0]), "html-bytes")
	b.ReportMetric(float64(sizes[1]), "css-bytes")
	b.ReportMetric(float64(sizes[2]), "embedjs-bytes")
	b.ReportMetric(float64(sizes[3]), "definition-bytes")
	b.ReportMetric(float64(len(all)), "total-bytes")
	b.ReportMetric(float64(z.Len()), "total-gzip-bytes")
}

// BenchmarkIntakeWithDefences posts to a configured form with every check
// intake runs on the open internet — three rate limits and the waiting cap
// in Redis, the honeypot — from many addresses, to compare with
// BenchmarkIntakeJSON (the demo form, none of them).
func BenchmarkIntakeWithDefences(b *testing.B) {
	path := testenv.WriteFile(b, "bench.yaml", `
forms:
  site:
    allowed_origins: ["*"]
    spam: {honeypot: website_url, rate_limit: {per_ip: 1000000/minute, per_form: 1000000/minute}}
    fields:
      first_name: {column: firstname}
      last_name:  {column: lastname, rules: required}
      email:      {column: emailaddress1, rules: "required,email"}
      company:    {column: companyname}
`)
	v := newEnvWith(b, envOptions{configFile: path, deps: func(d *handlers.Deps, rdb redis.UniversalClient) {
		d.Limiter, _ = flood.NewLimiter(rdb, flood.Options{Secret: []byte("bench-secret-0123456789")})
		d.RateLimitIP = flood.Rate{N: 1000000, Per: time.Minute}
		d.WaitingCap = 1 << 40
	}})
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			body := fmt.Sprintf(`{"first_name":"Ann","last_name":"Lee","email":"ann%d@example.com","company":"Contoso"}`, i)
			req := httptest.NewRequest(http.MethodPost, "/f/site", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = fmt.Sprintf("198.51.%d.%d:1", i%256, (i/256)%256)
			rec := httptest.NewRecorder()
			v.e.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submissions/s")
}
