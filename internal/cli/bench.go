package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

func init() {
	register("bench", "measure fold throughput Kafka→Redis against kcat on the same broker", cmdBench)
}

func cmdBench(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("bench", "[--events 1000000] [--redis 127.0.0.1:6379]", stderr)
	n := fs.Int("events", 1_000_000, "events to replay (Online Retail invoices and their lines as views, cycled with new ids)")
	parts := fs.Int("partitions", 6, "partitions per input topic")
	batch := fs.Int("batch", 2000, "consumer max batch")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis to fold into, comma-separated addresses for a cluster (a unique key prefix is used and deleted)")
	cluster := fs.Bool("cluster", false, "use the Redis Cluster client (implied by several --redis addresses)")
	brokers := fs.String("brokers", "", "use this broker instead of starting one (kcat reads it too)")
	waitReplicas := fs.Int("wait-replicas", 0, "featurestore.wait_replicas: each batch waits for this many replicas of the Redis server")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the fold phase to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := func(format string, a ...any) { stderr.printf("bench: "+format+"\n", a...) }

	// 1. Broker: a separate process, so the consumer's RSS is its own and
	// kcat and segstream read the same broker over TCP.
	addr := *brokers
	if addr == "" {
		closeBroker, a, err := startBrokerProcess(ctx, *parts, stderr)
		if err != nil {
			return err
		}
		defer closeBroker()
		addr = a
		log("broker process on %s", addr)
	}
	topics := map[events.Family]string{events.FamilyClickstream: "events.clickstream", events.FamilyPurchase: "events.purchases", events.FamilyReview: "events.reviews"}
	if err := service.EnsureTopics(ctx, service.KafkaConfig{Config: consumer.Config{Brokers: []string{addr}}}, service.TopicConfigs([]string{"events.clickstream", "events.purchases", "events.reviews", "events.dlq"}, *parts, 1)...); err != nil {
		return err
	}

	// 2. Events.
	t0 := time.Now()
	items, users, err := benchEvents(*n)
	if err != nil {
		return err
	}
	log("built %d events for %d users in %s", len(items), users, time.Since(t0).Round(time.Millisecond))
	snd, err := replay.Send(ctx, items, replay.SendConfig{Brokers: []string{addr}, Topics: topics, Chunk: 5000, Progress: stderr, Label: "produce"}, nil)
	if err != nil {
		return err
	}
	// items is not used from here on, so the collection below frees it.
	runtime.GC()
	debug.FreeOSMemory()

	// 3. kcat alone reading the same topics from the same broker.
	kcatRate := 0.0
	if _, err := exec.LookPath("kcat"); err == nil {
		t1 := time.Now()
		got := 0
		for _, tp := range []string{"events.clickstream", "events.purchases"} {
			c := exec.CommandContext(ctx, "kcat", "-C", "-b", addr, "-t", tp, "-o", "beginning", "-e", "-q", "-f", "%o\n")
			out, err := c.Output()
			if err != nil {
				return fmt.Errorf("kcat: %w", err)
			}
			got += bytes.Count(out, []byte{'\n'})
		}
		el := time.Since(t1)
		kcatRate = float64(got) / el.Seconds()
		log("kcat read %d messages in %s (%.0f msg/s)", got, el.Round(time.Millisecond), kcatRate)
	} else {
		log("kcat not installed: skipping the kcat reference (apt-get install kcat)")
	}

	// 4. segstream: consume and fold into Redis.
	rdb, err := service.NewRedis(service.RedisConfig{Addrs: splitList(*redisAddr), Cluster: *cluster, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer stderr.cleanup("closing Redis", rdb.Close)
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", *redisAddr, err)
	}
	prefix := fmt.Sprintf("bench%08x", rand.Uint32())
	defer stderr.cleanup("deleting the benchmark's keys under "+prefix, func() error {
		return keyspace.DeletePrefix(context.Background(), rdb, prefix)
	})
	memBefore := usedMemory(ctx, rdb)
	reg := prometheus.NewRegistry()
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix, WaitReplicas: *waitReplicas}, nil, reg)
	if err != nil {
		return err
	}
	cons, err := consumer.New(consumer.Config{Brokers: []string{addr}, GroupID: prefix, MaxBatch: *batch,
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: 100 * time.Millisecond}, service.Folder(store, nil, nil), nil, reg, consumer.Hooks{})
	if err != nil {
		return err
	}
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset the peak-RSS mark
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	t2 := time.Now()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer stderr.cleanup("writing the CPU profile "+*cpuProfile, f.Close)
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	go func() { done <- cons.Run(cctx) }()
	var firstAt time.Time
	for {
		applied := counter(reg, "segstream_featurestore_events_total", "applied")
		if applied > 0 && firstAt.IsZero() {
			firstAt = time.Now()
		}
		drawProgress(stderr, int(applied), snd.Sent, time.Since(t2))
		if int(applied) >= snd.Sent {
			break
		}
		select {
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		case err := <-done:
			cancel()
			if ctx.Err() != nil {
				return ctx.Err() // interrupted, not a failure of what we measure
			}
			return stoppedEarly("consumer stopped early", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	el := time.Since(t2)
	stderr.println()
	cancel()
	if err := <-done; err != nil { // the events are folded: report it, the measurement stands
		log("consumer stopped with an error: %v", err)
	}
	rate := float64(snd.Sent) / el.Seconds()
	rts := counter(reg, "segstream_featurestore_round_trips_total", "")
	rss := peakRSS()
	memAfter := usedMemory(ctx, rdb)
	perKey := sampleMemoryUsage(ctx, rdb, prefix)

	stdout.printf("events                     %d (%d users, %d partitions per topic, batch %d)\n", snd.Sent, users, *parts, *batch)
	stdout.printf("produce rate               %.0f events/s\n", snd.PerSec)
	if kcatRate > 0 {
		stdout.printf("kcat read rate             %.0f msg/s\n", kcatRate)
	}
	stdout.printf("fold rate (Kafka→Redis)    %.0f events/s (%s; first fold after %s)\n", rate, el.Round(time.Millisecond), firstAt.Sub(t2).Round(time.Millisecond))
	if kcatRate > 0 {
		stdout.printf("fold / kcat                %.2f\n", rate/kcatRate)
	}
	stdout.printf("Redis round trips/event    %.5f (%0.f round trips)\n", rts/float64(snd.Sent), rts)
	stdout.printf("peak RSS while folding     %.1f MiB\n", float64(rss)/(1<<20))
	stdout.printf("Redis memory per profile   %.0f B (used_memory delta / profiles); MEMORY USAGE mean %.0f B\n", float64(memAfter-memBefore)/float64(users), perKey)
	return nil
}

// benchEvents turns Online Retail into n events: each invoice line becomes a
// view of that product (clickstream) before its invoice's purchase or refund
// event; the data set is cycled with new user and event ids until n.
func benchEvents(n int) ([]replay.Item, int, error) {
	base, _, err := replay.ReadRetail(retailFiles(), replay.RetailOptions{})
	if err != nil {
		return nil, 0, err
	}
	out := make([]replay.Item, 0, n)
	users := map[string]bool{}
	for cycle := 0; len(out) < n; cycle++ {
		for _, it := range base {
			if len(out) >= n {
				break
			}
			user := it.Event.UserID
			if cycle > 0 {
				user = fmt.Sprintf("%s~%d", user, cycle)
			}
			users[user] = true
			for li, line := range it.Event.Items {
				if len(out) >= n-1 {
					break
				}
				v := &events.Event{EventID: fmt.Sprintf("bv-%d-%s-%d", cycle, it.Event.OrderID, li), Type: events.TypeView, UserID: user,
					TS: it.Event.TS.Add(-time.Minute), ProductID: line.ProductID, Price: line.UnitPrice, SessionID: it.Event.OrderID}
				b, _ := events.Encode(v)
				out = append(out, replay.Item{Family: events.FamilyClickstream, Key: user, Value: b, TS: v.TS})
			}
			ev := *it.Event
			ev.UserID = user
			ev.EventID = fmt.Sprintf("%s-c%d", ev.EventID, cycle)
			b, _ := events.Encode(&ev)
			out = append(out, replay.Item{Family: events.FamilyPurchase, Key: user, Value: b, TS: ev.TS})
		}
	}
	return out, len(users), nil
}

func counter(g prometheus.Gatherer, name, label string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabelValue(m, label) {
				continue
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabelValue(m *dto.Metric, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == v {
			return true
		}
	}
	return false
}

func drawProgress(w *output, done, total int, el time.Duration) {
	rate := float64(done) / el.Seconds()
	w.printf("\rfold    %d/%d events %.0f ev/s   ", done, total, rate)
}

// usedMemory sums used_memory over the servers (masters of a cluster).
func usedMemory(ctx context.Context, rdb redis.UniversalClient) int64 {
	var total atomic.Int64
	_ = keyspace.EachServer(ctx, rdb, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				total.Add(n)
			}
		}
		return nil
	})
	return total.Load()
}

// sampleMemoryUsage is the mean MEMORY USAGE of up to about 2,000 profile
// keys per server.
func sampleMemoryUsage(ctx context.Context, rdb redis.UniversalClient, prefix string) float64 {
	var sum, n atomic.Int64
	_ = keyspace.EachServer(ctx, rdb, func(ctx context.Context, c *redis.Client) error {
		keys, _, err := c.Scan(ctx, 0, keyspace.NewKeys(prefix).ProfilePattern(), 2000).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			m, _ := c.MemoryUsage(ctx, k).Result()
			sum.Add(m)
			n.Add(1)
		}
		return nil
	})
	if n.Load() == 0 {
		return 0
	}
	return float64(sum.Load()) / float64(n.Load())
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startBrokerProcess runs `segstream broker` as a child process, so the
// measured process's CPU and RSS are its own.
func startBrokerProcess(ctx context.Context, partitions int, stderr *output) (func(), string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, self, "broker", "--port", "0", "--partitions", strconv.Itoa(partitions))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = stderr.w // the child writes to the underlying stderr itself, with no copying goroutine
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting broker process: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("broker process: %w", err)
	}
	return func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }, strings.TrimSpace(strings.TrimPrefix(line, "broker listening on ")), nil
}
