package cli

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

func init() {
	register("bench-labels", "measure event-to-label latency of the whole pipeline at a steady rate", cmdBenchLabels)
}

func cmdBenchLabels(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("bench-labels", "[--rate 2000] [--seconds 30] [--coalesce 200ms]", stderr)
	rate := fs.Float64("rate", 2000, "steady events per second")
	seconds := fs.Float64("seconds", 30, "how long to send")
	coalesce := fs.Duration("coalesce", 50*time.Millisecond, "labels.coalesce")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis server (a unique key prefix is used and deleted)")
	brokers := fs.String("brokers", "", "use this broker instead of an embedded one")
	retail := fs.Bool("retail", false, "replay the full Online Retail history as fast as possible instead (encodes per 100 events)")
	if err := parse(fs, args); err != nil {
		return err
	}
	addr := *brokers
	if addr == "" {
		c, a, err := startBrokerProcess(ctx, 6, stderr)
		if err != nil {
			return err
		}
		defer c()
		addr = a
	}
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer stderr.cleanup("closing Redis", rdb.Close)
	prefix := fmt.Sprintf("benchl%08x", rand.Uint32())
	defer stderr.cleanup("deleting the benchmark's keys under "+prefix, func() error {
		return keyspace.DeletePrefix(context.Background(), rdb, prefix)
	})
	cfg, err := service.LoadConfig("", []string{
		"SEGSTREAM_KAFKA_BROKERS=" + addr, "SEGSTREAM_KAFKA_GROUP_ID=" + prefix,
		"SEGSTREAM_KAFKA_HEARTBEAT_INTERVAL=500ms", "SEGSTREAM_KAFKA_SESSION_TIMEOUT=10s", "SEGSTREAM_KAFKA_JOIN_GROUP_BACKOFF=100ms",
		"SEGSTREAM_REDIS_ADDRS=" + *redisAddr, "SEGSTREAM_FEATURESTORE_PREFIX=" + prefix, "SEGSTREAM_HTTP_LISTEN=off",
		"SEGSTREAM_LABELS_COALESCE=" + coalesce.String(), "SEGSTREAM_LABELS_POLL_INTERVAL=5ms",
		"SEGSTREAM_ENCODER_MODEL_DIR=" + service.RepoFile("var/models/use-lite"),
		"SEGSTREAM_ENCODER_LIBRARY_PATH=" + service.RepoFile("var/lib/libonnxruntime.so.1"),
	})
	if err != nil {
		return err
	}
	svc, err := service.New(cfg, nil, consumer.Hooks{})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- svc.Run(sctx) }()
	time.Sleep(time.Second) // join the group

	var items []replay.Item
	var sc replay.SendConfig
	if *retail {
		if items, _, err = replay.ReadRetail(retailFiles(), replay.RetailOptions{}); err != nil {
			return err
		}
	} else {
		n := int(*rate * *seconds)
		if items, _, err = benchEvents(n); err != nil {
			return err
		}
		// spread the users: a steady stream over many users, as in production
		rand.New(rand.NewPCG(1, 1)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		sc.Rate = *rate
	}
	sc.Brokers = []string{addr}
	sc.Topics = map[events.Family]string{events.FamilyClickstream: "events.clickstream", events.FamilyPurchase: "events.purchases", events.FamilyReview: "events.reviews"}
	sc.Progress = stderr
	sc.Label = "send"
	t0 := time.Now()
	snd, err := replay.Send(ctx, items, sc, nil)
	if err != nil {
		return err
	}
	sendEl := time.Since(t0)
	// drain: everything folded and labelled
	for {
		in := counter(svc.Registry, "segstream_consumer_events_in_total", "")
		if int(in) >= snd.Sent && pending(ctx, svc.Labels) == 0 {
			break
		}
		select {
		case err := <-done:
			return stoppedEarly("service stopped", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	total := time.Since(t0)
	stop()
	if err := <-done; err != nil { // everything is labelled: report it, the measurement stands
		stderr.printf("bench-labels: service stopped with an error: %v\n", err)
	}
	p50, p99 := histQuantile(svc.Registry, "segstream_labels_event_to_label_seconds", 0.5), histQuantile(svc.Registry, "segstream_labels_event_to_label_seconds", 0.99)
	enc := counter(svc.Registry, "segstream_labels_encodes_total", "")
	ev := counter(svc.Registry, "segstream_labels_evaluated_total", "")
	stdout.printf("events sent            %d in %s (%.0f/s offered)\n", snd.Sent, sendEl.Round(time.Millisecond), float64(snd.Sent)/sendEl.Seconds())
	stdout.printf("drained after          %s (%.0f events/s end to end)\n", total.Round(time.Millisecond), float64(snd.Sent)/total.Seconds())
	stdout.printf("event-to-label latency p50 %s  p99 %s (interpolated in histogram buckets)\n", p50, p99)
	stdout.printf("evaluations            %.0f (%.1f per 100 events)\n", ev, 100*ev/float64(snd.Sent))
	stdout.printf("encodes                %.0f (%.1f per 100 events), coalesce %s; encode-to-interest lag is separate from the latency above\n", enc, 100*enc/float64(snd.Sent), *coalesce)
	stdout.printf("labels published       %.0f, changes %.0f\n", counter(svc.Registry, "segstream_labels_published_total", ""), counter(svc.Registry, "segstream_labels_changes_total", ""))
	return nil
}

// histQuantile interpolates quantile q of a histogram in the registry.
func histQuantile(g prometheus.Gatherer, name string, q float64) time.Duration {
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		total := float64(h.GetSampleCount())
		if total == 0 {
			return 0
		}
		rank := q * total
		prevBound, prevCount := 0.0, 0.0
		for _, b := range h.GetBucket() {
			c := float64(b.GetCumulativeCount())
			if c >= rank {
				frac := 0.0
				if c > prevCount {
					frac = (rank - prevCount) / (c - prevCount)
				}
				return time.Duration((prevBound + frac*(b.GetUpperBound()-prevBound)) * float64(time.Second)).Round(time.Millisecond)
			}
			prevBound, prevCount = b.GetUpperBound(), c
		}
		return time.Duration(math.Inf(1))
	}
	return 0
}
