package labelstage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

// evaluateLoop labels changed users once they are older than the coalesce
// window.
func (st *Stage) evaluateLoop(ctx context.Context) error {
	return st.workLoop(ctx, loop{stage: "evaluate", q: st.sp.Queue(st.sp.Changes(), st.sp.Inflight()), batch: st.cfg.BatchSize,
		delay: st.cfg.Coalesce, work: st.evaluate, wake: st.evalWake.add(), busy: &st.evaluating})
}

// subject is one claimed user being evaluated.
type subject struct {
	c    keyspace.Claim
	p    *featurestore.Profile
	rec  label.Record
	embs []classifier.Embedding
	asOf time.Time
}

// evaluate labels a batch of claimed users: one round trip reads their
// profiles, label records and embeddings; the segmenter decides; label.Next
// versions; one batch writes (queue and outbox entries first, then the
// label records, compare-and-set on their versions, and the member index
// of each segment entered or left).
func (st *Stage) evaluate(ctx context.Context, claims []keyspace.Claim) (bookkeeping, error) {
	t0 := time.Now()
	users := usersOf(claims)
	pipe := st.rdb.Pipeline()
	clockOf := st.queueClock(ctx, pipe) // the clock with the reads: one round trip
	profs := st.store.QueueReads(ctx, pipe, users)
	labs := make([]*redis.MapStringStringCmd, len(claims))
	embs := make([]*redis.StringCmd, len(claims))
	for i, u := range users {
		labs[i] = pipe.HGetAll(ctx, st.sp.Label(u))
		if st.enc != nil {
			embs[i] = pipe.Get(ctx, st.sp.Embedding(u))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading %d users: %w", len(claims), err)
	}
	clock, err := clockOf()
	if err != nil {
		return nil, err
	}
	wb := st.sp.NewBatch(ctx)
	var subjects []*subject
	queuedEncodes, queuedOutbox := false, false
	for i, c := range claims {
		p, ok, err := profs.Profile(i)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // nothing to label: no profile, or erased
		}
		rec, err := parseForEvaluate(labs[i].Val())
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", c.User, err)
		}
		sj := &subject{c: c, p: p, rec: rec, asOf: clock}
		if lastSeen := time.Unix(p.LastSeen, 0).UTC(); sj.asOf.Before(lastSeen) {
			sj.asOf = lastSeen
		}
		if st.enc != nil && p.TextHash != 0 {
			eb, _ := embs[i].Bytes()
			er, ok := decodeEmbRecord(eb)
			if ok {
				sj.embs = er.embeddings() // current, or the previous text's until the new one is encoded
			}
			if ok && er.TextHash == p.TextHash && er.Sig == st.enc.Signature() {
				st.m.encodesSkipped.Inc()
			} else {
				wb.First(st.sp.Encode()).ZAddNX(ctx, st.sp.Encode(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: c.User})
				queuedEncodes = true
			}
		}
		subjects = append(subjects, sj)
	}
	nowUs := float64(time.Now().UnixMicro())
	model := st.seg.Model()
	var writes []written
	var newIndexes []string // segments whose index this process has not registered yet
	index := func(seg string) string {
		if _, ok := st.indexed.Load(seg); !ok && !slices.Contains(newIndexes, seg) {
			newIndexes = append(newIndexes, seg)
		}
		return st.sp.Members(seg)
	}
	for _, sj := range subjects {
		d, err := st.seg.Label(sj.p, featurestore.NewView(sj.p, sj.asOf), sj.embs, sj.rec.State, sj.asOf)
		if err != nil {
			return nil, fmt.Errorf("labelling %q: %w", sj.c.User, err)
		}
		st.m.evaluated.Inc()
		// time alone must be able to move the user: schedule the next look
		if silence := sj.asOf.Sub(time.Unix(sj.p.LastSeen, 0)); silence < st.cfg.DueHorizon {
			wb.First(st.sp.Due()).ZAdd(ctx, st.sp.Due(), redis.Z{Score: float64(sj.asOf.Add(st.cfg.DueStep).Unix()), Member: sj.c.User})
		}
		next, out := label.Next(sj.rec, sj.c.User, d, sj.asOf, model)
		if !out.Store() {
			continue
		}
		if out.Dropped > 0 {
			st.m.errors.WithLabelValues("changes_dropped").Add(float64(out.Dropped))
		}
		if out.NewVersion {
			// the outbox entry first: a crash after it and before the label
			// write leaves an entry the publisher finds already published
			wb.First(st.sp.Outbox()).ZAdd(ctx, st.sp.Outbox(), redis.Z{Score: nowUs, Member: sj.c.User})
			queuedOutbox = true
		}
		key := st.sp.Label(sj.c.User)
		if !out.NewVersion { // the state alone: the stored document stays as it is
			writes = append(writes, written{sj: sj, cmd: keyspace.LabelState.EvalSha(ctx, wb.Then(key), []string{key}, sj.rec.Version, next.State)})
			// a record of an earlier version may predate the member index:
			// add the user where it is missing
			if sj.rec.Doc != nil && d.Reindex {
				for _, seg := range sj.rec.Doc.Segments {
					mk := index(seg)
					wb.Then(mk).ZAddNX(ctx, mk, redis.Z{Score: float64(sj.asOf.Unix()), Member: sj.c.User})
				}
			}
			continue
		}
		args, err := casArgs(sj.rec.Version, next, st.cfg.History)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", sj.c.User, err)
		}
		writes = append(writes, written{sj: sj, cmd: keyspace.LabelCAS.EvalSha(ctx, wb.Then(key), []string{key, st.sp.History(sj.c.User)}, args...)})
		// the member index, in the same batch as the record it mirrors
		var old []string
		if sj.rec.Doc != nil {
			old = sj.rec.Doc.Segments
		}
		entered, exited := label.Diff(old, next.Doc.Segments)
		writes[len(writes)-1].entered, writes[len(writes)-1].exited = entered, exited
		for _, seg := range entered {
			mk := index(seg)
			wb.Then(mk).ZAdd(ctx, mk, redis.Z{Score: float64(sj.asOf.Unix()), Member: sj.c.User})
		}
		for _, seg := range exited {
			mk := st.sp.Members(seg)
			wb.Then(mk).ZRem(ctx, mk, sj.c.User)
		}
		if d.Reindex { // from before the index: the segments kept too
			for _, seg := range next.Doc.Segments {
				mk := index(seg)
				wb.Then(mk).ZAddNX(ctx, mk, redis.Z{Score: float64(sj.asOf.Unix()), Member: sj.c.User})
			}
		}
	}
	if len(newIndexes) > 0 {
		reg := st.sp.Indexes()
		wb.Then(reg).SAdd(ctx, reg, anySlice(newIndexes)...)
	}
	err = wb.Exec()
	if retry, lerr := keyspace.Recover(ctx, st.rdb, err); retry {
		if lerr != nil {
			return nil, lerr
		}
		return nil, errors.New("label scripts were not loaded; retrying") // nothing written under a stale version: the CAS guards it
	}
	if err != nil {
		return nil, fmt.Errorf("writing labels: %w", err)
	}
	for _, seg := range newIndexes {
		st.indexed.Store(seg, struct{}{})
	}
	if queuedEncodes {
		st.encodeWake.wake()
	}
	if queuedOutbox {
		st.publishWake.wake()
	}
	var conflicts []redis.Z
	for _, wr := range writes {
		if n, _ := wr.cmd.Int(); n != 1 {
			conflicts = append(conflicts, redis.Z{Score: float64(time.Now().UnixMilli()), Member: wr.sj.c.User})
			if len(wr.entered)+len(wr.exited) > 0 {
				st.repairIndex(ctx, wr.sj.c.User, append(wr.entered, wr.exited...))
			}
		}
	}
	if len(conflicts) > 0 {
		// another evaluator won (should not happen with claims): look again
		st.m.errors.WithLabelValues("label_conflict").Add(float64(len(conflicts)))
		if err := st.rdb.ZAddNX(ctx, st.sp.Changes(), conflicts...).Err(); err != nil {
			st.failed("requeue", "putting conflicting users back on the change feed failed", err, zap.Int("users", len(conflicts)))
		}
	}
	// event-to-label latency: every evaluated user's labels now reflect its
	// events up to the one that put it on the feed
	done := time.Now()
	for _, sj := range subjects {
		st.m.latency.Observe(done.Sub(sj.c.Since).Seconds())
	}
	st.m.evaluateSeconds.Observe(time.Since(t0).Seconds())
	// the flow counts go with the next claim (workLoop)
	return st.flowCounts(writes), nil
}

// flowCounts adds the entries and exits of the label writes that won their
// compare-and-set to each segment's hourly flow (nil: none). After the
// batch, not in it: a pipeline runs every command even when the script
// beside it failed (NOSCRIPT, a lost compare-and-set), and a retried batch
// would count twice. A crash before they are sent loses a count; nothing is
// counted twice.
func (st *Stage) flowCounts(writes []written) bookkeeping {
	type count struct {
		key, field string
	}
	var counts []count
	for _, wr := range writes {
		if len(wr.entered)+len(wr.exited) == 0 {
			continue
		}
		if won, _ := wr.cmd.Int(); won != 1 {
			continue
		}
		hour := strconv.FormatInt(wr.sj.asOf.Unix()-wr.sj.asOf.Unix()%3600, 10)
		for _, seg := range wr.entered {
			counts = append(counts, count{st.sp.Flow(seg), hour + ":e"})
		}
		for _, seg := range wr.exited {
			counts = append(counts, count{st.sp.Flow(seg), hour + ":x"})
		}
	}
	if len(counts) == 0 {
		return nil
	}
	return func(ctx context.Context, pipe redis.Pipeliner) func() {
		cmds := make([]*redis.IntCmd, len(counts))
		for i, c := range counts {
			cmds[i] = pipe.HIncrBy(ctx, c.key, c.field, 1)
		}
		return func() {
			for _, c := range cmds {
				if err := c.Err(); err != nil {
					st.failed("flow", "counting entries and exits failed", err, zap.Int("changes", len(counts)))
					return
				}
			}
		}
	}
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// written is one label write of an evaluation batch.
type written struct {
	sj              *subject
	cmd             *redis.Cmd
	entered, exited []string // member-index writes that went with it
}

// repairIndex puts a user's member-index entries for segs back in line
// with its stored label record, after member-index writes went out with a
// label write that lost its compare-and-set.
func (st *Stage) repairIndex(ctx context.Context, user string, segs []string) {
	m, err := st.rdb.HGetAll(ctx, st.sp.Label(user)).Result()
	if err == nil {
		var rec label.Record
		if rec, err = parseForEvaluate(m); err == nil {
			pipe := st.rdb.Pipeline()
			for _, seg := range segs {
				mk := st.sp.Members(seg)
				if rec.Doc != nil && !rec.Erased && slices.Contains(rec.Doc.Segments, seg) {
					pipe.ZAddNX(ctx, mk, redis.Z{Score: float64(time.Now().Unix()), Member: user})
				} else {
					pipe.ZRem(ctx, mk, user)
				}
			}
			_, err = pipe.Exec(ctx)
		}
	}
	if err != nil {
		st.failed("requeue", "repairing the member index after a label conflict failed", err, zap.String("user", user))
	}
}
