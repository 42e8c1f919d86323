package labelstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

// fakeSeg labels by rules on the profile: "visitor" always, "buyer" with an
// order, "reader" with an embedding; its state counts events (so a view
// changes the state and not the segments).
type fakeSeg struct {
	mu   sync.Mutex
	embs map[string][]classifier.Embedding
	fail error
}

func (f *fakeSeg) Model() label.ModelRef { return label.ModelRef{Name: "fake", Version: "f1"} }

func (f *fakeSeg) Label(p *featurestore.Profile, v featurestore.View, embs []classifier.Embedding, prev []byte, asOf time.Time) (label.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return label.Decision{}, f.fail
	}
	if f.embs == nil {
		f.embs = map[string][]classifier.Embedding{}
	}
	f.embs[p.UserID] = embs
	d := label.Decision{Segments: []string{"visitor"}, Scores: map[string]float64{label.ScoreChurnRisk: label.Round(1 / 3.0)}}
	events := 0
	for _, c := range p.Counts {
		events += int(c)
	}
	d.Reasons = append(d.Reasons, label.Reason{Segment: "visitor", Input: "events", Value: float64(events)})
	if p.Orders() > 0 {
		d.Segments = append(d.Segments, "buyer")
		d.Reasons = append(d.Reasons, label.Reason{Segment: "buyer", Input: "orders", Value: float64(p.Orders()), Contribution: 1})
	}
	if len(embs) > 0 {
		d.Segments = append(d.Segments, "reader")
	}
	d.State = []byte(fmt.Sprintf(`{"events":%d}`, events))
	return d, nil
}

// embedding is the vector of the first embedding the segmenter got for u.
func (f *fakeSeg) embedding(u string) []float32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.embs[u]) == 0 {
		return nil
	}
	return f.embs[u][0].Vector
}

// embeddings are all the embeddings the segmenter got for u.
func (f *fakeSeg) embeddings(u string) []classifier.Embedding {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.embs[u]
}

type fakeEnc struct {
	mu    sync.Mutex
	texts []string
}

func (e *fakeEnc) ProfileText(texts []string) string { return strings.Join(texts, " | ") }
func (e *fakeEnc) ModelVersion() string              { return "fake-enc-1" }
func (e *fakeEnc) Dim() int                          { return 2 }
func (e *fakeEnc) Encode(_ context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.texts = append(e.texts, texts...)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), 1}
	}
	return out, nil
}

// fakePub appends publications to a log shared by several publishers (one
// topic). With stall set it behaves like kafka-go's writer when its caller
// stops waiting: Publish returns ctx.Err() at once, and the messages still
// land when the stall ends.
type fakePub struct {
	log   *pubLog
	stall time.Duration
	calls int
}

type pubLog struct {
	mu   sync.Mutex
	pubs []label.Publication
}

func (l *pubLog) add(ps []label.Publication) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pubs = append(l.pubs, ps...)
}

func (l *pubLog) all() []label.Publication {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]label.Publication(nil), l.pubs...)
}

func (f *fakePub) Publish(ctx context.Context, pubs []label.Publication) error {
	f.calls++
	if f.stall == 0 {
		f.log.add(pubs)
		return nil
	}
	landed := make(chan struct{})
	go func() {
		time.Sleep(f.stall)
		f.log.add(pubs)
		close(landed)
	}()
	select {
	case <-landed:
		return nil
	case <-ctx.Done():
		return ctx.Err() // the messages are still on their way
	}
}

type harness struct {
	t     *testing.T
	rdb   *redis.Client
	store *featurestore.Store
	st    *Stage
	seg   *fakeSeg
	enc   *fakeEnc
	pub   *fakePub
	log   *pubLog
	n     int
}

func newHarness(t *testing.T, cfg Config) *harness {
	rdb, prefix := testkit.Redis(t)
	return newHarnessOn(t, rdb, prefix, cfg, &pubLog{})
}

func newHarnessOn(t *testing.T, rdb *redis.Client, prefix string, cfg Config, log *pubLog) *harness {
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rdb: rdb, store: store, seg: &fakeSeg{}, enc: &fakeEnc{}, log: log}
	h.pub = &fakePub{log: log}
	h.st, err = New(store, Single(h.enc), h.seg, h.pub, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.st.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

var day0 = time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)

// fold folds one event of the given type for user.
func (h *harness) fold(user string, typ events.Type, text string) {
	h.t.Helper()
	h.n++
	ev := &events.Event{EventID: fmt.Sprint("e", h.n), Type: typ, UserID: user, TS: day0.Add(time.Duration(h.n) * time.Hour)}
	switch typ {
	case events.TypePurchase:
		ev.OrderID, ev.Currency = fmt.Sprint("o", h.n), "GBP"
		ev.Items = []events.Item{{ProductID: "p1", Description: "RED TEA CUP", Quantity: 2, UnitPrice: 1.5}}
	case events.TypeReview:
		ev.ProductID, ev.Rating, ev.Text = "p1", 5, text
	default:
		ev.ProductID, ev.Price = "p1", 2
	}
	rec := events.Record{Event: ev, Source: "t/0", Offset: int64(h.n), Received: time.Now().Add(-time.Second)}
	if _, err := h.store.Fold(context.Background(), []events.Record{rec}); err != nil {
		h.t.Fatal(err)
	}
}

// foldReview folds a review of text for user, with a declared language.
func (h *harness) foldReview(user, text, lang string) {
	h.t.Helper()
	h.n++
	ev := &events.Event{EventID: fmt.Sprint("e", h.n), Type: events.TypeReview, UserID: user, TS: day0.Add(time.Duration(h.n) * time.Hour),
		ProductID: "p1", Rating: 4, Text: text, Lang: lang}
	rec := events.Record{Event: ev, Source: "t/0", Offset: int64(h.n), Received: time.Now().Add(-time.Second)}
	if _, err := h.store.Fold(context.Background(), []events.Record{rec}); err != nil {
		h.t.Fatal(err)
	}
}

// run claims what waits in q and runs work on it, as the work loop does.
func (h *harness) run(q keyspace.Queue, work func(context.Context, []keyspace.Claim) (bookkeeping, error)) int {
	h.t.Helper()
	ctx := context.Background()
	claims, err := q.Claim(ctx, "+inf", 1000, time.Minute)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(claims) == 0 {
		return 0
	}
	after, err := work(ctx, claims)
	if err != nil {
		h.t.Fatal(err)
	}
	h.st.settleBatch(ctx, q, claims, after) // as workLoop does, with the next claim
	if n, err := h.st.rdb.ZCard(ctx, q.Inflight).Result(); err != nil || n != 0 {
		h.t.Fatalf("%d users still in flight after the acknowledgement (%v)", n, err)
	}
	return len(claims)
}

func (h *harness) evaluate() int {
	return h.run(h.st.sp.Queue(h.st.sp.Changes(), h.st.sp.Inflight()), h.st.evaluate)
}

func (h *harness) encode() int {
	return h.run(h.st.sp.Queue(h.st.sp.Encode(), h.st.sp.Encoding()), func(ctx context.Context, c []keyspace.Claim) (bookkeeping, error) { return nil, h.st.encode(ctx, c) })
}

func (h *harness) publishAll() int {
	h.t.Helper()
	ctx := context.Background()
	zs, err := h.rdb.ZRangeWithScores(ctx, h.st.sp.Outbox(), 0, -1).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	n, err := h.st.publish(ctx, zs)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) record(user string) label.Record {
	h.t.Helper()
	m, err := h.rdb.HGetAll(context.Background(), h.st.sp.Label(user)).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	r, err := parseRecord(m)
	if err != nil {
		h.t.Fatal(err)
	}
	if p, _ := strconvParse(m["published"]); p != r.Published {
		h.t.Fatalf("published %d parsed as %d", p, r.Published)
	}
	return r
}

func strconvParse(s string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(s, &n)
	return n, err
}

func changesOf(cs []label.Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s:%s@%d", c.Change, c.Segment, c.Version))
	}
	return strings.Join(out, " ")
}

func (h *harness) outbox() int64 {
	n, _ := h.rdb.ZCard(context.Background(), h.st.sp.Outbox()).Result()
	return n
}

// One user through the whole version cycle: first document, an entry while
// the first is unpublished (its changes carried over), publishing, a
// state-only change (no version, nothing published), erasure.
func TestEvaluateVersionsChangesAndPublish(t *testing.T) {
	h := newHarness(t, Config{NoEncoder: true})
	h.fold("u1", events.TypeView, "")
	if n := h.evaluate(); n != 1 {
		t.Fatalf("evaluated %d users, want 1", n)
	}
	r := h.record("u1")
	if r.Version != 1 || r.Doc == nil || strings.Join(r.Doc.Segments, ",") != "visitor" || changesOf(r.Changes) != "entered:visitor@1" {
		t.Fatalf("first record: v%d %+v changes %s", r.Version, r.Doc, changesOf(r.Changes))
	}
	if r.Doc.Model.Name != "fake" || r.Doc.AsOf.IsZero() || r.Doc.Scores[label.ScoreChurnRisk] != 0.3333 {
		t.Fatalf("document %+v", r.Doc)
	}
	if h.outbox() != 1 {
		t.Fatal("new version not in the outbox")
	}

	h.fold("u1", events.TypePurchase, "")
	h.evaluate()
	r = h.record("u1")
	if r.Version != 2 || changesOf(r.Changes) != "entered:visitor@1 entered:buyer@2" {
		t.Fatalf("second record: v%d changes %s (v1's change must be carried: it was never published)", r.Version, changesOf(r.Changes))
	}
	if got := label.ReasonsFor(r.Changes[1].Reasons, "buyer"); len(got) != 1 || got[0].Input != "orders" {
		t.Fatalf("entry reasons %+v", r.Changes[1].Reasons)
	}

	if n := h.publishAll(); n != 1 {
		t.Fatalf("settled %d outbox entries, want 1", n)
	}
	pubs := h.log.all()
	if len(pubs) != 1 || pubs[0].Label.Version != 2 || changesOf(pubs[0].Changes) != "entered:visitor@1 entered:buyer@2" {
		t.Fatalf("published %+v", pubs)
	}
	if r := h.record("u1"); r.Published != 2 || h.outbox() != 0 {
		t.Fatalf("after publishing: published=%d, outbox %d", r.Published, h.outbox())
	}

	// a view: same segments, new state: stored without a version
	h.fold("u1", events.TypeView, "")
	h.evaluate()
	r = h.record("u1")
	if r.Version != 2 || string(r.State) != `{"events":3}` || h.outbox() != 0 {
		t.Fatalf("state-only change: v%d state %s outbox %d", r.Version, r.State, h.outbox())
	}
	// the stored document is untouched by a state-only write (the evaluator
	// reads only its segments)
	if r.Doc == nil || r.Doc.Model.Name != "fake" || r.Doc.Scores[label.ScoreChurnRisk] != 0.3333 || len(r.Doc.Reasons) == 0 || r.Doc.Version != 2 {
		t.Fatalf("document after a state-only write: %+v", r.Doc)
	}
	// evaluated again with nothing new: nothing written
	h.rdb.ZAdd(context.Background(), h.st.sp.Changes(), redis.Z{Score: 1, Member: "u1"})
	h.evaluate()
	if h.record("u1").Version != 2 || h.outbox() != 0 {
		t.Fatal("an unchanged evaluation wrote a version")
	}
	if due, _ := h.rdb.ZScore(context.Background(), h.st.sp.Due(), "u1").Result(); due == 0 {
		t.Fatal("no due time scheduled: time alone could not move the user")
	}

	// erase: a version of its own, published as a tombstone
	if err := h.st.Erase(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if doc, erased, _ := h.st.Label(context.Background(), "u1"); doc != nil || !erased {
		t.Fatalf("after erase: %+v erased=%v", doc, erased)
	}
	h.publishAll()
	pubs = h.log.all()
	if last := pubs[len(pubs)-1]; !last.Erased || last.UserID != "u1" {
		t.Fatalf("last publication %+v, want u1's tombstone", last)
	}
	h.fold("u1", events.TypePurchase, "")
	h.rdb.ZAdd(context.Background(), h.st.sp.Changes(), redis.Z{Score: 1, Member: "u1"}) // even if it were on the feed
	h.evaluate()
	if r := h.record("u1"); r.Version != 3 || !r.Erased || r.Doc != nil {
		t.Fatalf("an erased user was labelled again: %+v", r)
	}
}

// A user whose text changed is labelled at once with its previous
// embedding and queued for the encoder; after encoding it is labelled
// again with the new one, and an unchanged text is not encoded again.
func TestEncodeQueueThenEmbedding(t *testing.T) {
	h := newHarness(t, Config{})
	h.fold("u2", events.TypeReview, "lovely red tea cup")
	h.evaluate()
	if h.seg.embedding("u2") != nil {
		t.Fatal("an embedding before any encode")
	}
	if n := h.encode(); n != 1 {
		t.Fatalf("encoded %d users, want 1", n)
	}
	if len(h.enc.texts) != 1 || !strings.Contains(h.enc.texts[0], "lovely red tea cup") {
		t.Fatalf("encoder got %q", h.enc.texts)
	}
	embs, err := h.st.Embeddings(context.Background(), "u2")
	if err != nil || len(embs) != 1 || embs[0].Model != "fake-enc-1" || len(embs[0].Vector) != 2 {
		t.Fatalf("stored embeddings %v %v", embs, err)
	}
	if n := h.evaluate(); n != 1 {
		t.Fatal("the encoder did not put the user back on the change feed")
	}
	if emb := h.seg.embedding("u2"); len(emb) != 2 {
		t.Fatalf("segmenter got embedding %v", emb)
	}
	if r := h.record("u2"); r.Version != 2 || changesOf(r.Changes) != "entered:visitor@1 entered:reader@2" {
		t.Fatalf("record after encoding: v%d %s", r.Version, changesOf(r.Changes))
	}
	if before := testutil.ToFloat64(h.st.m.encodesSkipped); before != 1 {
		t.Fatalf("encodes skipped %v, want 1 (the evaluation after encoding)", before)
	}
	// a purchase changes the text (item descriptions) but a view does not
	h.fold("u2", events.TypeView, "")
	h.evaluate()
	if n := h.encode(); n != 0 {
		t.Fatalf("a view with unchanged text queued %d encodes", n)
	}
}

// The evaluator adds a user to the outbox before it writes the label record,
// and other clients' commands can run in between. A publisher that sees the
// entry first must leave it, or the label is never published.
func TestOutboxEntryBeforeItsLabelIsKept(t *testing.T) {
	h := newHarness(t, Config{NoEncoder: true})
	ctx := context.Background()
	z := redis.Z{Score: float64(time.Now().UnixMicro()), Member: "u1"}
	h.rdb.ZAdd(ctx, h.st.sp.Outbox(), z)
	// the publisher comes first: nothing to publish yet, the entry stays
	if _, err := h.st.publish(ctx, []redis.Z{z}); err != nil {
		t.Fatal(err)
	}
	if h.outbox() != 1 {
		t.Fatalf("outbox entry removed before its label was written")
	}
	// then the label write lands, and the next pass publishes it
	doc, _ := json.Marshal(label.Doc{UserID: "u1", Version: 1, Segments: []string{"new"}, Scores: map[string]float64{}})
	if err := keyspace.LabelCAS.Run(ctx, h.rdb, []string{h.st.sp.Label("u1")}, 0, 1, doc, "[]", "", "0").Err(); err != nil {
		t.Fatal(err)
	}
	n, err := h.st.publish(ctx, []redis.Z{z})
	if err != nil || n != 1 {
		t.Fatalf("publish: %d, %v", n, err)
	}
	if h.outbox() != 0 {
		t.Fatalf("outbox not emptied after publishing")
	}
	if pubs := h.log.all(); len(pubs) != 1 || pubs[0].Label.Version != 1 {
		t.Fatalf("published %+v, want version 1", pubs)
	}
	// an old entry with nothing behind it (a crash before the write) goes
	old := redis.Z{Score: float64(time.Now().Add(-time.Minute).UnixMicro()), Member: "u2"}
	h.rdb.ZAdd(ctx, h.st.sp.Outbox(), old)
	if _, err := h.st.publish(ctx, []redis.Z{old}); err != nil {
		t.Fatal(err)
	}
	if h.outbox() != 0 {
		t.Fatalf("stale outbox entry kept")
	}
}

// Defect 1 of the redesign: a publish whose Kafka write stalls past the
// lock's TTL and the publish deadline. Before, the lock expired, the
// stalled instance's plain DEL removed its successor's lock, and the
// stalled write of version 1 landed after version 2: the compacted topic's
// last word for the user was the older document. Now the lock is renewed
// while the write runs and the write is waited for to its end, so version
// 2 goes out after version 1 has landed.
func TestStalledPublishNeverLandsAfterNewer(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	log := &pubLog{}
	cfg := Config{NoEncoder: true, LockTTL: 300 * time.Millisecond, PublishTimeout: 200 * time.Millisecond}
	a := newHarnessOn(t, rdb, prefix, cfg, log)
	b := newHarnessOn(t, rdb, prefix, cfg, log)
	a.pub.stall = 1200 * time.Millisecond
	ctx := context.Background()

	a.fold("u1", events.TypeView, "")
	a.evaluate() // version 1 in the outbox
	zs, _ := rdb.ZRangeWithScores(ctx, a.st.sp.Outbox(), 0, -1).Result()
	aDone := make(chan error, 1)
	go func() {
		// as publishLoop calls it: under the publish deadline
		pctx, cancel := context.WithTimeout(ctx, cfg.PublishTimeout)
		defer cancel()
		_, err := a.st.publish(pctx, zs)
		aDone <- err
	}()
	time.Sleep(500 * time.Millisecond) // past the lock TTL and the publish deadline
	b.n = 100
	b.fold("u1", events.TypePurchase, "")
	b.evaluate() // version 2
	if v := b.record("u1").Version; v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.pub.calls == 0 && time.Now().Before(deadline) {
		zs, _ := rdb.ZRangeWithScores(ctx, b.st.sp.Outbox(), 0, -1).Result()
		if len(zs) > 0 {
			if _, err := b.st.publish(ctx, zs); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-aDone; err != nil {
		t.Fatalf("stalled publish: %v", err)
	}
	var versions []int64
	for _, p := range log.all() {
		versions = append(versions, p.Label.Version)
	}
	if len(versions) != 2 || versions[0] != 1 || versions[1] != 2 {
		t.Fatalf("versions on the topic in order %v, want [1 2]: a stalled older version landed after a newer one", versions)
	}
}

// failHook fails every command or pipeline that removes from key (ZREM),
// as a Redis that went away would.
type failHook struct {
	key  string
	hits *int
	mu   *sync.Mutex
}

func (f failHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f failHook) hit(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		if a := c.Args(); len(a) > 1 && strings.EqualFold(fmt.Sprint(a[0]), "zrem") && a[1] == f.key {
			f.mu.Lock()
			*f.hits++
			f.mu.Unlock()
			return true
		}
	}
	return false
}
func (f failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.hit(cmd) {
			err := errors.New("injected: connection reset")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if f.hit(cmds...) {
			err := errors.New("injected: connection reset")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// Defect 3 of the redesign: errors of the bookkeeping around the work
// (acknowledging finished users, handing failed ones back) were dropped
// without a word. They are logged and counted now.
func TestBookkeepingErrorsAreCounted(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	h := newHarnessOn(t, rdb, prefix, Config{NoEncoder: true, RetryBackoff: time.Millisecond, PollInterval: time.Millisecond}, &pubLog{})
	var hits int
	rdb.AddHook(failHook{key: h.st.sp.Inflight(), hits: &hits, mu: &sync.Mutex{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.st.evaluateLoop(ctx) }()

	h.fold("u1", events.TypeView, "")
	errs := h.st.m.errors
	testkit.WaitFor(t, 5*time.Second, func() error {
		if n := testutil.ToFloat64(errs.WithLabelValues("ack")); n < 1 {
			return fmt.Errorf("errors_total{stage=ack} = %v", n)
		}
		return nil
	})
	h.seg.mu.Lock()
	h.seg.fail = errors.New("model exploded")
	h.seg.mu.Unlock()
	h.fold("u3", events.TypeView, "")
	testkit.WaitFor(t, 10*time.Second, func() error {
		if n := testutil.ToFloat64(errs.WithLabelValues("handback")); n < 1 {
			return fmt.Errorf("errors_total{stage=handback} = %v, evaluate %v", n, testutil.ToFloat64(errs.WithLabelValues("evaluate")))
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the loop ended with %v, want the cancellation", err)
	}
}

// A fold in the same process wakes the evaluators: with a poll interval
// of a minute the label still comes after the coalesce window, not the
// next poll. (Other instances' folds are seen by polling.)
func TestFoldWakesEvaluators(t *testing.T) {
	h := newHarness(t, Config{NoEncoder: true, PollInterval: time.Minute, Coalesce: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.st.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	time.Sleep(100 * time.Millisecond) // the workers found the feed empty and wait
	h.fold("w1", events.TypeView, "")
	testkit.WaitFor(t, 10*time.Second, func() error {
		if r := h.record("w1"); r.Version != 1 {
			return fmt.Errorf("no label yet (version %d)", r.Version)
		}
		return nil
	})
}

// Segment sizes come from the registry of indexed segments, not a SCAN;
// indexes from before the registry are found once and registered.
func TestSegmentSizesFromTheIndexRegistry(t *testing.T) {
	h := newHarness(t, Config{NoEncoder: true})
	ctx := context.Background()
	h.fold("u1", events.TypeView, "")
	h.fold("u2", events.TypeView, "")
	h.fold("u2", events.TypePurchase, "")
	h.evaluate()
	reg := h.st.sp.Indexes()
	names, err := h.rdb.SMembers(ctx, reg).Result()
	sort.Strings(names)
	if err != nil || strings.Join(names, ",") != "buyer,visitor" {
		t.Fatalf("registry %v %v", names, err)
	}
	want := map[string]int64{"visitor": 2, "buyer": 1}
	sizes, err := h.st.SegmentSizes(ctx)
	if err != nil || !maps.Equal(sizes, want) {
		t.Fatalf("sizes %v %v, want %v", sizes, err, want)
	}
	// an index written before the registry existed
	if err := h.rdb.Del(ctx, reg).Err(); err != nil {
		t.Fatal(err)
	}
	if sizes, err := h.st.SegmentSizes(ctx); err != nil || !maps.Equal(sizes, want) {
		t.Fatalf("sizes without the registry %v %v", sizes, err)
	}
	if n, _ := h.rdb.SCard(ctx, reg).Result(); n != 2 {
		t.Fatalf("the scan registered %d segments, want 2", n)
	}
}

// A version evaluated while the one before it was being published carries
// that one's changes (they were unpublished when it was read); once the
// earlier version is marked published, publishing the later one sends only
// its own changes, so no change goes out twice without a crash.
func TestCarriedChangesPublishedOnce(t *testing.T) {
	h := newHarness(t, Config{NoEncoder: true})
	h.fold("u1", events.TypeView, "")
	h.evaluate() // v1: entered visitor
	h.fold("u1", events.TypePurchase, "")
	h.evaluate() // v2, read while v1 was unpublished: carries entered:visitor@1
	if r := h.record("u1"); changesOf(r.Changes) != "entered:visitor@1 entered:buyer@2" {
		t.Fatalf("v2 changes %s", changesOf(r.Changes))
	}
	// v1's publish ran meanwhile and was marked (as a concurrent round would)
	if err := h.rdb.HSet(context.Background(), h.st.sp.Label("u1"), "published", 1).Err(); err != nil {
		t.Fatal(err)
	}
	h.publishAll()
	pubs := h.log.all()
	if len(pubs) != 1 || pubs[0].Label.Version != 2 || changesOf(pubs[0].Changes) != "entered:buyer@2" {
		t.Fatalf("published %+v, want v2 with entered:buyer@2 alone", pubs)
	}
}

// A finished batch is acknowledged, and its flow counted, in the round trip
// of the next claim (workLoop): acknowledged before the claim, so a user
// folded again while in flight is claimed again and stays in flight; the
// counts are sent once.
func TestAckAndFlowGoWithTheNextClaim(t *testing.T) {
	h := newHarness(t, Config{NoEncoder: true})
	ctx := context.Background()
	q := h.st.sp.Queue(h.st.sp.Changes(), h.st.sp.Inflight())
	h.fold("u1", events.TypeView, "")
	h.fold("u2", events.TypeView, "")
	claims, err := q.Claim(ctx, "+inf", 10, time.Minute)
	if err != nil || len(claims) != 2 {
		t.Fatalf("claimed %d users (%v), want 2", len(claims), err)
	}
	after, err := h.st.evaluate(ctx, claims)
	if err != nil {
		t.Fatal(err)
	}
	if after == nil {
		t.Fatal("two users entered visitor: the batch must leave flow counts to send")
	}
	flow := func() int64 {
		t.Helper()
		hours, err := h.st.Flow(ctx, "visitor", day0, day0.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, fh := range hours {
			n += fh.Entered
		}
		return n
	}
	if n := flow(); n != 0 {
		t.Fatalf("flow counted %d entries before the next claim", n)
	}
	h.fold("u1", events.TypeView, "") // u1 is on the feed again while in flight
	next, err := h.st.claimAfter(ctx, q, claims, after, "+inf", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].User != "u1" {
		t.Fatalf("claimed %v, want u1 again", next)
	}
	inflight, err := h.rdb.ZRange(ctx, q.Inflight, 0, -1).Result()
	if err != nil || strings.Join(inflight, ",") != "u1" {
		t.Fatalf("in flight %v (%v): u2 acknowledged, u1 claimed again after its acknowledgement", inflight, err)
	}
	if n := flow(); n != 2 {
		t.Fatalf("flow counted %d entries, want 2", n)
	}
	// the second claim's batch: nothing entered, nothing more counted
	after, err = h.st.evaluate(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.claimAfter(ctx, q, next, after, "+inf", 10); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.rdb.ZCard(ctx, q.Inflight).Result(); n != 0 {
		t.Fatalf("%d users still in flight", n)
	}
	if n := flow(); n != 2 {
		t.Fatalf("flow counted %d entries after a batch without entries, want 2", n)
	}
}
