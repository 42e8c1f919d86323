package pipeline

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/producer"
)

// TextEncoder is the encoder stage as the label stage uses it.
type TextEncoder interface {
	// ProfileText builds the text a profile contributes from its ring
	// (newest first), deterministic and cut to the model's token limit.
	ProfileText(texts []string) string
	Encode(ctx context.Context, texts []string) ([][]float32, error)
	ModelVersion() string
}

// Segmenter turns a profile view and its embedding into labels. State is
// the segmenter's own memory between decisions (hysteresis, dwell), kept
// opaque by the label stage.
type Segmenter interface {
	// Label decides from the profile (p), its view as of asOf (v) and the
	// text embedding (nil when none).
	Label(p *featurestore.Profile, v featurestore.View, emb []float32, prev json.RawMessage, asOf time.Time) (Decision, error)
	Model() producer.ModelRef
}

// Decision is one labelling of a user.
type Decision struct {
	Segments []string
	Scores   map[string]float64
	Reasons  []producer.Reason // each with its Segment
	State    json.RawMessage
}

// LabelsConfig configures the label stage.
type LabelsConfig struct {
	// Coalesce is how long a changed user waits (from its oldest
	// unprocessed event) before it is evaluated, so that a burst of events
	// is encoded and classified once (default 50ms).
	Coalesce time.Duration `yaml:"coalesce"`
	// BatchSize is how many users one evaluation takes (default 256).
	BatchSize int `yaml:"batch_size"`
	// Workers evaluating in parallel (default 2).
	Workers int `yaml:"workers"`
	// Lease: a claimed user not finished within it (its instance died) goes
	// back to the change feed (default 60s).
	Lease time.Duration `yaml:"lease"`
	// Clock: "event" (default) uses the newest event time folded (so a
	// replay of history produces the changes that would have happened), or
	// "wall".
	Clock string `yaml:"clock"`
	// DueStep: a user is re-evaluated after this much silence (in the
	// clock's time) even without events, so time alone moves labels
	// (default 7 days).
	DueStep time.Duration `yaml:"due_step"`
	// DueHorizon: no more time-driven re-evaluation after this much
	// silence (default 400 days).
	DueHorizon time.Duration `yaml:"due_horizon"`
	// PollInterval between polls of an empty queue (default 50ms).
	PollInterval time.Duration `yaml:"poll_interval"`
	// PublishBatch is how many users one publish takes (default 500).
	PublishBatch int `yaml:"publish_batch"`
	// EncodeBatch is how many profile texts one encoder call takes
	// (default 64). Encoding runs beside labelling: a user whose text
	// changed is labelled at once with its previous embedding and queued
	// for encoding (once, however many changes wait), then labelled again
	// with the new one; so the encoder's speed bounds how fresh interests
	// are, not the latency of the other labels.
	EncodeBatch int `yaml:"encode_batch"`
	// MaxBacklog pauses intake (every partition waits before its next fetch)
	// while more users than this wait for labelling or encoding (default
	// 100000): backpressure from the label stage and the encoder to the
	// consumer. The queues are per-user sets, so they never hold more than
	// one entry per user anyway.
	MaxBacklog int64 `yaml:"max_backlog"`
	// NoEncoder runs without text embeddings (interests off).
	NoEncoder bool `yaml:"-"`
}

// SetDefaults fills zero fields.
func (c *LabelsConfig) SetDefaults() {
	if c.Coalesce == 0 {
		c.Coalesce = 50 * time.Millisecond
	}
	if c.BatchSize == 0 {
		c.BatchSize = 256
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Lease == 0 {
		c.Lease = 60 * time.Second
	}
	if c.Clock == "" {
		c.Clock = "event"
	}
	if c.DueStep == 0 {
		c.DueStep = 7 * 24 * time.Hour
	}
	if c.DueHorizon == 0 {
		c.DueHorizon = 400 * 24 * time.Hour
	}
	if c.PollInterval == 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.PublishBatch == 0 {
		c.PublishBatch = 500
	}
	if c.EncodeBatch == 0 {
		c.EncodeBatch = 64
	}
	if c.MaxBacklog == 0 {
		c.MaxBacklog = 100_000
	}
}

// Validate checks the config; errors name the field.
func (c *LabelsConfig) Validate() error {
	switch {
	case c.Clock != "event" && c.Clock != "wall":
		return fmt.Errorf("labels.clock: %q must be event or wall", c.Clock)
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return fmt.Errorf("labels.batch_size: %d is outside 1..10000", c.BatchSize)
	case c.Workers < 1 || c.Workers > 64:
		return fmt.Errorf("labels.workers: %d is outside 1..64", c.Workers)
	case c.Lease < time.Second:
		return fmt.Errorf("labels.lease: %s is below 1s", c.Lease)
	case c.Coalesce < 0:
		return fmt.Errorf("labels.coalesce: %s must not be negative", c.Coalesce)
	case c.DueStep < time.Minute:
		return fmt.Errorf("labels.due_step: %s is below 1m", c.DueStep)
	}
	return nil
}

// Labels is the label stage: it takes changed users off the change feed,
// re-encodes those whose text changed, classifies, stores the label
// document with a new version when segments changed, and publishes through
// an outbox. Safe with several instances: a user is claimed by one at a
// time (with a lease), the label write is a compare-and-set on its version,
// and one instance at a time publishes a user.
type Labels struct {
	rdb   redis.UniversalClient
	store *featurestore.Store
	enc   TextEncoder
	seg   Segmenter
	pub   *producer.Publisher
	cfg   LabelsConfig
	log   *zap.Logger
	m     *labelMetrics
	owner string

	backlog atomic.Int64 // users waiting in the change feed and the encode queue
}

// NewLabels builds the label stage. enc may be nil (no text embeddings).
func NewLabels(rdb redis.UniversalClient, store *featurestore.Store, enc TextEncoder, seg Segmenter, pub *producer.Publisher,
	cfg LabelsConfig, log *zap.Logger, reg prometheus.Registerer) (*Labels, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Labels{rdb: rdb, store: store, enc: enc, seg: seg, pub: pub, cfg: cfg,
		log: log.With(zap.String("component", "labels")), m: newLabelMetrics(reg),
		owner: strconv.FormatUint(uint64(time.Now().UnixNano()), 36)}, nil
}

// Keys of the label stage (per user: hash tag {user}; shared: {feed}).
func (l *Labels) labelKey(u string) string { return l.store.Config().Prefix + ":{" + u + "}:l" }
func (l *Labels) embKey(u string) string   { return l.store.Config().Prefix + ":{" + u + "}:e" }
func (l *Labels) lockKey(u string) string  { return l.store.Config().Prefix + ":{" + u + "}:lock" }
func (l *Labels) inflightKey() string      { return l.store.FeedKey("inflight") }
func (l *Labels) dueKey() string           { return l.store.FeedKey("due") }
func (l *Labels) outboxKey() string        { return l.store.FeedKey("outbox") }
func (l *Labels) encodeKey() string        { return l.store.FeedKey("encode") }
func (l *Labels) encodingKey() string      { return l.store.FeedKey("encoding") }

// WaitBacklog blocks while the backlog is above labels.max_backlog; the
// consumer calls it before each fetch (see consumer.SetGate).
func (l *Labels) WaitBacklog(ctx context.Context) error {
	paused := false
	for l.backlog.Load() > l.cfg.MaxBacklog {
		if !paused {
			paused = true
			l.m.pauses.Inc()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// LoadScripts loads the stage's Lua scripts (pipelines call them by SHA).
func (l *Labels) LoadScripts(ctx context.Context) error {
	for _, sc := range []*redis.Script{claimScript, requeueScript, expireScript, labelCAS, markPublished, outboxDone} {
		if err := sc.Load(ctx, l.rdb).Err(); err != nil {
			return fmt.Errorf("labels: loading scripts: %w", err)
		}
	}
	return nil
}

// Run evaluates, schedules and publishes until ctx is cancelled. The outbox
// is published first, so labels written before a crash go out at start.
func (l *Labels) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for i := 0; i < l.cfg.Workers; i++ {
		g.Go(func() error { return l.evaluateLoop(ctx) })
	}
	g.Go(func() error { return l.scheduleLoop(ctx) })
	g.Go(func() error { return l.publishLoop(ctx) })
	if l.enc != nil && !l.cfg.NoEncoder {
		g.Go(func() error { return l.encodeLoop(ctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// claimScript moves up to ARGV[2] users whose change score is at most
// ARGV[1] from the change feed to the in-flight set with lease deadline
// ARGV[3], returning them with their change scores.
var claimScript = redis.NewScript(`
local zs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #zs, 2 do
  redis.call('ZREM', KEYS[1], zs[i])
  redis.call('ZADD', KEYS[2], ARGV[3], zs[i])
end
return zs
`)

// requeueScript moves in-flight users whose lease expired (score < ARGV[1])
// back to the change feed, and due users (due score <= ARGV[2]) too.
var requeueScript = redis.NewScript(`
local n = 0
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, u in ipairs(expired) do
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZADD', KEYS[1], 'NX', ARGV[3], u)
  n = n + 1
end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[2], 'LIMIT', 0, 5000)
for _, u in ipairs(due) do
  redis.call('ZREM', KEYS[3], u)
  redis.call('ZADD', KEYS[1], 'NX', ARGV[3], u)
end
return {n, #due}
`)

// expireScript moves in-flight entries whose lease expired (score <
// ARGV[1]) from KEYS[2] back to the queue KEYS[1].
var expireScript = redis.NewScript(`
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, u in ipairs(expired) do
  redis.call('ZREM', KEYS[2], u)
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], u)
end
return #expired
`)

// labelCAS writes a user's label record if its version is still ARGV[1].
// Fields: ver, doc, changes, state, erased.
var labelCAS = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'ver') or '0'
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ver', ARGV[2], 'doc', ARGV[3], 'changes', ARGV[4], 'state', ARGV[5], 'erased', ARGV[6])
return 1
`)

// markPublished raises the published version (never lowers it).
var markPublished = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'published') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'published', ARGV[1]) end
return 1
`)

// outboxDone removes a user from the outbox only if its entry was not
// renewed (a newer version written) since it was read.
var outboxDone = redis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`)

// queue is a per-user work queue in Redis: users wait in pending (scored
// by when they became due) and move to inflight (scored by their lease
// deadline) while a worker has them.
type queue struct{ pending, inflight string }

// workLoop claims up to batch users whose pending score is at most
// maxScore(now), runs work on them, and acknowledges them; on failure they
// go back to pending with their scores. Users of a worker that dies come
// back when the lease expires (scheduleLoop).
func (l *Labels) workLoop(ctx context.Context, stage string, q queue, batch int, maxScore func(time.Time) string,
	work func(context.Context, []claim) error) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		res, err := claimScript.Run(ctx, l.rdb, []string{q.pending, q.inflight},
			maxScore(now), batch, now.Add(l.cfg.Lease).UnixMilli()).StringSlice()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.log.Warn("claiming users failed", zap.String("stage", stage), zap.Error(err))
			sleep(ctx, time.Second)
			continue
		}
		if len(res) == 0 {
			sleep(ctx, l.cfg.PollInterval)
			continue
		}
		claims := make([]claim, 0, len(res)/2)
		members := make([]any, 0, len(res)/2)
		for i := 0; i+1 < len(res); i += 2 {
			ms, _ := strconv.ParseFloat(res[i+1], 64)
			claims = append(claims, claim{user: res[i], since: time.UnixMilli(int64(ms))})
			members = append(members, res[i])
		}
		wctx, cancel := context.WithTimeout(context.Background(), l.cfg.Lease)
		err = work(wctx, claims)
		cancel()
		if err != nil {
			l.log.Error("work on claimed users failed; retrying them", zap.String("stage", stage), zap.Int("users", len(claims)), zap.Error(err))
			l.m.errors.WithLabelValues(stage).Inc()
			sleep(ctx, time.Second)
			back := make([]redis.Z, len(claims))
			for i, c := range claims {
				back[i] = redis.Z{Score: float64(c.since.UnixMilli()), Member: c.user}
			}
			// Redis itself may be what failed (a failover): keep trying to
			// hand the users back rather than leave them to the lease
			for attempt := 0; ; attempt++ {
				pipe := l.rdb.TxPipeline()
				pipe.ZAddNX(context.Background(), q.pending, back...)
				pipe.ZRem(context.Background(), q.inflight, members...)
				_, err := pipe.Exec(context.Background())
				if err == nil || ctx.Err() != nil || attempt == 30 {
					break // on shutdown or after 30 tries the lease brings them back
				}
				sleep(ctx, time.Second)
			}
			continue
		}
		l.rdb.ZRem(context.Background(), q.inflight, members...)
	}
}

// evaluateLoop labels changed users once they are older than the coalesce
// window.
func (l *Labels) evaluateLoop(ctx context.Context) error {
	return l.workLoop(ctx, "evaluate", queue{l.store.ChangesKey(), l.inflightKey()}, l.cfg.BatchSize,
		func(now time.Time) string { return strconv.FormatInt(now.Add(-l.cfg.Coalesce).UnixMilli(), 10) }, l.evaluate)
}

type claim struct {
	user  string
	since time.Time // Kafka time of the oldest unprocessed event
}

// labelRecord is the stored label hash of one user.
type labelRecord struct {
	ver       int64
	doc       *producer.LabelDoc
	changes   []producer.Change
	state     json.RawMessage
	erased    bool
	published int64
}

func parseLabel(m map[string]string) (labelRecord, error) {
	var r labelRecord
	if len(m) == 0 {
		return r, nil
	}
	r.ver, _ = strconv.ParseInt(m["ver"], 10, 64)
	r.published, _ = strconv.ParseInt(m["published"], 10, 64)
	r.erased = m["erased"] == "1"
	if s := m["doc"]; s != "" && s != "null" {
		r.doc = &producer.LabelDoc{}
		if err := json.Unmarshal([]byte(s), r.doc); err != nil {
			return r, fmt.Errorf("label record: %w", err)
		}
	}
	if s := m["changes"]; s != "" {
		if err := json.Unmarshal([]byte(s), &r.changes); err != nil {
			return r, fmt.Errorf("label record: %w", err)
		}
	}
	if s := m["state"]; s != "" {
		r.state = json.RawMessage(s)
	}
	return r, nil
}

// embedding record: [8 text hash][2 len(model)][model][dim × float32]
func encodeEmb(hash uint64, model string, v []float32) []byte {
	b := make([]byte, 0, 10+len(model)+4*len(v))
	b = binary.LittleEndian.AppendUint64(b, hash)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(model)))
	b = append(b, model...)
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func decodeEmb(b []byte) (hash uint64, model string, v []float32, ok bool) {
	if len(b) < 10 {
		return 0, "", nil, false
	}
	hash = binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if len(b) < 10+n || (len(b)-10-n)%4 != 0 {
		return 0, "", nil, false
	}
	model = string(b[10 : 10+n])
	rest := b[10+n:]
	v = make([]float32, len(rest)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	return hash, model, v, true
}

// Embedding returns a user's stored embedding with its model version.
func (l *Labels) Embedding(ctx context.Context, user string) ([]float32, string, error) {
	b, err := l.rdb.Get(ctx, l.embKey(user)).Bytes()
	if err != nil {
		return nil, "", err
	}
	_, model, v, ok := decodeEmb(b)
	if !ok {
		return nil, "", errors.New("corrupt embedding record")
	}
	return v, model, nil
}

// clock is the time labels are computed at.
func (l *Labels) clock(ctx context.Context) (time.Time, error) {
	if l.cfg.Clock == "wall" {
		return time.Now().UTC(), nil
	}
	return l.store.Watermark(ctx)
}

// evaluate labels a batch of claimed users.
func (l *Labels) evaluate(ctx context.Context, claims []claim) error {
	t0 := time.Now()
	clock, err := l.clock(ctx)
	if err != nil {
		return err
	}
	pipe := l.rdb.Pipeline()
	profs := make([]*redis.StringCmd, len(claims))
	labs := make([]*redis.MapStringStringCmd, len(claims))
	embs := make([]*redis.StringCmd, len(claims))
	for i, c := range claims {
		profs[i] = pipe.Get(ctx, l.store.ProfileKey(c.user))
		labs[i] = pipe.HGetAll(ctx, l.labelKey(c.user))
		embs[i] = pipe.Get(ctx, l.embKey(c.user))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("reading %d users: %w", len(claims), err)
	}
	type work struct {
		c    claim
		p    *featurestore.Profile
		rec  labelRecord
		emb  []float32
		asOf time.Time
	}
	var ws []*work
	// queue entries and outbox entries first, label records then (one
	// round trip on one server, ordered phases on a cluster; WAIT for
	// replicas with featurestore.wait_replicas)
	wb := l.store.NewBatch(ctx)
	for i, c := range claims {
		raw, err := profs[i].Bytes()
		if errors.Is(err, redis.Nil) {
			continue // nothing to label (an erased user's keys were removed)
		}
		if err != nil {
			return err
		}
		p, err := featurestore.Unmarshal(raw)
		if err != nil {
			return fmt.Errorf("user %q: %w", c.user, err)
		}
		if p.ErasedAt != 0 {
			continue
		}
		rec, err := parseLabel(labs[i].Val())
		if err != nil {
			return fmt.Errorf("user %q: %w", c.user, err)
		}
		w := &work{c: c, p: p, rec: rec, asOf: clock}
		if lastSeen := time.Unix(p.LastSeen, 0).UTC(); w.asOf.Before(lastSeen) {
			w.asOf = lastSeen
		}
		if l.enc != nil && !l.cfg.NoEncoder && p.TextHash != 0 {
			eb, _ := embs[i].Bytes()
			h, model, v, ok := decodeEmb(eb)
			if ok && model == l.enc.ModelVersion() {
				w.emb = v // current, or the previous text's until the new one is encoded
			}
			if ok && h == p.TextHash && model == l.enc.ModelVersion() {
				l.m.encodesSkipped.Inc()
			} else {
				wb.First(l.encodeKey()).ZAddNX(ctx, l.encodeKey(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: c.user})
			}
		}
		ws = append(ws, w)
	}
	nowUs := time.Now().UnixMicro()
	model := l.seg.Model()
	type written struct {
		w   *work
		cmd *redis.Cmd
	}
	var writes []written
	for _, w := range ws {
		view := featurestore.NewView(w.p, w.asOf)
		d, err := l.seg.Label(w.p, view, w.emb, w.rec.state, w.asOf)
		if err != nil {
			return fmt.Errorf("labelling %q: %w", w.c.user, err)
		}
		l.m.evaluated.Inc()
		var old []string
		if w.rec.doc != nil {
			old = w.rec.doc.Segments
		}
		entered, exited := diff(old, d.Segments)
		segChanged := w.rec.doc == nil || len(entered)+len(exited) > 0
		stateChanged := string(d.State) != string(w.rec.state)
		// time alone must be able to move the user: schedule the next look
		silence := w.asOf.Sub(time.Unix(w.p.LastSeen, 0))
		if silence < l.cfg.DueHorizon {
			wb.First(l.dueKey()).ZAdd(ctx, l.dueKey(), redis.Z{Score: float64(w.asOf.Add(l.cfg.DueStep).Unix()), Member: w.c.user})
		}
		if !segChanged && !stateChanged {
			continue
		}
		ver := w.rec.ver
		docJSON, _ := json.Marshal(w.rec.doc)
		chJSON, _ := json.Marshal(w.rec.changes)
		if segChanged {
			ver++
			doc := &producer.LabelDoc{UserID: w.c.user, Version: ver, AsOf: w.asOf, Segments: d.Segments, Scores: d.Scores, Model: model, Reasons: d.Reasons}
			if doc.Segments == nil {
				doc.Segments = []string{}
			}
			// changes not yet published stay queued with the new ones, so
			// a user relabelled twice before the publisher ran loses none
			var changes []producer.Change
			if w.rec.published < w.rec.ver {
				changes = append(changes, w.rec.changes...)
				if over := len(changes) - maxPendingChanges; over > 0 {
					changes = changes[over:]
					l.m.errors.WithLabelValues("changes_dropped").Add(float64(over))
				}
			}
			for _, s := range entered {
				changes = append(changes, producer.Change{UserID: w.c.user, Segment: s, Change: producer.Entered, Version: ver, At: w.asOf, Reasons: reasonsFor(d.Reasons, s)})
			}
			for _, s := range exited {
				changes = append(changes, producer.Change{UserID: w.c.user, Segment: s, Change: producer.Exited, Version: ver, At: w.asOf, Reasons: reasonsFor(d.Reasons, s)})
			}
			docJSON, _ = json.Marshal(doc)
			chJSON, _ = json.Marshal(changes)
			// the outbox entry first: a crash after it and before the label
			// write leaves an entry the publisher finds already published
			wb.First(l.outboxKey()).ZAdd(ctx, l.outboxKey(), redis.Z{Score: float64(nowUs), Member: w.c.user})
		}
		cmd := labelCAS.EvalSha(ctx, wb.Then(l.labelKey(w.c.user)), []string{l.labelKey(w.c.user)}, w.rec.ver, ver, docJSON, chJSON, []byte(d.State), "0")
		writes = append(writes, written{w, cmd})
	}
	if err := wb.Exec(); err != nil && !featurestore.IsNoScript(err) {
		return fmt.Errorf("writing labels: %w", err)
	} else if err != nil {
		if err := labelCAS.Load(ctx, l.rdb).Err(); err != nil {
			return err
		}
		return errors.New("label script was not loaded; retrying")
	}
	var conflicts []any
	for _, wr := range writes {
		if n, _ := wr.cmd.Int(); n != 1 {
			conflicts = append(conflicts, wr.w.c.user)
		}
	}
	if len(conflicts) > 0 {
		// another evaluator won (should not happen with claims): look again
		l.m.errors.WithLabelValues("label_conflict").Add(float64(len(conflicts)))
		zs := make([]redis.Z, len(conflicts))
		for i, u := range conflicts {
			zs[i] = redis.Z{Score: float64(time.Now().UnixMilli()), Member: u}
		}
		l.rdb.ZAddNX(ctx, l.store.ChangesKey(), zs...)
	}
	// event-to-label latency: every evaluated user's labels now reflect its
	// events up to the one that put it on the feed
	done := time.Now()
	for _, w := range ws {
		l.m.latency.Observe(done.Sub(w.c.since).Seconds())
	}
	l.m.evaluateSeconds.Observe(time.Since(t0).Seconds())
	return nil
}

// maxPendingChanges bounds the unpublished changes kept per user (while
// Kafka is unreachable); past it the oldest are dropped and counted.
const maxPendingChanges = 1000

func diff(old, cur []string) (entered, exited []string) {
	for _, s := range cur {
		if !slices.Contains(old, s) {
			entered = append(entered, s)
		}
	}
	for _, s := range old {
		if !slices.Contains(cur, s) {
			exited = append(exited, s)
		}
	}
	sort.Strings(entered)
	sort.Strings(exited)
	return
}

func reasonsFor(rs []producer.Reason, seg string) []producer.Reason {
	out := []producer.Reason{}
	for _, r := range rs {
		if r.Segment == seg {
			out = append(out, r)
		}
	}
	return out
}

// encodeLoop re-encodes queued users' profile texts in batches, stores the
// embeddings beside the profiles, and puts the users back on the change
// feed so their labels (interests) use the new embedding.
func (l *Labels) encodeLoop(ctx context.Context) error {
	return l.workLoop(ctx, "encode", queue{l.encodeKey(), l.encodingKey()}, l.cfg.EncodeBatch,
		func(time.Time) string { return "+inf" }, l.encode)
}

func (l *Labels) encode(ctx context.Context, users []claim) error {
	pipe := l.rdb.Pipeline()
	profs := make([]*redis.StringCmd, len(users))
	for i, u := range users {
		profs[i] = pipe.Get(ctx, l.store.ProfileKey(u.user))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	var ids []string
	var texts []string
	var hashes []uint64
	for i, u := range users {
		raw, err := profs[i].Bytes()
		if err != nil {
			continue
		}
		p, err := featurestore.Unmarshal(raw)
		if err != nil || p.ErasedAt != 0 || p.TextHash == 0 {
			continue
		}
		ts := make([]string, len(p.Texts))
		for j, t := range p.Texts {
			ts[j] = t.Text
		}
		ids = append(ids, u.user)
		texts = append(texts, l.enc.ProfileText(ts))
		hashes = append(hashes, p.TextHash)
	}
	if len(texts) == 0 {
		return nil
	}
	t0 := time.Now()
	vecs, err := l.enc.Encode(ctx, texts)
	if err != nil {
		return fmt.Errorf("encoding %d profile texts: %w", len(texts), err)
	}
	l.m.encodeSeconds.Observe(time.Since(t0).Seconds())
	l.m.encodes.Add(float64(len(texts)))
	nowMs := float64(time.Now().UnixMilli())
	// the embeddings first, then the users back on the change feed: the
	// evaluator must not take a user before its new embedding is there
	wb := l.store.NewBatch(ctx)
	back := make([]redis.Z, len(ids))
	for i, u := range ids {
		wb.First(l.embKey(u)).Set(ctx, l.embKey(u), encodeEmb(hashes[i], l.enc.ModelVersion(), vecs[i]), 0)
		back[i] = redis.Z{Score: nowMs, Member: u}
	}
	wb.Then(l.store.ChangesKey()).ZAddNX(ctx, l.store.ChangesKey(), back...)
	return wb.Exec()
}

func (l *Labels) scheduleLoop(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		l.refreshBacklog(ctx)
		clock, err := l.clock(ctx)
		if err != nil || clock.IsZero() {
			continue
		}
		now := time.Now()
		res, err := requeueScript.Run(ctx, l.rdb, []string{l.store.ChangesKey(), l.inflightKey(), l.dueKey()},
			now.UnixMilli(), clock.Unix(), now.UnixMilli()).Int64Slice()
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("requeueing due and expired users failed", zap.Error(err))
			}
			continue
		}
		if len(res) == 2 {
			l.m.leaseExpired.Add(float64(res[0]))
			l.m.due.Add(float64(res[1]))
		}
		if n, err := expireScript.Run(ctx, l.rdb, []string{l.encodeKey(), l.encodingKey()}, now.UnixMilli()).Int(); err == nil {
			l.m.leaseExpired.Add(float64(n))
		}
	}
}

// refreshBacklog reads the queue sizes (one round trip) for the gauges and
// the intake gate.
func (l *Labels) refreshBacklog(ctx context.Context) {
	pipe := l.rdb.Pipeline()
	ch := pipe.ZCard(ctx, l.store.ChangesKey())
	enc := pipe.ZCard(ctx, l.encodeKey())
	out := pipe.ZCard(ctx, l.outboxKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return
	}
	l.m.outbox.Set(float64(out.Val()))
	l.m.encodeQueue.Set(float64(enc.Val()))
	l.m.backlog.Set(float64(ch.Val() + enc.Val()))
	l.backlog.Store(ch.Val() + enc.Val())
}

func (l *Labels) publishLoop(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		zs, err := l.rdb.ZRangeWithScores(ctx, l.outboxKey(), 0, int64(l.cfg.PublishBatch-1)).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.log.Warn("reading the outbox failed", zap.Error(err))
			sleep(ctx, time.Second)
			continue
		}
		if len(zs) == 0 {
			sleep(ctx, l.cfg.PollInterval)
			continue
		}
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := l.publish(wctx, zs)
		cancel()
		if err != nil {
			l.log.Warn("publishing labels failed, retrying", zap.Error(err))
			l.m.errors.WithLabelValues("publish").Inc()
			sleep(ctx, time.Second)
			continue
		}
		if n == 0 {
			sleep(ctx, l.cfg.PollInterval) // all locked by other instances
		}
	}
}

// publish sends the outbox entries' current documents. One instance at a
// time publishes a user (a lock in the user's slot), reading the latest
// version under the lock, so versions go out in order.
func (l *Labels) publish(ctx context.Context, zs []redis.Z) (int, error) {
	pipe := l.rdb.Pipeline()
	locks := make([]*redis.BoolCmd, len(zs))
	for i, z := range zs {
		locks[i] = pipe.SetNX(ctx, l.lockKey(z.Member.(string)), l.owner, 30*time.Second)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var mine []redis.Z
	for i, z := range zs {
		if ok, _ := locks[i].Result(); ok {
			mine = append(mine, z)
		}
	}
	if len(mine) == 0 {
		return 0, nil
	}
	defer func() {
		p := l.rdb.Pipeline()
		for _, z := range mine {
			p.Del(context.Background(), l.lockKey(z.Member.(string)))
		}
		_, _ = p.Exec(context.Background())
	}()
	pipe = l.rdb.Pipeline()
	recs := make([]*redis.MapStringStringCmd, len(mine))
	for i, z := range mine {
		recs[i] = pipe.HGetAll(ctx, l.labelKey(z.Member.(string)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var pubs []producer.Publication
	type doneEntry struct {
		z   redis.Z
		ver int64
	}
	var done []doneEntry
	young := float64(time.Now().Add(-outboxGrace).UnixMicro())
	for i, z := range mine {
		u := z.Member.(string)
		rec, err := parseLabel(recs[i].Val())
		if err != nil {
			return 0, err
		}
		if rec.ver <= rec.published || (rec.doc == nil && !rec.erased) {
			// Nothing new to publish: a crash after publishing, a duplicate
			// entry, or a label write still on its way (the evaluator adds
			// the entry before it writes the record, and other clients'
			// commands can come in between): leave young entries for later.
			if z.Score > young {
				continue
			}
			done = append(done, doneEntry{z, rec.ver})
			continue
		}
		done = append(done, doneEntry{z, rec.ver})
		if rec.erased {
			pubs = append(pubs, producer.Publication{UserID: u, Erased: true})
			continue
		}
		pubs = append(pubs, producer.Publication{UserID: u, Label: rec.doc, Changes: rec.changes})
	}
	if err := l.pub.Publish(ctx, pubs); err != nil {
		return 0, err
	}
	for _, p := range pubs {
		if p.Erased {
			l.m.tombstones.Inc()
			continue
		}
		l.m.published.Inc()
		for _, c := range p.Changes {
			l.m.changes.WithLabelValues(c.Segment, c.Change).Inc()
		}
	}
	if len(done) == 0 {
		return 0, nil
	}
	pipe = l.rdb.Pipeline()
	for _, d := range done {
		markPublished.EvalSha(ctx, pipe, []string{l.labelKey(d.z.Member.(string))}, d.ver)
		outboxDone.EvalSha(ctx, pipe, []string{l.outboxKey()}, d.z.Member, strconv.FormatFloat(d.z.Score, 'f', -1, 64))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		if featurestore.IsNoScript(err) {
			_ = markPublished.Load(ctx, l.rdb).Err()
			_ = outboxDone.Load(ctx, l.rdb).Err()
		}
		return 0, fmt.Errorf("marking %d users published: %w", len(done), err)
	}
	return len(done), nil
}

// outboxGrace is how long an outbox entry with nothing to publish is left
// alone: its label write may still be on the way (see publish).
const outboxGrace = 5 * time.Second

// Label returns a user's current label document (nil when none yet).
func (l *Labels) Label(ctx context.Context, user string) (*producer.LabelDoc, bool, error) {
	m, err := l.rdb.HGetAll(ctx, l.labelKey(user)).Result()
	if err != nil {
		return nil, false, err
	}
	rec, err := parseLabel(m)
	return rec.doc, rec.erased, err
}

// Erase forgets a user: the profile becomes a tombstone that drops later
// events, the embedding goes, the label record is replaced by an erased
// marker with a new version, and the outbox publishes a tombstone on the
// labels topic.
func (l *Labels) Erase(ctx context.Context, user string) error {
	if err := l.store.Erase(ctx, user, time.Now()); err != nil {
		return err
	}
	for attempt := 0; attempt < 10; attempt++ {
		m, err := l.rdb.HGetAll(ctx, l.labelKey(user)).Result()
		if err != nil {
			return err
		}
		rec, err := parseLabel(m)
		if err != nil {
			return err
		}
		pipe := l.rdb.Pipeline()
		pipe.Del(ctx, l.embKey(user))
		pipe.ZRem(ctx, l.dueKey(), user)
		pipe.ZRem(ctx, l.inflightKey(), user)
		pipe.ZAdd(ctx, l.outboxKey(), redis.Z{Score: float64(time.Now().UnixMicro()), Member: user})
		cmd := labelCAS.Eval(ctx, pipe, []string{l.labelKey(user)}, rec.ver, rec.ver+1, "null", "[]", "", "1")
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		if n, _ := cmd.Int(); n == 1 {
			return nil
		}
	}
	return errors.New("erase: label record kept changing")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Pending counts users waiting anywhere in the stage: the change feed,
// claimed, the encode queue, being encoded, or in the outbox.
func (l *Labels) Pending(ctx context.Context) (int64, error) {
	pipe := l.rdb.Pipeline()
	keys := []string{l.store.ChangesKey(), l.inflightKey(), l.encodeKey(), l.encodingKey(), l.outboxKey()}
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.ZCard(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// PublishPending publishes a user's outbox entry now, if it has one (used
// by `segstream erase` so the tombstone goes out even when no service runs).
func (l *Labels) PublishPending(ctx context.Context, user string) error {
	score, err := l.rdb.ZScore(ctx, l.outboxKey(), user).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := l.LoadScripts(ctx); err != nil {
		return err
	}
	n, err := l.publish(ctx, []redis.Z{{Score: score, Member: user}})
	if err == nil && n == 0 {
		return errors.New("not published now (another instance holds the user); the outbox publishes it")
	}
	return err
}
