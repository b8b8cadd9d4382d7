package testenv

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kill stops the server with SIGKILL, as a crash or a lost machine would,
// and waits until it is gone. Start brings it back.
func (r *Redis) Kill() {
	r.t.Helper()
	r.stop()
}

// Start starts a killed server again on its port and directory: it keeps
// what its AOF (and, in a cluster, its nodes.conf) kept.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatalf("redis-server on %s is already running", r.Addr)
	}
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// Running reports whether the server process is up (not killed).
func (r *Redis) Running() bool { return r.cmd != nil }

// info returns one section of INFO as a map, or an error.
func (r *Redis) info(section string) (map[string]string, error) {
	return infoAt(r.Addr, section)
}

func infoAt(addr, section string) (map[string]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

// parseInfo reads INFO's "name:value" lines.
func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}
