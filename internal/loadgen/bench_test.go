package loadgen_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/loadgen"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

var (
	benchPhase  = flag.Duration("loadgen.phase", 5*time.Second, "how long each measured phase of BenchmarkIntakeVsReference sends")
	benchRounds = flag.Int("loadgen.rounds", 3, "how many times BenchmarkIntakeVsReference measures each server")
	benchRate   = flag.Float64("loadgen.rate", 2000, "the target rate of the fixed-rate phase, submissions per second")
)

// BenchmarkIntakeVsReference drives POST /f/demo of a real cmd/api with
// JSON submissions, and under the same load a reference server (refserver:
// one LPUSH of the body, nothing else), each against its own redis-server
// with the settings the stack runs (docker-compose.yml, scripts/run.sh:
// appendonly yes, appendfsync everysec, noeviction). Two phases per server
// and round, the servers taking turns so that the machine's other load
// falls on both alike: as fast as 32 clients go (accepted/s, p50, p99), and
// a fixed rate (-loadgen.rate, 2,000/s; p50, p99 counted from when each
// submission was due). It reports the medians over -loadgen.rounds rounds
// and logs every round. Run it with -benchtime 1x: one call measures
// everything.
func BenchmarkIntakeVsReference(b *testing.B) {
	bin := testenv.Binaries(b)
	buildRefserver(b, bin)

	type target struct {
		name  string
		url   string
		redis *redis.Client
		max   []loadgen.Result
		rate  []loadgen.Result
		// CPU time per accepted submission in the max phase: the server
		// process's and its redis-server's. On a machine shared with other
		// work these move less than the rates do.
		serverCPU, redisCPU []float64
	}
	start := func(name, path string, env map[string]string) *target {
		r := testenv.StartRedis(b)
		// testenv fsyncs every write; the stack fsyncs once a second.
		if err := r.Client().ConfigSet(context.Background(), "appendfsync", "everysec").Err(); err != nil {
			b.Fatal(err)
		}
		addr := testenv.FreeAddr(b)
		env["LEADBRIDGE_ADDR"], env["LEADBRIDGE_REDIS_URL"] = addr, r.URL
		p := testenv.StartProcess(b, name, env)
		p.WaitHTTP(b, "http://"+addr+"/healthz")
		return &target{name: name, url: "http://" + addr + path, redis: r.Client()}
	}
	targets := []*target{
		// The waiting cap is checked as always, but set out of reach: no
		// worker drains the queue here.
		start("api", "/f/demo", map[string]string{"LEADBRIDGE_WAITING_CAP": "1000000000"}),
		start("refserver", "/", map[string]string{}),
	}
	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"first_name":"Ann","last_name":"Lee","email":"ann.lee+%d@example.com","company":"Contoso","message":"Please call me back about the offer."}`, i)
	}
	ctx := context.Background()
	run := func(t *target, o loadgen.Options) loadgen.Result {
		o.URL, o.Body, o.ContentType = t.url, body, "application/json"
		res, err := loadgen.Run(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		if res.Accepted == 0 {
			b.Fatalf("%s accepted nothing: %s", t.name, res)
		}
		return res
	}
	for _, t := range targets { // warm up: connections, scripts, JIT of the page cache
		run(t, loadgen.Options{Clients: 32, Duration: time.Second})
	}
	b.ResetTimer()
	for round := 1; round <= *benchRounds; round++ {
		for _, t := range targets {
			server0, redis0 := childCPU(b, t.name), redisCPU(b, t.redis)
			res := run(t, loadgen.Options{Clients: 32, Duration: *benchPhase})
			server := (childCPU(b, t.name) - server0).Seconds() * 1e6 / float64(res.Accepted)
			rcpu := (redisCPU(b, t.redis) - redis0).Seconds() * 1e6 / float64(res.Accepted)
			t.max = append(t.max, res)
			t.serverCPU, t.redisCPU = append(t.serverCPU, server), append(t.redisCPU, rcpu)
			b.Logf("round %d %-9s max:      %s; CPU per submission: server %.0f µs, Redis %.0f µs", round, t.name, res, server, rcpu)
		}
		for _, t := range targets {
			res := run(t, loadgen.Options{Clients: 128, Rate: *benchRate, Duration: *benchPhase})
			t.rate = append(t.rate, res)
			b.Logf("round %d %-9s %.0f/s: %s", round, t.name, *benchRate, res)
		}
	}
	b.StopTimer()

	api, ref := targets[0], targets[1]
	var ratios []float64
	for i := range api.max {
		ratios = append(ratios, api.max[i].AcceptedPerSecond()/ref.max[i].AcceptedPerSecond())
	}
	b.ReportMetric(median(ratios), "ratio")
	for _, t := range targets {
		b.ReportMetric(median(each(t.max, func(r loadgen.Result) float64 { return r.AcceptedPerSecond() })), t.name+"-accepted/s")
		b.ReportMetric(median(each(t.max, p(50))), t.name+"-p50-ms")
		b.ReportMetric(median(each(t.max, p(99))), t.name+"-p99-ms")
		b.ReportMetric(median(each(t.rate, p(50))), t.name+"-rate-p50-ms")
		b.ReportMetric(median(each(t.rate, p(99))), t.name+"-rate-p99-ms")
		b.ReportMetric(median(t.serverCPU), t.name+"-cpu-us/op")
		b.ReportMetric(median(t.redisCPU), t.name+"-redis-cpu-us/op")
	}
	for _, t := range targets {
		stats, _ := t.redis.Info(ctx, "commandstats").Result()
		b.Logf("%s's Redis, commands:\n%s", t.name, stats)
	}
	b.Logf("ratio api/refserver accepted/s per round: %.2f (target at least 0.8)", ratios)
}

func p(q float64) func(loadgen.Result) float64 {
	return func(r loadgen.Result) float64 { return float64(r.Percentile(q)) / float64(time.Millisecond) }
}

func each(rs []loadgen.Result, f func(loadgen.Result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// childCPU is the CPU time (user and system) used so far by this process's
// child called name, from /proc (Linux).
func childCPU(b *testing.B, name string) time.Duration {
	b.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid … utime stime (fields 14 and 15)
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || s[open+1:close] != name {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 13 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	b.Fatalf("no child process %s found in /proc", name)
	return 0
}

// redisCPU is the CPU time redis-server's main process has used so far.
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	b.Helper()
	info, err := rdb.InfoMap(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	user, _ := strconv.ParseFloat(info["CPU"]["used_cpu_user"], 64)
	sys, _ := strconv.ParseFloat(info["CPU"]["used_cpu_sys"], 64)
	return time.Duration((user + sys) * float64(time.Second))
}

// buildRefserver builds the reference server next to testenv's binaries.
func buildRefserver(b *testing.B, dir string) {
	b.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "refserver"), "./internal/loadgen/refserver")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build refserver: %v\n%s", err, out)
	}
}
