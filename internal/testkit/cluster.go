package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// OwnCluster is a Redis Cluster a single test owns (it may kill nodes):
// redis-server child processes on consecutive ports, no persistence.
type OwnCluster struct {
	Seeds []string             // the masters' addresses at creation
	Procs map[string]*exec.Cmd // every node by address
	args  map[string][]string
}

// StartOwnCluster starts masters × (1 + replicas) redis-server processes
// from basePort and joins them into a cluster whose nodes are declared
// failed after nodeTimeout. Every process is killed at cleanup. Without
// redis-server the test is skipped, or fails under CI.
func StartOwnCluster(t testing.TB, basePort, masters, replicas int, nodeTimeout time.Duration) *OwnCluster {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not found: run tools/setup.sh")
		}
		t.Skip("redis-server not found: run tools/setup.sh")
	}
	c := &OwnCluster{Procs: map[string]*exec.Cmd{}, args: map[string][]string{}}
	dir := t.TempDir()
	n := masters * (1 + replicas)
	var all []string
	for i := 0; i < n; i++ {
		port := strconv.Itoa(basePort + i)
		addr := "127.0.0.1:" + port
		d := filepath.Join(dir, port)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		c.args[addr] = []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(d, "nodes.conf"),
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10), "--dir", d,
			"--logfile", filepath.Join(d, "log")}
		c.start(t, addr)
		all = append(all, addr)
	}
	for _, a := range all {
		WaitFor(t, 10*time.Second, func() error {
			r := redis.NewClient(&redis.Options{Addr: a})
			defer func() { _ = r.Close() }() // best effort: a probe client
			return r.Ping(context.Background()).Err()
		})
	}
	args := append([]string{"--cluster", "create"}, all...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.Seeds = all[:masters]
	WaitFor(t, 30*time.Second, func() error {
		r := redis.NewClient(&redis.Options{Addr: all[0]})
		defer func() { _ = r.Close() }() // best effort: a probe client
		info, err := r.ClusterInfo(context.Background()).Result()
		if err != nil {
			return fmt.Errorf("cluster not ready: %w", err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("cluster not ready: cluster_state is not ok")
		}
		nodes, err := r.ClusterNodes(context.Background()).Result()
		if err != nil {
			return fmt.Errorf("not every node connected: %w", err)
		}
		if k := strings.Count(nodes, "connected"); k != n {
			return fmt.Errorf("not every node connected: %d of %d", k, n)
		}
		synced := 0
		for _, a := range all {
			rr := redis.NewClient(&redis.Options{Addr: a})
			role, _ := rr.Info(context.Background(), "replication").Result()
			_ = rr.Close() // best effort: a probe client
			if strings.Contains(role, "role:slave") && strings.Contains(role, "master_link_status:up") {
				synced++
			}
		}
		if synced != masters*replicas {
			return fmt.Errorf("%d of %d replicas in sync", synced, masters*replicas)
		}
		return nil
	})
	return c
}

func (c *OwnCluster) start(t testing.TB, addr string) {
	t.Helper()
	cmd := exec.Command("redis-server", c.args[addr]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.Procs[addr] = cmd
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// Restart starts a killed node again with its old cluster state: it
// rejoins, as a replica when its slots were taken over.
func (c *OwnCluster) Restart(t testing.TB, addr string) {
	t.Helper()
	c.start(t, addr)
}

// Kill SIGKILLs the node at addr (a crash: no goodbye to the cluster).
func (c *OwnCluster) Kill(t testing.TB, addr string) {
	t.Helper()
	p := c.Procs[addr]
	if p == nil {
		t.Fatalf("no node %s", addr)
	}
	if err := p.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait()
}
