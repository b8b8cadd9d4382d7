package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestSentinelFailsOver: what the primary confirmed to have replicated is
// on the replica that the sentinels promote once the primary is killed,
// and a failover client writes to it.
func TestSentinelFailsOver(t *testing.T) {
	t.Parallel()
	s := StartSentinel(t)
	ctx := context.Background()
	rdb := s.Client()
	old := s.Primary()
	if old != s.Nodes[0] {
		t.Fatalf("primary at start: got %s, want %s", old.Addr, s.Nodes[0].Addr)
	}
	if err := rdb.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: got %d, %v; want 1 replica", n, err)
	}

	if killed := s.KillPrimary(); killed != old {
		t.Fatalf("killed %s, want the primary %s", killed.Addr, old.Addr)
	}
	next := s.WaitFailover(old)
	if next != s.Nodes[1] {
		t.Fatalf("new primary: got %s, want the replica %s", next.Addr, s.Nodes[1].Addr)
	}
	Eventually(t, 30*time.Second, func() string {
		got, err := rdb.Get(ctx, "k").Result()
		if err != nil {
			return err.Error()
		}
		if got != "before" {
			return fmt.Sprintf("k: got %q, want %q", got, "before")
		}
		if err := rdb.Set(ctx, "k", "after", 0).Err(); err != nil {
			return "write after failover: " + err.Error()
		}
		return ""
	})
}

// TestClusterRestartKeepsData: keys of every primary are served; a killed
// primary comes back with its slots and its data.
func TestClusterRestartKeepsData(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	ctx := context.Background()
	rdb := c.Client()
	served := map[*Redis]bool{}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("key-%d", i)
		if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		served[c.NodeFor(k)] = true
	}
	if len(served) != 3 {
		t.Fatalf("30 keys landed on %d primaries, want 3", len(served))
	}
	if a, b := c.NodeFor("{lb}:rec:1"), c.NodeFor("{lb}:idx:accepted"); a != b {
		t.Errorf("keys of one hash tag on %s and %s", a.Addr, b.Addr)
	}

	node := c.NodeFor("key-0")
	c.Restart(node)
	Eventually(t, 30*time.Second, func() string {
		for i := 0; i < 30; i++ {
			k := fmt.Sprintf("key-%d", i)
			got, err := rdb.Get(ctx, k).Int()
			if err != nil {
				return fmt.Sprintf("GET %s: %v", k, err)
			}
			if got != i {
				return fmt.Sprintf("GET %s: got %d, want %d", k, got, i)
			}
		}
		return ""
	})
}
