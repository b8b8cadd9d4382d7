package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the sentinels of StartSentinel monitor
// (LEADBRIDGE_REDIS_MASTER).
const SentinelMaster = "leadbridge"

// Timings of the sentinels: a primary that answers no PING for a second is
// down, so a failover takes a few seconds instead of the production
// defaults' half a minute and more.
const (
	sentinelDownAfter       = 1000 * time.Millisecond
	sentinelFailoverTimeout = 4000 * time.Millisecond
)

// Sentinel is a Redis primary with one replica, watched by three sentinels
// (quorum 2), all on loopback and owned by one test.
type Sentinel struct {
	// Nodes are the data nodes: Nodes[0] starts as the primary, Nodes[1]
	// as its replica. Which one is the primary now is Primary's answer.
	Nodes []*Redis
	// Sentinels are the sentinels' addresses (LEADBRIDGE_REDIS_SENTINELS).
	Sentinels []string

	t    testing.TB
	cmds []*exec.Cmd
	dirs []string
}

// StartSentinel starts a primary, a replica of it and three sentinels
// (redis-server --sentinel, each with its generated configuration file) on
// free loopback ports, and returns once the replica is in sync and every
// sentinel knows the replica and the two other sentinels — so that a
// failover can start as soon as the primary is lost. Everything is killed
// when the test ends. The data nodes keep an AOF like StartRedis's.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	needRedisServer(t)
	s := &Sentinel{t: t}
	t.Cleanup(s.stop)
	primary := startRedis(t, freePort, noSyncDelay...)
	s.Nodes = []*Redis{primary, StartReplica(t, primary)}
	for i := 0; i < 3; i++ {
		s.startSentinel(primary.port)
	}
	Eventually(t, 30*time.Second, func() string {
		for _, a := range s.Sentinels {
			m, err := sentinelMaster(a)
			if err != nil {
				return fmt.Sprintf("sentinel %s: %v", a, err)
			}
			if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Sprintf("sentinel %s: flags %s, %s replicas, %s other sentinels; want master, 1, 2",
					a, m["flags"], m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return ""
	})
	return s
}

// noSyncDelay makes a primary start a replica's full synchronisation at
// once instead of waiting 5 s for more replicas to join it; a replica gets
// it too, for when it is promoted.
var noSyncDelay = []string{"--repl-diskless-sync-delay", "0"}

// StartReplica starts a redis-server replicating primary (with an AOF like
// StartRedis's) and returns once it is in sync.
func StartReplica(t testing.TB, primary *Redis) *Redis {
	t.Helper()
	// Without this the primary waits 5 s for more replicas before it
	// starts the first full synchronisation.
	if err := primary.Client().ConfigSet(context.Background(), "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatalf("configure the primary for a replica: %v", err)
	}
	r := startRedis(t, freePort, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.port)}, noSyncDelay...)...)
	Eventually(t, 30*time.Second, func() string {
		info, err := r.info("replication")
		if err != nil {
			return err.Error()
		}
		if info["master_link_status"] != "up" {
			return "replica not in sync with the primary: master_link_status " + info["master_link_status"]
		}
		return ""
	})
	return r
}

// startSentinel starts one sentinel monitoring the primary on port.
func (s *Sentinel) startSentinel(primaryPort int) {
	s.t.Helper()
	dir := s.t.TempDir()
	for try := 0; ; try++ {
		port := freePort(s.t)
		conf := filepath.Join(dir, "sentinel.conf")
		// Sentinel rewrites its file as it learns: it must be writable.
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[4]s %[6]d
sentinel failover-timeout %[4]s %[7]d
sentinel parallel-syncs %[4]s 1
`, port, dir, filepath.Join(dir, "sentinel.log"), SentinelMaster, primaryPort,
			sentinelDownAfter.Milliseconds(), sentinelFailoverTimeout.Milliseconds())
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			s.t.Fatal(err)
		}
		cmd := exec.Command("redis-server", conf, "--sentinel")
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("start redis-server --sentinel: %v", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		err := waitOwnServer(addr, cmd.Process.Pid, filepath.Join(dir, "sentinel.log"))
		if err == nil {
			s.cmds = append(s.cmds, cmd)
			s.dirs = append(s.dirs, dir)
			s.Sentinels = append(s.Sentinels, addr)
			return
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !errors.Is(err, errPortTaken) || try == 4 {
			s.t.Fatal(err)
		}
	}
}

// waitOwnServer waits until the server on addr answers and is process pid.
func waitOwnServer(addr string, pid int, logfile string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := infoAt(addr, "server")
		if err == nil {
			if got := info["process_id"]; got != strconv.Itoa(pid) {
				return fmt.Errorf("%w: %s answered by pid %s, not %d", errPortTaken, addr, got, pid)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server on %s did not answer: %v\n%s", addr, err, tail(logfile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Sentinel) stop() {
	for _, c := range s.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	s.cmds = nil
}

// Env is the configuration that points leadbridge at these sentinels:
// LEADBRIDGE_REDIS_SENTINELS and LEADBRIDGE_REDIS_MASTER.
func (s *Sentinel) Env() map[string]string {
	return map[string]string{
		"LEADBRIDGE_REDIS_SENTINELS": strings.Join(s.Sentinels, ","),
		"LEADBRIDGE_REDIS_MASTER":    SentinelMaster,
	}
}

// Client returns a go-redis failover client for these sentinels, closed
// with the test.
func (s *Sentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Sentinels})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Primary is the data node the sentinels name as the primary now.
func (s *Sentinel) Primary() *Redis {
	s.t.Helper()
	var errs []error
	for _, a := range s.Sentinels {
		addr, err := masterAddr(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return s.node(addr)
	}
	s.t.Fatalf("no sentinel names the primary: %v", errors.Join(errs...))
	return nil
}

// KillPrimary kills the current primary with SIGKILL and returns it.
func (s *Sentinel) KillPrimary() *Redis {
	s.t.Helper()
	p := s.Primary()
	p.Kill()
	return p
}

// WaitFailover waits until every sentinel names a primary other than old
// and that node has taken the role, and returns it. It fails the test,
// with the sentinels' last log lines, if that takes over a minute.
func (s *Sentinel) WaitFailover(old *Redis) *Redis {
	s.t.Helper()
	var next *Redis
	deadline := time.Now().Add(time.Minute)
	for {
		msg := s.failedOver(old, &next)
		if msg == "" {
			return next
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, d := range s.dirs {
				logs = append(logs, tail(filepath.Join(d, "sentinel.log")))
			}
			s.t.Fatalf("no failover within a minute: %s\nsentinel logs: %s", msg, strings.Join(logs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Rejoin starts a killed data node again as a replica of the current
// primary — as a crashed primary's machine restarts it, having asked the
// sentinels where the primary is now — and waits until it is in sync.
func (s *Sentinel) Rejoin(node *Redis) {
	s.t.Helper()
	primary := s.Primary()
	node.args = append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.port)}, noSyncDelay...)
	node.Start()
	Eventually(s.t, time.Minute, func() string {
		info, err := node.info("replication")
		if err != nil {
			return err.Error()
		}
		if info["role"] != "slave" || info["master_port"] != strconv.Itoa(primary.port) || info["master_link_status"] != "up" {
			return fmt.Sprintf("%s: role %s of port %s, link %s; want a replica of %s in sync",
				node.Addr, info["role"], info["master_port"], info["master_link_status"], primary.Addr)
		}
		return ""
	})
}

// failedOver returns "" once the failover away from old is complete,
// setting *next to the new primary; otherwise what is still missing.
func (s *Sentinel) failedOver(old *Redis, next **Redis) string {
	var addr string
	for _, a := range s.Sentinels {
		got, err := masterAddr(a)
		if err != nil {
			return fmt.Sprintf("sentinel %s: %v", a, err)
		}
		if got == old.Addr {
			return fmt.Sprintf("sentinel %s still names %s", a, got)
		}
		if addr != "" && got != addr {
			return fmt.Sprintf("sentinels disagree: %s and %s", addr, got)
		}
		addr = got
	}
	info, err := infoAt(addr, "replication")
	if err != nil {
		return fmt.Sprintf("new primary %s: %v", addr, err)
	}
	if info["role"] != "master" {
		return fmt.Sprintf("new primary %s has role %s", addr, info["role"])
	}
	*next = s.node(addr)
	return ""
}

func (s *Sentinel) node(addr string) *Redis {
	s.t.Helper()
	for _, n := range s.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	s.t.Fatalf("sentinels name %s, which is none of this test's nodes", addr)
	return nil
}

func sentinelClient(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
}

// masterAddr asks the sentinel on addr where the primary is.
func masterAddr(addr string) (string, error) {
	c := sentinelClient(addr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("get-master-addr-by-name: %v", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// sentinelMaster is SENTINEL MASTER's view of the monitored primary.
func sentinelMaster(addr string) (map[string]string, error) {
	c := sentinelClient(addr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Master(ctx, SentinelMaster).Result()
}
