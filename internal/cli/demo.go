package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/embedded"
	"github.com/segstream/segstream/pipeline"
	"github.com/segstream/segstream/replay"
)

func init() {
	register("demo", "zero set-up: embedded broker and Redis, replay real data, watch profiles change", cmdDemo)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[flags] [DATA FILE...]  (default: both Online Retail files)", stderr)
	brokers := fs.String("brokers", "", "use this Kafka instead of the embedded broker")
	redisAddr := fs.String("redis", "", "use this Redis instead of an embedded one")
	speed := fs.Float64("speed", 1_000_000, "replay speed as a multiple of event time (1e6 plays two years in about a minute; 0: as fast as possible)")
	listen := fs.String("http", "127.0.0.1:9464", "address for /metrics, /healthz and /readyz (\"off\" disables)")
	stay := fs.Bool("stay", false, "keep running (and serving /metrics) after the replay until interrupted")
	show := fs.Int("show", 4, "profile updates printed per second")
	if err := parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		for _, f := range DefaultRetailFiles {
			files = append(files, embedded.RepoPath(f))
		}
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }

	// Parts: the embedded ones unless addresses are given.
	if *brokers == "" {
		c, addr, err := embedded.Kafka(0, 6, "events.clickstream", "events.purchases", "events.reviews", "events.dlq")
		if err != nil {
			return err
		}
		defer c.Close()
		*brokers = addr
		say("embedded Kafka-protocol broker (kfake) on %s", addr)
	}
	if *redisAddr == "" {
		r, err := embedded.StartRedis(ctx)
		if err != nil {
			return err
		}
		defer r.Close()
		*redisAddr = r.Addr
		say("embedded Redis (%s) on %s", r.Kind, r.Addr)
	}

	cfg := pipeline.Config{}
	cfg.Kafka.Brokers = []string{*brokers}
	cfg.Kafka.GroupID = "segstream-demo"
	cfg.Kafka.HeartbeatInterval = 500 * time.Millisecond
	cfg.Kafka.SessionTimeout = 10 * time.Second
	cfg.Kafka.JoinGroupBackoff = 200 * time.Millisecond
	cfg.Redis.Addrs = []string{*redisAddr}
	cfg.Featurestore.Prefix = "demo"
	cfg.HTTP.Listen = *listen
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	zc := zap.NewDevelopmentConfig()
	zc.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	zc.DisableStacktrace = true
	zc.OutputPaths = []string{"stderr"}
	log, _ := zc.Build()
	defer log.Sync() //nolint:errcheck
	svc, err := pipeline.New(cfg, log, consumer.Hooks{})
	if err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	deletePrefix(rdb, cfg.Featurestore.Prefix) // a fresh demo every run
	svcCtx, stopSvc := context.WithCancel(ctx)
	defer stopSvc()
	svcDone := make(chan error, 1)
	go func() { svcDone <- svc.Run(svcCtx) }()

	items, st, err := LoadItems(files, "auto")
	if err != nil {
		return err
	}
	say("replaying %d events from %s at %gx event time (%s .. %s)", len(items), strings.Join(files, ", "), *speed,
		st.FirstTS.Format("2006-01-02"), st.LastTS.Format("2006-01-02"))
	time.Sleep(300 * time.Millisecond)
	if a := svc.HTTPAddr(); a != "" {
		say("metrics on http://%s/metrics", a)
	}
	say("")
	sendDone := make(chan error, 1)
	var snd replay.SendStats
	go func() {
		var err error
		snd, err = replay.Send(ctx, items, replay.SendConfig{Brokers: cfg.Kafka.Brokers, Speed: *speed, Topics: map[events.Family]string{
			events.FamilyClickstream: cfg.Kafka.Topics.Clickstream, events.FamilyPurchase: cfg.Kafka.Topics.Purchases, events.FamilyReview: cfg.Kafka.Topics.Reviews}}, nil)
		sendDone <- err
	}()

	start := time.Now()
	sent := -1
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-svcDone:
			return fmt.Errorf("service stopped: %v", err)
		case err := <-sendDone:
			if err != nil {
				return err
			}
			sent = snd.Sent
		case <-tick.C:
		}
		done := counter(svc.Registry, "segstream_consumer_events_in_total", "")
		showChanges(ctx, stdout, svc.Store, rdb, *show)
		el := time.Since(start).Seconds()
		say("  [%5.0fs] events folded %s (%s/s)  profiles %s  dead letters %s", el, thousands(int(done)), thousands(int(done/el)),
			thousands(int(profileCount(ctx, rdb, cfg.Featurestore.Prefix))), thousands(int(counter(svc.Registry, "segstream_consumer_dlq_events_total", ""))))
		if sent >= 0 && int(done) >= sent {
			break
		}
	}
	say("\nreplay done: %d events in %s", sent, time.Since(start).Round(time.Second))
	summarize(ctx, stdout, svc.Store, rdb, cfg.Featurestore.Prefix)
	if *stay {
		say("\n--stay: still serving; Ctrl-C to stop")
		<-ctx.Done()
	}
	stopSvc()
	if err := <-svcDone; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// showChanges takes users off the change feed (the demo plays the next
// stage) and prints a few of them.
func showChanges(ctx context.Context, w io.Writer, store *featurestore.Store, rdb *redis.Client, n int) {
	zs, err := rdb.ZPopMin(ctx, store.ChangesKey(), 500).Result()
	if err != nil || len(zs) == 0 {
		return
	}
	rdb.Del(ctx, store.TextChangesKey())
	step := max(len(zs)/n, 1)
	for i := 0; i < len(zs) && i/step < n; i += step {
		p, err := store.Get(ctx, fmt.Sprint(zs[i].Member))
		if err != nil {
			continue
		}
		v := featurestore.NewView(p, time.Time{})
		text := ""
		if len(v.Texts) > 0 {
			text = v.Texts[0].Text
		}
		fmt.Fprintf(w, "  %s  user %-6s  %3d orders  spend %10.2f  90d orders %3d  refunds %2d  latest: %s\n",
			v.LastSeen.Format("2006-01-02"), v.UserID, v.Orders, v.RFM.NetMonetary, v.Windows["90d"].Counts["purchase"], v.Refunds, text)
	}
}

func profileCount(ctx context.Context, rdb *redis.Client, prefix string) int64 {
	n := int64(0)
	iter := rdb.Scan(ctx, 0, prefix+":{*}:p", 5000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	return n
}

func summarize(ctx context.Context, w io.Writer, store *featurestore.Store, rdb *redis.Client, prefix string) {
	var views []featurestore.View
	iter := rdb.Scan(ctx, 0, prefix+":{*}:p", 5000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for i := 0; i < len(keys); i += 500 {
		vals, err := rdb.MGet(ctx, keys[i:min(i+500, len(keys))]...).Result()
		if err != nil {
			return
		}
		for _, v := range vals {
			if s, ok := v.(string); ok {
				if p, err := featurestore.Unmarshal([]byte(s)); err == nil {
					views = append(views, featurestore.NewView(p, time.Time{}))
				}
			}
		}
	}
	sort.Slice(views, func(i, j int) bool { return views[i].RFM.NetMonetary > views[j].RFM.NetMonetary })
	fmt.Fprintf(w, "%d profiles in Redis; %d bytes each on average (MEMORY USAGE of a sample)\n", len(views), int(sampleMemoryUsageUniversal(ctx, rdb, prefix)))
	fmt.Fprintln(w, "top customers by net spend:")
	for _, v := range views[:min(5, len(views))] {
		fmt.Fprintf(w, "  user %-6s net %10.2f  %4d orders on %3d days  first %s  last %s\n", v.UserID, v.RFM.NetMonetary, v.Orders, v.RFM.PurchaseDays,
			v.FirstSeen.Format("2006-01-02"), v.LastSeen.Format("2006-01-02"))
	}
	if len(views) > 0 {
		fmt.Fprintf(w, "\ntry: segstream profile %s --redis %s --prefix %s   (while the demo runs with --stay)\n", views[0].UserID, rdb.Options().Addr, prefix)
	}
}

func sampleMemoryUsageUniversal(ctx context.Context, rdb *redis.Client, prefix string) float64 {
	return sampleMemoryUsage(ctx, rdb, prefix)
}
