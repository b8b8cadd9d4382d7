package config_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestRedisWait(t *testing.T) {
	c, err := config.LoadAPI(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.WaitReplicas != 0 || c.Redis.WaitTimeout != time.Second {
		t.Errorf("defaults: WaitReplicas %d, WaitTimeout %s; want 0 (off), 1s", c.Redis.WaitReplicas, c.Redis.WaitTimeout)
	}
	c, err = config.LoadAPI(env(map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "1", "LEADBRIDGE_REDIS_WAIT_TIMEOUT": "250ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.WaitReplicas != 1 || c.Redis.WaitTimeout != 250*time.Millisecond {
		t.Errorf("WaitReplicas %d, WaitTimeout %s; want 1, 250ms", c.Redis.WaitReplicas, c.Redis.WaitTimeout)
	}
	w, err := config.LoadWorker(env(map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "1"}))
	if err != nil || w.Redis.WaitReplicas != 1 {
		t.Errorf("worker with the API's Redis settings: %v, WaitReplicas %d", err, w.Redis.WaitReplicas)
	}

	for _, tt := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"replicas not a number", map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "one"}, []string{"LEADBRIDGE_REDIS_WAIT_REPLICAS", `"one"`}},
		{"negative replicas", map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "-1"}, []string{"LEADBRIDGE_REDIS_WAIT_REPLICAS"}},
		{"timeout without a unit", map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "1", "LEADBRIDGE_REDIS_WAIT_TIMEOUT": "500"}, []string{"LEADBRIDGE_REDIS_WAIT_TIMEOUT", `"500"`}},
		{"timeout too short", map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "1", "LEADBRIDGE_REDIS_WAIT_TIMEOUT": "1ms"}, []string{"LEADBRIDGE_REDIS_WAIT_TIMEOUT"}},
		{"timeout too long", map[string]string{"LEADBRIDGE_REDIS_WAIT_REPLICAS": "1", "LEADBRIDGE_REDIS_WAIT_TIMEOUT": "5s"}, []string{"LEADBRIDGE_REDIS_WAIT_TIMEOUT", "2s"}},
		{"timeout without replicas", map[string]string{"LEADBRIDGE_REDIS_WAIT_TIMEOUT": "1s"}, []string{"LEADBRIDGE_REDIS_WAIT_TIMEOUT", "LEADBRIDGE_REDIS_WAIT_REPLICAS"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.LoadAPI(env(tt.env))
			wantError(t, err, tt.want...)
		})
	}
}

// TestRedisClientFollowsSentinelFailover: the client built from
// LEADBRIDGE_REDIS_SENTINELS/_MASTER writes to the primary, and after a
// failover to the new one only — also once the old primary is back as a
// replica. Every write it confirmed is on the new primary.
func TestRedisClientFollowsSentinelFailover(t *testing.T) {
	t.Parallel()
	s := testenv.StartSentinel(t)
	cfg, err := config.LoadAPI(env(s.Env()))
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()

	// Fill the pool with connections to the first primary.
	confirmed := 0
	write := func() error {
		err := rdb.Set(ctx, "k"+strconv.Itoa(confirmed), "v", 0).Err()
		if err == nil {
			confirmed++
		}
		return err
	}
	for i := 0; i < 20; i++ {
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	old := s.Primary()
	if got := serverPort(t, rdb); got != port(old.Addr) {
		t.Fatalf("client talks to port %s, want the primary's %s", got, port(old.Addr))
	}

	// A primary that stops answering (SIGSTOP) keeps its connections: when
	// it wakes up, it is demoted, and READONLY must not reach the caller.
	old.Pause()
	next := s.WaitFailover(old)
	old.Resume()
	testenv.Eventually(t, 30*time.Second, func() string {
		info, err := old.Client().Info(ctx, "replication").Result()
		if err != nil {
			return err.Error()
		}
		if !containsLine(info, "role:slave") || !containsLine(info, "master_port:"+port(next.Addr)) {
			return "old primary not yet a replica of the new one"
		}
		return ""
	})
	testenv.Eventually(t, 30*time.Second, func() string {
		if err := write(); err != nil {
			return "write after the failover: " + err.Error()
		}
		return ""
	})
	for i := 0; i < 50; i++ {
		if err := write(); err != nil {
			t.Fatalf("write %d after the failover, with the old primary back as a replica: %v", i, err)
		}
		if got := serverPort(t, rdb); got != port(next.Addr) {
			t.Fatalf("client talks to port %s, want the new primary's %s", got, port(next.Addr))
		}
	}
	n, err := next.Client().DBSize(ctx).Result()
	if err != nil || n != int64(confirmed) {
		t.Errorf("keys on the new primary: got %d (%v), want the %d confirmed writes", n, err, confirmed)
	}
}

// TestRedisClientOnCluster: the client built from LEADBRIDGE_REDIS_CLUSTER
// is a cluster client that reads from primaries.
func TestRedisClientOnCluster(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	cfg, err := config.LoadAPI(env(c.Env()))
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client for a cluster: got %T, want *redis.ClusterClient", rdb)
	}
	if o := cc.Options(); o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
		t.Errorf("cluster client reads from replicas: ReadOnly %v RouteByLatency %v RouteRandomly %v", o.ReadOnly, o.RouteByLatency, o.RouteRandomly)
	}
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("k%d", i)
		if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if got, err := rdb.Get(ctx, k).Int(); err != nil || got != i {
			t.Fatalf("GET %s: got %d, %v; want %d", k, got, err, i)
		}
	}
}

// serverPort is the port of the server rdb's next command goes to.
func serverPort(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	info, err := rdb.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "tcp_port:"); ok {
			return v
		}
	}
	t.Fatal("INFO server has no tcp_port")
	return ""
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// containsLine reports whether INFO text has the line.
func containsLine(info, line string) bool {
	for _, l := range strings.Split(info, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
