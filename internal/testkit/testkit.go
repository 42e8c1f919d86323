// Package testkit starts the real parts the tests need: an in-process
// Kafka-protocol cluster (kfake) listening on TCP, and a key-prefix-isolated
// connection to the Redis server on 127.0.0.1:6379 (SEGSTREAM_TEST_REDIS
// overrides the address). It never flushes Redis: each test gets a unique
// prefix and deletes its own keys when it ends.
package testkit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/replay"
	"sync"
)

// DefaultTopics are the input topics and the DLQ.
var DefaultTopics = []string{"events.clickstream", "events.purchases", "events.reviews", "events.dlq"}

// Kafka starts a one-broker kfake cluster on a loopback TCP port with the
// default topics (partitions each) and returns its address.
func Kafka(t testing.TB, partitions int32, extraTopics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, append(append([]string(nil), DefaultTopics...), extraTopics...)...),
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.AllowAutoTopicCreation(),
	)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// RepoFile is a path under the repository root.
func RepoFile(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

// NeedModels fails (under CI) or skips the test when the encoder model, the
// ONNX Runtime library or the default classifier is missing: `make test`
// builds the first two (tools/setup.sh) and the third is committed.
func NeedModels(t testing.TB) {
	t.Helper()
	for _, p := range []string{"var/models/use-lite/model.onnx", "var/models/bge-small-zh-v15-q/model.onnx", "var/lib/libonnxruntime.so.1",
		"models/default.json", "models/themes-zh.json"} {
		if _, err := os.Stat(RepoFile(p)); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: run tools/setup.sh (make test does)", p)
			}
			t.Skipf("%s missing: run tools/setup.sh", p)
		}
	}
}

// RedisAddr is the Redis server the tests use.
func RedisAddr() string {
	if a := os.Getenv("SEGSTREAM_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// needEnv returns the environment variable name, which `make test` sets
// after starting what with tools/test-redis.sh; without it the test is
// skipped, or fails under CI.
func needEnv(t testing.TB, name, what string) string {
	t.Helper()
	a := os.Getenv(name)
	if a == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with make test", name)
		}
		t.Skipf("%s is not set: tools/test-redis.sh starts %s (make test does)", name, what)
	}
	return a
}

// RedisClusterAddrs returns the seed addresses of the test Redis Cluster
// (SEGSTREAM_TEST_REDIS_CLUSTER, comma-separated; `make test` starts one
// with tools/test-redis.sh and sets it). Without it the test is skipped,
// or fails under CI.
func RedisClusterAddrs(t testing.TB) []string {
	t.Helper()
	a := needEnv(t, "SEGSTREAM_TEST_REDIS_CLUSTER", "a cluster")
	addrs := strings.Split(a, ",")
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer func() { _ = rdb.Close() }() // best effort: a probe client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if info, err := rdb.ClusterInfo(ctx).Result(); err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("Redis Cluster at %s is not ready (%v): tools/test-redis.sh starts one", a, err)
	}
	return addrs
}

// RedisReplicated returns a master and its replica
// (SEGSTREAM_TEST_REDIS_REPLICATED="master,replica"; `make test` starts
// them with tools/test-redis.sh and sets it), checked to be linked. Without
// it the test is skipped, or fails under CI.
func RedisReplicated(t testing.TB) (master, replica string) {
	t.Helper()
	a := needEnv(t, "SEGSTREAM_TEST_REDIS_REPLICATED", "a master and a replica")
	master, replica, ok := strings.Cut(a, ",")
	if !ok {
		t.Fatalf("SEGSTREAM_TEST_REDIS_REPLICATED=%q: want master,replica", a)
	}
	rdb := redis.NewClient(&redis.Options{Addr: replica})
	defer func() { _ = rdb.Close() }() // best effort: a probe client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "master_link_status:up") {
		t.Fatalf("%s is not a linked replica (%v): tools/test-redis.sh starts one", replica, err)
	}
	return master, replica
}

// ReplicaOf returns the address of the first replica that the master at
// rdb reports (INFO replication).
func ReplicaOf(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	info, err := rdb.Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ip, port string
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "slave0:"); ok {
			for _, kv := range strings.Split(v, ",") {
				if x, ok := strings.CutPrefix(kv, "ip="); ok {
					ip = x
				}
				if x, ok := strings.CutPrefix(kv, "port="); ok {
					port = x
				}
			}
		}
	}
	if ip == "" || port == "" {
		t.Fatalf("%s reports no replica", rdb.Options().Addr)
	}
	return ip + ":" + port
}

// StallReplica blocks the Redis server at addr for d (DEBUG SLEEP, which
// tools/test-redis.sh allows from localhost) and returns at once; the
// returned channel closes when the server answers again.
func StallReplica(t testing.TB, addr string, d time.Duration) <-chan struct{} {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: d + 5*time.Second})
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = rdb.Close() }() // best effort: the sleep is over
		close(started)
		if err := rdb.Do(context.Background(), "debug", "sleep", fmt.Sprintf("%.3f", d.Seconds())).Err(); err != nil {
			t.Errorf("DEBUG SLEEP on %s: %v", addr, err)
		}
	}()
	<-started
	// return once the server is asleep: a PING with a short deadline fails
	probe := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 20 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = probe.Close() }() // best effort: a probe client
	for deadline := time.Now().Add(d / 2); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if probe.Ping(context.Background()).Err() != nil {
			break
		}
	}
	return done
}

// Redis connects to the test Redis server and returns the client and a
// unique key prefix; keys under the prefix are deleted at cleanup.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer (%v): start it with .ci/run or `redis-server --daemonize yes`", RedisAddr(), err)
	}
	name := strings.NewReplacer("/", "-", " ", "_", "{", "_", "}", "_", "*", "_", "?", "_", "[", "_", "]", "_").Replace(t.Name())
	prefix := fmt.Sprintf("t-%s-%08x", name, rand.Uint32())
	t.Cleanup(func() {
		DeletePrefix(rdb, prefix)
		_ = rdb.Close()
	})
	return rdb, prefix
}

// DeletePrefix deletes every key starting with prefix+":".
func DeletePrefix(rdb *redis.Client, prefix string) {
	_ = keyspace.DeletePrefix(context.Background(), rdb, prefix)
}

// Writer returns a kafka-go writer with its own transport, hashing keys to
// partitions like the service's producers do.
func Writer(addr, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    1000,
		Transport:    &kafka.Transport{},
	}
}

// Produce writes messages to topic.
func Produce(t testing.TB, addr, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := Writer(addr, topic)
	defer func() {
		if err := w.Close(); err != nil {
			t.Errorf("closing the writer to %s: %v", topic, err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing %d messages to %s: %v", len(msgs), topic, err)
	}
}

// ReadTopic reads every message currently in all partitions of topic.
func ReadTopic(t testing.TB, addr, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addr), Transport: &kafka.Transport{}}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("metadata of %s: %v", topic, errors.Join(err))
	}
	var out []kafka.Message
	for _, p := range md.Topics[0].Partitions {
		offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p.ID)}}})
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		end := offs.Topics[topic][0].LastOffset
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				_ = r.Close() // the read error is the one to report
				t.Fatalf("reading %s/%d: %v", topic, p.ID, err)
			}
			out = append(out, m)
			if m.Offset+1 >= end {
				break
			}
		}
		_ = r.Close() // no consumer group: nothing to commit, the error carries nothing
	}
	return out
}

// WaitFor polls cond every 20ms until it returns nil or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met after %s: %v", timeout, err)
}

// ReadTopicIfAny is ReadTopic for a topic that may still be empty or missing.
func ReadTopicIfAny(t testing.TB, addr, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addr), Transport: &kafka.Transport{}}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil
	}
	return ReadTopic(t, addr, topic)
}

var retailSlice struct {
	once sync.Once
	evs  []*events.Event
	err  error
}

// RetailSlice returns the events of the committed slice of the real Online
// Retail data (testdata/classifier: every row of 120 randomly chosen
// customers from both files), read once per test binary.
func RetailSlice(tb testing.TB) []*events.Event {
	tb.Helper()
	retailSlice.once.Do(func() {
		files := []string{
			RepoFile("testdata/classifier/retail_slice_2009_2010.csv.gz"),
			RepoFile("testdata/classifier/retail_slice_2010_2011.csv.gz"),
		}
		items, _, err := replay.ReadRetail(files, replay.RetailOptions{})
		if err != nil {
			retailSlice.err = err
			return
		}
		for _, it := range items {
			retailSlice.evs = append(retailSlice.evs, it.Event)
		}
	})
	if retailSlice.err != nil {
		tb.Fatal(retailSlice.err)
	}
	return retailSlice.evs
}
