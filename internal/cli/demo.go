package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/embedded"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

func init() {
	register("demo", "zero set-up: embedded broker and Redis, replay real data, watch profiles change", cmdDemo)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("demo", "[flags] [DATA FILE...]  (default: both Online Retail files)", stderr)
	brokers := fs.String("brokers", "", "use this Kafka instead of the embedded broker")
	redisAddr := fs.String("redis", "", "use this Redis instead of an embedded one")
	speed := fs.Float64("speed", 1_000_000, "replay speed as a multiple of event time (1e6 plays two years in about a minute; 0: as fast as possible)")
	listen := fs.String("http", "127.0.0.1:9464", "address for /metrics, /healthz and /readyz (\"off\" disables)")
	apiListen := fs.String("api", "127.0.0.1:8080", "address of the read API (/v1; \"off\" disables)")
	stay := fs.Bool("stay", false, "keep running (serving /metrics, the read API and the dashboard) after the replay until interrupted")
	show := fs.Int("show", 6, "label changes (or, without labels, profile updates) printed per second")
	noLabels := fs.Bool("no-labels", false, "ingest and fold only (no encoder, classifier or label topics)")
	if err := parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		files = retailFiles()
	}
	say := func(format string, a ...any) { stdout.printf(format+"\n", a...) }

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

	cfg := service.Config{}
	cfg.Kafka.Brokers = []string{*brokers}
	cfg.Kafka.GroupID = "segstream-demo"
	cfg.Kafka.HeartbeatInterval = 500 * time.Millisecond
	cfg.Kafka.SessionTimeout = 10 * time.Second
	cfg.Kafka.JoinGroupBackoff = 200 * time.Millisecond
	cfg.Redis.Addrs = []string{*redisAddr}
	cfg.Featurestore.Prefix = "demo"
	cfg.HTTP.Listen = *listen
	cfg.API.Listen = *apiListen
	cfg.Labels.Coalesce = 100 * time.Millisecond
	cfg.Encoder.ModelDir = service.RepoFile("var/models/use-lite")
	cfg.Encoder.Models = []encoder.LanguageModel{{Language: "en", ModelDir: cfg.Encoder.ModelDir}, {Language: "zh", ModelDir: service.RepoFile(service.DefaultChineseModel)}}
	cfg.Encoder.LibraryPath = service.RepoFile("var/lib/libonnxruntime.so.1")
	if *noLabels {
		f := false
		cfg.Labels.Enabled = &f
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	zc := zap.NewDevelopmentConfig()
	zc.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	zc.DisableStacktrace = true
	zc.OutputPaths = []string{"stderr"}
	log, _ := zc.Build()
	defer syncLog(log, stderr)
	svc, err := service.New(cfg, log, consumer.Hooks{})
	if err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer stderr.cleanup("closing Redis", rdb.Close)
	if err := keyspace.DeletePrefix(ctx, rdb, cfg.Featurestore.Prefix); err != nil { // a fresh demo every run
		return err
	}
	var watch *changeWatcher
	if svc.Labels != nil {
		watch = &changeWatcher{sizes: map[string]int{}}
	}
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
	if a := svc.APIAddr(); a != "" {
		say("read API on http://%s/v1, dashboard on http://%s/ui/ (no token: loopback only)", a, a)
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

	if watch != nil {
		go watch.run(ctx, cfg.Kafka.Brokers, cfg.Producer.ChangesTopic)
	}
	start := time.Now()
	sent := -1
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-svcDone:
			if ctx.Err() != nil {
				return nil // interrupted: the service stopped because we asked it to
			}
			return stoppedEarly("service stopped", err)
		case err := <-sendDone:
			if err != nil {
				return err
			}
			sent = snd.Sent
		case <-tick.C:
		}
		done := counter(svc.Registry, "segstream_consumer_events_in_total", "")
		el := time.Since(start).Seconds()
		if watch == nil {
			showChanges(ctx, stdout, svc.Store, rdb, *show)
			say("  [%5.0fs] events folded %s (%s/s)  profiles %s  dead letters %s", el, thousands(int(done)), thousands(int(done/el)),
				thousands(int(profileCount(ctx, rdb, cfg.Featurestore.Prefix))), thousands(int(counter(svc.Registry, "segstream_consumer_dlq_events_total", ""))))
			if sent >= 0 && int(done) >= sent {
				break
			}
			continue
		}
		watch.print(stdout, *show)
		wm, _ := svc.Store.Watermark(ctx)
		p50 := histQuantile(svc.Registry, "segstream_labels_event_to_label_seconds", 0.5)
		p99 := histQuantile(svc.Registry, "segstream_labels_event_to_label_seconds", 0.99)
		say("  [%4.0fs] event time %s | events %s (%s/s) | labels %s, changes %s | encodes %s | latency p50 %s p99 %s | %s",
			el, wm.Format("2006-01-02"), thousands(int(done)), thousands(int(done/el)),
			thousands(int(counter(svc.Registry, "segstream_labels_published_total", ""))), thousands(watch.total()),
			thousands(int(counter(svc.Registry, "segstream_labels_encodes_total", ""))), p50, p99, watch.sizesLine())
		if sent >= 0 && int(done) >= sent && counter(svc.Registry, "segstream_labels_outbox", "") == 0 &&
			pending(ctx, svc.Labels) == 0 {
			break
		}
	}
	say("\nreplay done: %d events in %s", sent, time.Since(start).Round(time.Second))
	summarize(ctx, stdout, svc.Store, rdb, cfg.Featurestore.Prefix)
	if watch != nil {
		say("segment sizes: %s", watch.sizesLine())
		say("try: segstream label %s --redis %s --prefix %s   (while the demo runs with --stay)", watch.lastUser(), *redisAddr, cfg.Featurestore.Prefix)
		if a := svc.APIAddr(); a != "" {
			say("     curl http://%s/v1/users/%s   (the read API; /v1/segments, /v1/openapi.json)", a, url.PathEscape(watch.lastUser()))
		}
	}
	if *stay {
		if a := svc.APIAddr(); a != "" {
			say("\ndashboard: http://%s/ui/", a)
		}
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
func showChanges(ctx context.Context, w *output, store *featurestore.Store, rdb *redis.Client, n int) {
	zs, err := rdb.ZPopMin(ctx, store.Keys().Changes(), 500).Result()
	if err != nil || len(zs) == 0 {
		return
	}
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
		w.printf("  %s  user %-6s  %3d orders  spend %10.2f  90d orders %3d  refunds %2d  latest: %s\n",
			v.LastSeen.Format("2006-01-02"), v.UserID, v.Orders, v.RFM.NetMonetary, v.Windows["90d"].Counts["purchase"], v.Refunds, text)
	}
}

func profileCount(ctx context.Context, rdb *redis.Client, prefix string) int64 {
	n := int64(0)
	iter := rdb.Scan(ctx, 0, keyspace.NewKeys(prefix).ProfilePattern(), 5000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	return n
}

func summarize(ctx context.Context, w *output, store *featurestore.Store, rdb *redis.Client, prefix string) {
	var views []featurestore.View
	iter := rdb.Scan(ctx, 0, store.Keys().ProfilePattern(), 5000).Iterator()
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
	w.printf("%d profiles in Redis; %d bytes each on average (MEMORY USAGE of a sample)\n", len(views), int(sampleMemoryUsage(ctx, rdb, prefix)))
	w.println("top customers by net spend:")
	for _, v := range views[:min(5, len(views))] {
		w.printf("  user %-6s net %10.2f  %4d orders on %3d days  first %s  last %s\n", v.UserID, v.RFM.NetMonetary, v.Orders, v.RFM.PurchaseDays,
			v.FirstSeen.Format("2006-01-02"), v.LastSeen.Format("2006-01-02"))
	}
	if len(views) > 0 {
		w.printf("\ntry: segstream profile %s --redis %s --prefix %s   (while the demo runs with --stay)\n", views[0].UserID, rdb.Options().Addr, prefix)
	}
}

// changeWatcher reads segments.changes as a subscriber would and keeps
// segment sizes.
type changeWatcher struct {
	mu      sync.Mutex
	sizes   map[string]int
	pending []label.Change
	n       int
	last    string
}

func (w *changeWatcher) run(ctx context.Context, brokers []string, topic string) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "segstream-demo-watch", Topic: topic,
		MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset, HeartbeatInterval: 500 * time.Millisecond,
		SessionTimeout: 10 * time.Second, JoinGroupBackoff: 200 * time.Millisecond})
	// A display-only reader whose offsets nothing relies on: a failure to
	// leave its group loses nothing, and the demo is ending then anyway.
	defer func() { _ = r.Close() }()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return
		}
		var c label.Change
		if json.Unmarshal(m.Value, &c) != nil {
			continue
		}
		w.mu.Lock()
		w.n++
		w.last = c.UserID
		if c.Change == label.Entered {
			w.sizes[c.Segment]++
		} else {
			w.sizes[c.Segment]--
		}
		if len(w.pending) < 1000 {
			w.pending = append(w.pending, c)
		}
		w.mu.Unlock()
	}
}

func (w *changeWatcher) print(out *output, n int) {
	w.mu.Lock()
	p := w.pending
	w.pending = nil
	w.mu.Unlock()
	// prefer the changes people act on: at_risk and value tiers first
	sort.SliceStable(p, func(i, j int) bool { return rank(p[i].Segment) < rank(p[j].Segment) })
	for i, c := range p {
		if i == n {
			out.printf("  ... and %d more changes\n", len(p)-n)
			break
		}
		why := ""
		if len(c.Reasons) > 0 {
			r := c.Reasons[0]
			if r.Contribution != 0 {
				why = fmt.Sprintf("  (%s %+.2f)", r.Input, r.Contribution)
			} else {
				why = fmt.Sprintf("  (%s %.2f)", r.Input, r.Value)
			}
		}
		out.printf("  %s  user %-6s %-8s %-28s v%d%s\n", c.At.Format("2006-01-02"), c.UserID, c.Change, c.Segment, c.Version, why)
	}
}

func rank(seg string) int {
	switch {
	case seg == "at_risk":
		return 0
	case strings.HasSuffix(seg, "_value"):
		return 1
	case strings.HasPrefix(seg, "interest:"):
		return 3
	}
	return 2
}

func (w *changeWatcher) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *changeWatcher) lastUser() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *changeWatcher) sizesLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for _, s := range []string{"new", "active", "dormant", "at_risk", "high_value", "mid_value", "low_value"} {
		parts = append(parts, fmt.Sprintf("%s %d", s, w.sizes[s]))
	}
	interests := 0
	for s, n := range w.sizes {
		if strings.HasPrefix(s, "interest:") {
			interests += n
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", interests %d", interests)
}

// pending is how many users wait anywhere in the label stage (-1 on error).
func pending(ctx context.Context, l *labelstage.Stage) int64 {
	n, err := l.Pending(ctx)
	if err != nil {
		return -1
	}
	return n
}
