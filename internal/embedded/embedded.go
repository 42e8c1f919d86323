// Package embedded starts the zero-set-up parts of `segstream demo` and
// `segstream bench`: an in-process Kafka-protocol cluster (franz-go's kfake)
// on a loopback TCP port, and a Redis server — a real redis-server child
// process when the binary is installed, otherwise the in-process miniredis.
package embedded

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka starts a one-broker kfake cluster on 127.0.0.1:port (0 picks a free
// port) with topics created at the given partition count.
func Kafka(port int, partitions int32, topics ...string) (*kfake.Cluster, string, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, "127.0.0.1:"+strconv.Itoa(port))
		}),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, "", fmt.Errorf("starting embedded Kafka broker: %w", err)
	}
	return c, c.ListenAddrs()[0], nil
}

// Redis is an embedded Redis server.
type Redis struct {
	Addr string
	Kind string // "redis-server" or "miniredis"
	stop func()
}

// Close stops the server.
func (r *Redis) Close() { r.stop() }

// StartRedis starts redis-server on a free loopback port with persistence
// off, or miniredis when redis-server is not installed.
func StartRedis(ctx context.Context) (*Redis, error) {
	if bin, err := exec.LookPath("redis-server"); err == nil {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "segstream-redis-")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting redis-server: %w", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		stop := func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			_ = os.RemoveAll(dir)
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer func() { _ = rdb.Close() }() // only pinged: a Close error carries nothing
		deadline := time.Now().Add(10 * time.Second)
		for {
			if err := rdb.Ping(ctx).Err(); err == nil {
				break
			}
			if time.Now().After(deadline) {
				stop()
				return nil, fmt.Errorf("embedded redis-server on %s did not answer within 10s", addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return &Redis{Addr: addr, Kind: "redis-server", stop: stop}, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("starting miniredis: %w", err)
	}
	return &Redis{Addr: m.Addr(), Kind: "miniredis", stop: m.Close}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }() // only reserved a port number: nothing was accepted
	return l.Addr().(*net.TCPAddr).Port, nil
}
