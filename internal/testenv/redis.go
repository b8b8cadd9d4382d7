// Package testenv starts the real parts that leadbridge's tests run against:
// a private redis-server on a free port and the Dataverse emulator over TLS.
// It is imported only from tests.
package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server process owned by one test.
type Redis struct {
	Addr string // host:port
	URL  string // redis://host:port/0
	Dir  string // working directory (AOF lives here)
	cmd  *exec.Cmd
	t    testing.TB
	port int
	args []string // more redis-server arguments (replication, cluster)
}

// StartRedis starts redis-server on a free loopback port with append-only
// persistence (fsync on every write, so a SIGKILL loses nothing that was
// acknowledged) in a temporary directory, and stops it when the test ends.
// A missing redis-server fails the test with one line saying how to get it:
// tests never skip because a real part is absent.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, freePort)
}

// startRedis starts a redis-server as StartRedis does, on a port that pick
// chooses, with args added to its command line.
func startRedis(t testing.TB, pick func(testing.TB) int, args ...string) *Redis {
	t.Helper()
	needRedisServer(t)
	r := &Redis{Dir: t.TempDir(), t: t, args: args}
	t.Cleanup(r.stop)
	for try := 0; ; try++ {
		r.port = pick(t)
		r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
		r.URL = "redis://" + r.Addr + "/0"
		err := r.start()
		if err == nil {
			return r
		}
		r.stop()
		if !errors.Is(err, errPortTaken) || try == 4 {
			t.Fatal(err)
		}
	}
}

// needRedisServer fails the test with one line when redis-server is missing.
func needRedisServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found: run 'make deps' (or apt-get install redis-server)")
	}
}

// errPortTaken: another process answered on the port chosen for ours.
var errPortTaken = errors.New("port taken by another redis-server")

func (r *Redis) start() error {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", append([]string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.Dir, "--appendonly", "yes", "--appendfsync", "always",
		"--save", "", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(r.Dir, "redis.log")}, r.args...)...)
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		info, err := c.InfoMap(context.Background(), "server").Result()
		c.Close()
		if err == nil {
			// The port was free when chosen, but another test's server may
			// have taken it since: make sure the one answering is ours.
			if pid := info["Server"]["process_id"]; pid != strconv.Itoa(r.cmd.Process.Pid) {
				return fmt.Errorf("%w: port %d answered by pid %s, not %d", errPortTaken, r.port, pid, r.cmd.Process.Pid)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer: %v\n%s", r.Addr, err, tail(filepath.Join(r.Dir, "redis.log")))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *Redis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Restart stops the server abruptly (as a crash would) and starts it again
// on the same port and directory, so only what the AOF kept survives.
func (r *Redis) Restart() {
	r.t.Helper()
	r.stop()
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// Pause stops the server with SIGSTOP: it keeps its port and connections
// but answers nothing, as a Redis stuck on a slow disk or a frozen VM does.
// Resume undoes it. (A server still paused when the test ends is killed
// like any other.)
func (r *Redis) Pause() {
	r.t.Helper()
	r.signal(syscall.SIGSTOP)
}

// Resume continues a paused server with SIGCONT; what clients sent while it
// was paused is processed then.
func (r *Redis) Resume() {
	r.t.Helper()
	r.signal(syscall.SIGCONT)
}

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	if r.cmd == nil || r.cmd.Process == nil {
		r.t.Fatalf("redis-server on %s is not running", r.Addr)
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal redis-server: %v", err)
	}
}

// Client returns a go-redis client for this server, closed with the test.
func (r *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	r.t.Cleanup(func() { c.Close() })
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return fmt.Sprint(lines)
}
