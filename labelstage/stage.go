package labelstage

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"runtime/pprof"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

// Segmenter turns a profile and its embedding into a labelling decision
// (classifier.Segmenter in the service; fakes in tests).
type Segmenter interface {
	// Label decides from the profile (p), its view as of asOf (v), its text
	// embeddings (one per model its texts went to; none without text) and
	// the segmenter's previous state (nil the first time).
	Label(p *featurestore.Profile, v featurestore.View, embs []classifier.Embedding, prev []byte, asOf time.Time) (label.Decision, error)
	Model() label.ModelRef
}

// Publisher sends label versions to Kafka (producer.Publisher). Publish
// returns once every message was acknowledged or definitively failed: none
// may still go out after it returned.
type Publisher interface {
	Publish(ctx context.Context, pubs []label.Publication) error
}

// Stage is the label stage. See the package doc.
type Stage struct {
	rdb   redis.UniversalClient
	sp    *keyspace.Space
	store *featurestore.Store
	enc   Encoder // nil: no embeddings
	seg   Segmenter
	pub   Publisher
	locks *keyspace.Locker
	cfg   Config
	log   *zap.Logger
	m     *labelMetrics

	backlog atomic.Int64 // users waiting in the change feed and the encode queue

	evalWake, encodeWake waker        // work arrived: a fold of this process; encodes queued
	publishWake          waker        // label versions of this process went into the outbox
	evaluating           atomic.Int32 // evaluate batches in progress (the encoder yields to them)
	// indexed: segments this process has registered in Indexes
	indexed sync.Map

	owner        string                 // this instance, in lock values
	backfillWant atomic.Pointer[string] // newest definition-set version asked for
	backfillKick chan struct{}
}

// New builds the label stage on the store's key space. enc may be nil (no
// text embeddings); seg and pub may be nil for a stage used only for
// operator calls (Label, Erase, Pending). log and reg may be nil.
func New(store *featurestore.Store, enc Encoder, seg Segmenter, pub Publisher,
	cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Stage, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.NoEncoder {
		enc = nil
	}
	sp := store.Space()
	owner := strconv.FormatUint(uint64(time.Now().UnixNano()), 36)
	return &Stage{rdb: sp.Redis(), sp: sp, store: store, enc: enc, seg: seg, pub: pub, cfg: cfg,
		locks: sp.Locker(owner, cfg.LockTTL), backfillKick: make(chan struct{}, 1), owner: owner,
		log: log.With(zap.String("component", "labels")), m: newLabelMetrics(reg)}, nil
}

// Config is the effective configuration.
func (st *Stage) Config() Config { return st.cfg }

// LoadScripts loads the Redis scripts (pipelines call them by SHA).
func (st *Stage) LoadScripts(ctx context.Context) error { return keyspace.LoadScripts(ctx, st.rdb) }

// Run evaluates, encodes, schedules and publishes until ctx is cancelled.
// The outbox is published first, so labels written before a crash go out
// at start. The scripts must be loaded (LoadScripts; the service loads
// them once at start); a server that forgets them later is recovered
// through keyspace.Recover.
func (st *Stage) Run(ctx context.Context) error {
	if st.seg == nil || st.pub == nil {
		return errors.New("labelstage: Run needs a segmenter and a publisher")
	}
	// this process's folds wake the evaluators (other instances' by polling)
	st.store.OnChange(st.evalWake.wake)
	defer st.store.OnChange(nil)
	g, ctx := errgroup.WithContext(ctx)
	// each loop carries its name as the CPU profile's "stage" label
	loop := func(name string, run func(context.Context) error) {
		g.Go(func() (err error) {
			pprof.Do(ctx, pprof.Labels("stage", name), func(ctx context.Context) { err = run(ctx) })
			return err
		})
	}
	for i := 0; i < st.cfg.Workers; i++ {
		loop("evaluate", st.evaluateLoop)
	}
	loop("schedule", st.scheduleLoop)
	loop("backfill", st.backfillLoop)
	loop("publish", st.publishLoop)
	if st.enc != nil {
		loop("encode", st.encodeLoop)
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// WaitBacklog blocks while the backlog is above labels.max_backlog; the
// consumer calls it before each fetch (see consumer.SetGate).
func (st *Stage) WaitBacklog(ctx context.Context) error {
	paused := false
	for st.backlog.Load() > st.cfg.MaxBacklog {
		if !paused {
			paused = true
			st.m.pauses.Inc()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// failed logs and counts a failure of one kind (errors_total{stage}).
func (st *Stage) failed(stage, msg string, err error, fields ...zap.Field) {
	st.m.errors.WithLabelValues(stage).Inc()
	st.log.Warn(msg, append(fields, zap.String("stage", stage), zap.Error(err))...)
}

// clock is the time labels are computed at.
func (st *Stage) clock(ctx context.Context) (time.Time, error) {
	if st.cfg.Clock == "wall" {
		return time.Now().UTC(), nil
	}
	return st.sp.Watermark(ctx)
}

// queueClock queues the clock's read on pipe (see clock); the function
// gives it after the pipeline ran.
func (st *Stage) queueClock(ctx context.Context, pipe redis.Pipeliner) func() (time.Time, error) {
	if st.cfg.Clock == "wall" {
		now := time.Now().UTC()
		return func() (time.Time, error) { return now, nil }
	}
	return st.sp.QueueWatermark(ctx, pipe)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
