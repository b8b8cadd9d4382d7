package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is how many hash slots Redis Cluster has.
const clusterSlots = 16384

// clusterNodeTimeout is how long cluster nodes wait before they take a
// silent peer for failed (cluster-node-timeout).
const clusterNodeTimeout = 3 * time.Second

// Cluster is a Redis Cluster of three primaries (no replicas) on loopback,
// owned by one test. Each primary keeps an AOF (fsync on every write) and
// its nodes.conf in its own directory, so one that is killed and started
// again comes back with its slots and its data.
type Cluster struct {
	Nodes []*Redis // the primaries; Nodes[i] serves the i-th third of the slots
	t     testing.TB
}

// StartCluster starts three redis-server --cluster-enabled yes on free
// loopback ports (each with its cluster bus port, port+10000, free too),
// assigns the slots (CLUSTER ADDSLOTSRANGE, SET-CONFIG-EPOCH, MEET) and
// returns once every node reports the cluster ok. Everything is killed
// when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	needRedisServer(t)
	c := &Cluster{t: t}
	for i := 0; i < 3; i++ {
		c.Nodes = append(c.Nodes, startRedis(t, clusterPort,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout.Milliseconds()))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr})
		first, last := slotRange(i)
		// Distinct config epochs up front, as redis-cli --cluster create
		// sets them, so that no epoch collision has to be resolved first.
		err := rc.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err()
		if err == nil {
			err = rc.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err()
		}
		rc.Close()
		if err == nil && i > 0 {
			first := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr})
			err = first.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.port).Err()
			first.Close()
		}
		if err != nil {
			t.Fatalf("cluster set-up on %s: %v", n.Addr, err)
		}
	}
	c.WaitOK()
	return c
}

// slotRange is the first and last hash slot node i serves.
func slotRange(i int) (first, last int) {
	return i * clusterSlots / 3, (i+1)*clusterSlots/3 - 1
}

// clusterPort picks a port whose cluster bus port (port+10000) is free as
// well, both below the kernel's ephemeral range so that neither is taken by
// some client's outgoing connection meanwhile.
func clusterPort(t testing.TB) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		p := 10000 + rand.IntN(12000) // bus ports 20000–31999
		a, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free port pair (port, port+10000) for a cluster node")
	return 0
}

// WaitOK waits until every running node reports cluster_state:ok with all
// slots served and all three nodes known: after StartCluster, or after a
// killed node was started again.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	Eventually(c.t, time.Minute, func() string {
		for _, n := range c.Nodes {
			if !n.Running() {
				return n.Addr + " is not running"
			}
			info, err := clusterInfo(n.Addr)
			if err != nil {
				return fmt.Sprintf("%s: %v", n.Addr, err)
			}
			if info["cluster_state"] != "ok" || info["cluster_slots_ok"] != strconv.Itoa(clusterSlots) || info["cluster_known_nodes"] != "3" {
				return fmt.Sprintf("%s: cluster_state %s, %s slots ok, %s nodes known", n.Addr,
					info["cluster_state"], info["cluster_slots_ok"], info["cluster_known_nodes"])
			}
		}
		return ""
	})
}

func clusterInfo(addr string) (map[string]string, error) {
	rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := rc.ClusterInfo(ctx).Result()
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

// Addrs are the nodes' addresses, the seeds for LEADBRIDGE_REDIS_CLUSTER.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// Env is the configuration that points leadbridge at this cluster.
func (c *Cluster) Env() map[string]string {
	return map[string]string{"LEADBRIDGE_REDIS_CLUSTER": strings.Join(c.Addrs(), ",")}
}

// Client returns a go-redis cluster client for this cluster, closed with
// the test.
func (c *Cluster) Client() *redis.ClusterClient {
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { rc.Close() })
	return rc
}

// NodeFor is the primary that serves key's hash slot (as CLUSTER KEYSLOT
// computes it, from the key's {hash tag} if it has one).
func (c *Cluster) NodeFor(key string) *Redis {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: n.Addr})
		slot, err := rc.ClusterKeySlot(context.Background(), key).Result()
		rc.Close()
		if err != nil {
			c.t.Fatalf("CLUSTER KEYSLOT on %s: %v", n.Addr, err)
		}
		for i := range c.Nodes {
			if first, last := slotRange(i); int(slot) >= first && int(slot) <= last {
				return c.Nodes[i]
			}
		}
	}
	c.t.Fatal("no cluster node is running")
	return nil
}

// Restart kills node with SIGKILL, starts it again and waits until the
// cluster is whole.
func (c *Cluster) Restart(node *Redis) {
	c.t.Helper()
	node.Kill()
	node.Start()
	c.WaitOK()
}
