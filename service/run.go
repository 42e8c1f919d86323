package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/producer"
	"github.com/segstream/segstream/secure"
	"github.com/segstream/segstream/segments"
	"github.com/segstream/segstream/sentiment"
	"github.com/segstream/segstream/web"
)

// The real parts satisfy the interfaces the stages declare.
var (
	_ labelstage.Segmenter   = (*classifier.Segmenter)(nil)
	_ labelstage.Publisher   = (*producer.Publisher)(nil)
	_ classifier.TextEncoder = (*encoder.Encoder)(nil)
	_ labelstage.Encoder     = (*routed)(nil)
)

// NewLogger builds the zap logger the config asks for.
func NewLogger(c LogConfig) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	return zc.Build()
}

// NewRedis returns a single-server or cluster client per the config.
func NewRedis(c RedisConfig) (redis.UniversalClient, error) {
	tc, err := c.TLS.Config("redis.tls")
	if err != nil {
		return nil, err
	}
	opt := &redis.UniversalOptions{
		TLSConfig:     tc,
		Addrs:         c.Addrs,
		Username:      c.Username,
		Password:      c.Password,
		DB:            c.DB,
		PoolSize:      c.PoolSize,
		DialTimeout:   c.Timeout,
		ReadTimeout:   c.Timeout,
		WriteTimeout:  c.Timeout,
		IsClusterMode: c.Cluster,
	}
	return redis.NewUniversalClient(opt), nil
}

// PingRedis checks that Redis answers, with an error that names the
// cause and the option to check (a wrong password, an untrusted
// certificate, a TLS port dialled in plaintext...).
func PingRedis(ctx context.Context, rdb redis.UniversalClient, c RedisConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return secure.ExplainRedis(err, c.Addrs, c.Username, c.TLS)
	}
	return nil
}

// TopicConfigs describes plain topics for creation.
func TopicConfigs(names []string, partitions, replication int) []kafka.TopicConfig {
	out := make([]kafka.TopicConfig, len(names))
	for i, t := range names {
		out[i] = kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication}
	}
	return out
}

// Topics describes the topics the service uses: the input topics and the
// DLQ, and with outputs the label, change and route topics.
func (c *Config) Topics(outputs bool) []kafka.TopicConfig {
	in := append(c.Kafka.InputTopics(), c.Kafka.Topics.DLQ)
	out := TopicConfigs(in, c.Kafka.Partitions, c.Kafka.ReplicationFactor)
	if outputs {
		out = append(out, c.Producer.TopicConfigs(c.Kafka.Partitions, c.Kafka.ReplicationFactor)...)
		if c.Segments.Topic != "off" {
			// one partition: every instance reads all of it, in order
			out = append(out, kafka.TopicConfig{Topic: c.Segments.Topic, NumPartitions: 1, ReplicationFactor: c.Kafka.ReplicationFactor,
				ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}})
		}
	}
	return out
}

// EnsureTopics creates the topics that do not exist yet and waits for
// their leaders (producer.EnsureTopics), over the configured security.
func EnsureTopics(ctx context.Context, k KafkaConfig, topics ...kafka.TopicConfig) error {
	return producer.EnsureTopics(ctx, k.Brokers, k.Security, topics...)
}

// Service is the running ingest-and-fold service.
type Service struct {
	Cfg      Config
	Log      *zap.Logger
	Registry *prometheus.Registry
	Redis    redis.UniversalClient
	Store    *featurestore.Store
	Consumer *consumer.Consumer
	// Labels is the label stage (nil when labels.enabled is false).
	Labels *labelstage.Stage
	// Segments are the definitions in force (nil without the label stage).
	Segments *segments.Live

	enc *encoder.Router
	pub *producer.Publisher

	ready   atomic.Bool
	addr    atomic.Value // net.Addr of the HTTP listener
	apiAddr atomic.Value // net.Addr of the API listener
	model   *classifier.Model
	// flowTrimDay is the clock day the flow counts were last trimmed
	// (only sampleSizes touches it)
	flowTrimDay int64
	// sizeGauge: segstream_segments_members, set by sampleOnce
	sizeGauge *prometheus.GaugeVec
}

// New builds the service: Redis client and store, consumer, metrics
// registry. It does not connect yet.
func New(cfg Config, log *zap.Logger, hooks consumer.Hooks) (*Service, error) {
	if log == nil {
		log = zap.NewNop()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rdb, err := NewRedis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	store, err := featurestore.New(rdb, cfg.Featurestore, log, reg)
	if err != nil {
		return nil, err
	}
	sent, err := LoadSentiment(cfg.Sentiment)
	if err != nil {
		return nil, err
	}
	if len(cfg.Sentiment.Models) > 0 {
		log.Info("review sentiment models", zap.Strings("languages", sent.Languages()), zap.Float64("threshold", cfg.Sentiment.Threshold))
	}
	cons, err := consumer.New(cfg.Kafka.Config, Folder(store, sent, reg), log, reg, hooks)
	if err != nil {
		return nil, err
	}
	s := &Service{Cfg: cfg, Log: log, Registry: reg, Redis: rdb, Store: store, Consumer: cons}
	if *cfg.Labels.Enabled {
		if err := s.buildLabels(reg); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Service) buildLabels(reg prometheus.Registerer) error {
	cfg := s.Cfg
	base, err := cfg.Segments.Base()
	if err != nil {
		return fmt.Errorf("segments.dir: %w", err)
	}
	s.Segments = segments.NewLive(base, segments.Options{RetentionDays: cfg.Featurestore.Limits.RetentionDays, MaxCost: cfg.Segments.MaxCost}, s.Log, reg)
	if n := s.Segments.Set().Len(); n != len(base) {
		return fmt.Errorf("segments.dir: %d of %d definitions refused (see the log)", len(base)-n, len(base))
	}
	seg, err := classifier.NewSegmenter(RepoFile(cfg.Model.Path), s.Segments)
	if err != nil {
		return fmt.Errorf("model.path: %w (train one with `segstream train`, or set labels.enabled: false)", err)
	}
	s.model = seg.M
	var te labelstage.Encoder
	lc := cfg.Labels.Config
	if *cfg.Labels.Encode {
		router, err := encoder.NewRouter(cfg.Encoder.Config, cfg.Encoder.Models, cfg.Encoder.DefaultLanguage, s.Log, reg)
		if err != nil {
			return fmt.Errorf("encoder: %w (run tools/encoder/setup.sh, or set labels.encode: false)", err)
		}
		s.enc = router
		if err := s.loadThemes(seg, router); err != nil {
			return err
		}
		te = newRouted(router)
	} else {
		lc.NoEncoder = true
	}
	pc := cfg.Producer
	pc.Brokers = cfg.Kafka.Brokers
	pc.Security = cfg.Kafka.Security
	pub, err := producer.New(pc)
	if err != nil {
		return err
	}
	s.pub = pub
	s.Labels, err = labelstage.New(s.Store, te, seg, pub, lc, s.Log, reg)
	if err != nil {
		return err
	}
	s.Consumer.SetGate(s.Labels.WaitBacklog)
	return nil
}

// loadThemes checks the classifier's text input against the encoder models
// and adds the theme files (model.theme_files) to the segmenter. The
// model's text input needs its own encoder among the models; themes of a
// model that is not configured are logged as unused.
func (s *Service) loadThemes(seg *classifier.Segmenter, router *encoder.Router) error {
	if e := seg.M.Embedding; e != nil {
		enc, ok := router.ByVersion(e.Encoder)
		switch {
		case ok && enc.Dim() != e.Dim:
			return fmt.Errorf("model.path: the model expects %d-d text embeddings, encoder %s gives %d", e.Dim, enc.ModelVersion(), enc.Dim())
		case !ok && seg.M.TextDim() > 0:
			return fmt.Errorf("model.path: the model's text input was trained on encoder %s, which encoder.models does not have (%s)", e.Encoder, router.Routing())
		case !ok:
			s.Log.Warn("the model's interest themes are unused: no encoder model of theirs", zap.String("encoder", e.Encoder), zap.String("routing", router.Routing()))
		}
	}
	for _, f := range s.Cfg.Model.ThemeFiles {
		ts, err := classifier.LoadThemeSet(RepoFile(f))
		if err != nil {
			return fmt.Errorf("model.theme_files: %w", err)
		}
		if _, ok := router.ByVersion(ts.Encoder); !ok {
			s.Log.Warn("theme file unused: no encoder model of its encoder", zap.String("file", f), zap.String("encoder", ts.Encoder), zap.String("routing", router.Routing()))
			continue
		}
		if err := seg.AddThemes(ts); err != nil {
			return fmt.Errorf("model.theme_files: %s: %w", f, err)
		}
		s.Log.Info("interest themes", zap.String("file", f), zap.String("encoder", ts.Encoder), zap.Int("themes", len(ts.Themes)))
	}
	return nil
}

// routed is the router as the label stage's encoder. The routing does not
// change while the service runs: its signature, read for every evaluated
// user, is computed once.
type routed struct {
	r   *encoder.Router
	sig uint64
}

func newRouted(r *encoder.Router) *routed {
	return &routed{r: r, sig: xxhash.Sum64String(r.Routing())}
}

func (r *routed) Parts(texts, langs []string) []labelstage.TextPart {
	ps := r.r.ProfileParts(texts, langs)
	out := make([]labelstage.TextPart, len(ps))
	for i, p := range ps {
		out[i] = labelstage.TextPart{Model: p.Model, Text: p.Text}
	}
	return out
}

func (r *routed) Encode(ctx context.Context, model string, texts []string) ([][]float32, error) {
	return r.r.EncodeWith(ctx, model, texts)
}

func (r *routed) Signature() uint64 { return r.sig }

// followSegments keeps the definitions current (the topic, the folder)
// and asks the label stage to backfill whenever they change. It returns
// once the topic's definitions are live (or after 30 s, with a warning).
func (s *Service) followSegments(ctx context.Context, g *errgroup.Group) error {
	sc := s.Cfg.Segments
	if *sc.Backfill {
		s.Segments.OnChange(func(_, cur *segments.Set, _ []string) { s.Labels.RequestBackfill(cur.Version()) })
	}
	if sc.Dir != "" {
		g.Go(func() error { return segments.WatchDir(ctx, sc.Dir, sc.ReloadInterval, s.Segments) })
	}
	if sc.Topic != "off" {
		dialer, err := s.Cfg.Kafka.Security.Dialer(10 * time.Second)
		if err != nil {
			return err
		}
		f := &segments.Follower{Brokers: s.Cfg.Kafka.Brokers, Topic: sc.Topic, Live: s.Segments, Log: s.Log, Dialer: dialer}
		caught := make(chan struct{})
		g.Go(func() error { return f.Run(ctx, caught) })
		select {
		case <-caught:
		case <-ctx.Done():
			return nil
		case <-time.After(30 * time.Second):
			s.Log.Warn("segments.topic not read to its end within 30s: labelling starts with the definitions read so far", zap.String("topic", sc.Topic))
		}
	}
	if *sc.Backfill {
		s.Labels.RequestBackfill(s.Segments.Set().Version())
	}
	s.Log.Info("segment definitions live", zap.Int("definitions", s.Segments.Set().Len()), zap.String("set_version", s.Segments.Set().Version()),
		zap.String("dir", sc.Dir), zap.String("topic", sc.Topic))
	return nil
}

// LoadSentiment loads the review sentiment models of the configuration.
func LoadSentiment(c SentimentConfig) (*sentiment.Set, error) {
	files := map[string]string{}
	for _, m := range c.Models {
		files[m.Language] = RepoFile(m.File)
	}
	set, err := sentiment.LoadSet(files)
	if err != nil {
		return nil, fmt.Errorf("sentiment.models: %w (train one with `segstream sentiment train`, or set sentiment.models: [])", err)
	}
	if set, err = set.WithThreshold(c.Threshold, c.Neutral); err != nil {
		return nil, fmt.Errorf("sentiment: %w", err)
	}
	return set, nil
}

// Folder is the consumer's view of the store: it gives each review its
// sentiment (sent; nil: none) and folds each batch. reg (may be nil) gets
// segstream_sentiment_reviews_total{source}.
func Folder(store *featurestore.Store, sent *sentiment.Set, reg prometheus.Registerer) consumer.Folder {
	var bySource [4]prometheus.Counter
	if sent != nil {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "segstream", Subsystem: "sentiment", Name: "reviews_total",
			Help: "Reviews given a sentiment before the fold, by what decided it: given (the producer), model (the text model of its language), rating."}, []string{"source"})
		for _, src := range []sentiment.Source{sentiment.SourceGiven, sentiment.SourceModel, sentiment.SourceRating} {
			bySource[src] = cv.WithLabelValues(src.String())
		}
		if reg != nil {
			reg.MustRegister(cv)
		}
	}
	return consumer.FoldFunc(func(ctx context.Context, recs []events.Record) (consumer.Folded, error) {
		if sent != nil {
			for _, r := range recs {
				if c := bySource[sent.Annotate(r.Event)]; c != nil {
					c.Inc()
				}
			}
		}
		r, err := store.Fold(ctx, recs)
		return consumer.Folded{SkippedOffset: r.SkippedOffset, SkippedDupID: r.SkippedDupID}, err
	})
}

// Close releases what New built (Run does it on return).
func (s *Service) Close() {
	if s.enc != nil {
		if err := s.enc.Close(); err != nil {
			s.Log.Warn("closing the encoder failed", zap.Error(err))
		}
		s.enc = nil
	}
	if s.pub != nil {
		// Close flushes what the writer still holds: a failure is worth a line
		if err := s.pub.Close(); err != nil {
			s.Log.Warn("closing the label producer failed", zap.Error(err))
		}
		s.pub = nil
	}
}

// RepoFile resolves a relative path from the working directory, or else
// from the repository root (so tests and the binary run from anywhere in
// the checkout find models/ and var/).
func RepoFile(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	dir, _ := os.Getwd()
	for i := 0; i < 5; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, p)
		}
		dir = filepath.Dir(dir)
	}
	return p
}

// APIAddr is the address the read API listens on, once started.
func (s *Service) APIAddr() string {
	if a, ok := s.apiAddr.Load().(net.Addr); ok {
		return a.String()
	}
	return ""
}

// serveAPI starts the read API on its own listener, and the sampler of
// segment sizes that its size series read.
func (s *Service) serveAPI(ctx context.Context, g *errgroup.Group) error {
	ac := s.Cfg.API
	d := api.Deps{Labels: s.Labels, Live: s.Segments, Model: s.model, Log: s.Log, Metrics: s.Registry,
		Options: segments.Options{RetentionDays: s.Cfg.Featurestore.Limits.RetentionDays, MaxCost: s.Cfg.Segments.MaxCost}}
	if topic := s.Cfg.Segments.Topic; topic != "off" {
		brokers, sec := s.Cfg.Kafka.Brokers, s.Cfg.Kafka.Security
		d.Publish = func(ctx context.Context, defs []segments.Definition, deletes []string) error {
			return segments.Publish(ctx, brokers, sec, topic, defs, deletes)
		}
	}
	ln, err := net.Listen("tcp", ac.ListenAddr())
	if err != nil {
		return fmt.Errorf("api.listen: %w", err)
	}
	s.apiAddr.Store(ln.Addr())
	handler := api.New(ac, d, s.Registry)
	mux := http.NewServeMux()
	mux.Handle("/v1/", handler)
	mux.Handle("/ui/", web.Handler(handler.ValidToken, ac.Open()))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	mux.Handle("/", handler) // JSON 404s
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("api: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		defer handler.Close()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error { return s.sampleSizes(ctx) })
	if ac.Open() {
		s.Log.Warn("read API and dashboard: no token configured (api.read_tokens, api.admin_tokens): listening on 127.0.0.1 only, every route open",
			zap.String("addr", ln.Addr().String()))
	} else {
		s.Log.Info("serving the read API /v1 and the dashboard /ui/", zap.String("addr", ln.Addr().String()),
			zap.Int("read_tokens", len(ac.ReadTokens)), zap.Int("admin_tokens", len(ac.AdminTokens)))
	}
	return nil
}

// sampleSizes records every segment's size into its series each
// api.sizes_interval, at the labels' clock (so a replay of history gives
// the sizes history had).
func (s *Service) sampleSizes(ctx context.Context) error {
	s.sizeGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "segstream", Subsystem: "segments", Name: "members",
		Help: "Users in each segment (its member index; a family per key), sampled every api.sizes_interval."}, []string{"segment"})
	if err := s.Registry.Register(s.sizeGauge); err != nil {
		return err
	}
	t := time.NewTicker(s.Cfg.API.SizesInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.sampleOnce(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("sampling segment sizes failed", zap.Error(err))
		}
	}
}

func (s *Service) sampleOnce(ctx context.Context) error {
	clock, err := s.Labels.Clock(ctx)
	if err != nil || clock.IsZero() {
		return err
	}
	sizes, err := s.Labels.SegmentSizes(ctx)
	if err != nil {
		return err
	}
	for _, d := range s.Segments.Set().Definitions() {
		if _, ok := sizes[d.Name]; !ok && !strings.HasSuffix(d.Name, "*") {
			sizes[d.Name] = 0
		}
	}
	if err := s.Labels.RecordSizes(ctx, sizes, clock); err != nil {
		return err
	}
	s.sizeGauge.Reset() // a segment deleted since the last sample leaves
	for n, v := range sizes {
		s.sizeGauge.WithLabelValues(n).Set(float64(v))
	}
	// once per clock day: drop flow counts past the retention
	if day := clock.Unix() / 86400; day != s.flowTrimDay {
		s.flowTrimDay = day
		names := make([]string, 0, len(sizes))
		for n := range sizes {
			names = append(names, n)
		}
		return s.Labels.TrimFlow(ctx, names, clock)
	}
	return nil
}

// HTTPAddr is the address the HTTP endpoint listens on, once started.
func (s *Service) HTTPAddr() string {
	if a, ok := s.addr.Load().(net.Addr); ok {
		return a.String()
	}
	return ""
}

// Run connects, creates topics if asked, serves HTTP and consumes until ctx
// is cancelled; then it drains, commits and returns nil.
func (s *Service) Run(ctx context.Context) error {
	defer func() { _ = s.Redis.Close() }() // at exit: every write was already acknowledged
	defer s.Close()
	applyGC(s.Cfg.GC, s.Log)
	if err := PingRedis(ctx, s.Redis, s.Cfg.Redis); err != nil {
		return err
	}
	// every Lua script, once (on every master of a cluster); a server that
	// forgets them later is recovered by keyspace.Recover
	if err := keyspace.LoadScripts(ctx, s.Redis); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	// a feed older versions wrote and nothing read: drop it
	if err := s.Redis.Unlink(ctx, s.Store.Keys().LegacyTextFeed()).Err(); err != nil {
		return fmt.Errorf("redis: dropping the legacy text feed %s: %w", s.Store.Keys().LegacyTextFeed(), err)
	}
	// one connection with the configured security before anything else
	// talks to Kafka: a wrong password or an untrusted certificate ends
	// the start here, with its cause, instead of in the clients' retries
	ksec := s.Cfg.Kafka.Security
	if ksec.TLS.InsecureSkipVerify || s.Cfg.Redis.TLS.InsecureSkipVerify {
		s.Log.Warn("insecure_skip_verify is set: any server certificate is accepted (for tests only)",
			zap.Bool("kafka", ksec.TLS.InsecureSkipVerify), zap.Bool("redis", s.Cfg.Redis.TLS.InsecureSkipVerify))
	}
	if err := secure.CheckKafka(ctx, s.Cfg.Kafka.Brokers, ksec); err != nil {
		return err
	}
	s.Log.Info("kafka connected", zap.Strings("brokers", s.Cfg.Kafka.Brokers), zap.String("security", ksec.Protocol()), zap.Stringer("sasl", ksec.SASL))
	if *s.Cfg.Kafka.CreateTopics {
		if err := EnsureTopics(ctx, s.Cfg.Kafka, s.Cfg.Topics(s.Labels != nil)...); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if s.Labels != nil {
		if err := s.followSegments(gctx, g); err != nil {
			return err
		}
	}
	if s.Cfg.HTTP.Listen != "off" {
		ln, err := net.Listen("tcp", s.Cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		s.addr.Store(ln.Addr())
		srv := &http.Server{Handler: s.mux(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		s.Log.Info("serving /metrics /healthz /readyz", zap.String("addr", ln.Addr().String()))
	}
	if s.Labels != nil && s.Cfg.API.Listen != "off" {
		if err := s.serveAPI(gctx, g); err != nil {
			return err
		}
	}
	if s.Labels != nil {
		g.Go(func() error { return s.Labels.Run(gctx) })
	}
	g.Go(func() error {
		s.ready.Store(true)
		defer s.ready.Store(false)
		return s.Consumer.Run(gctx)
	})
	waited := make(chan error, 1)
	go func() { waited <- g.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		s.Log.Info("stopping: draining in-flight work", zap.Duration("deadline", s.Cfg.ShutdownTimeout))
		select {
		case err = <-waited:
		case <-time.After(s.Cfg.ShutdownTimeout):
			return fmt.Errorf("shutdown_timeout: drain did not finish within %s; uncommitted work will be redelivered", s.Cfg.ShutdownTimeout)
		}
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (s *Service) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	// profiles for operators, on the operations port only (not the API's)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if !s.ready.Load() {
			http.Error(w, "consumer not running", http.StatusServiceUnavailable)
			return
		}
		if err := s.Redis.Ping(ctx).Err(); err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// applyGC sets the collector from gc.* unless the process's GOGC or
// GOMEMLIMIT say otherwise, and logs what holds.
func applyGC(c GCConfig, log *zap.Logger) {
	percent := os.Getenv("GOGC") + " (GOGC)"
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(c.Percent)
		percent = strconv.Itoa(c.Percent) + " (gc.percent)"
	}
	limit := os.Getenv("GOMEMLIMIT") + " (GOMEMLIMIT)"
	switch {
	case os.Getenv("GOMEMLIMIT") != "":
	case c.MemoryLimitBytes > 0:
		debug.SetMemoryLimit(c.MemoryLimitBytes)
		limit = strconv.FormatInt(c.MemoryLimitBytes, 10) + " (gc.memory_limit_bytes)"
	default:
		limit = "none"
	}
	log.Info("garbage collector", zap.String("percent", percent), zap.String("memory_limit", limit))
}
