package labelstage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/keyspace"
)

// encodeLoop re-encodes queued users' profile texts in batches, stores the
// embeddings beside the profiles, and puts the users back on the change
// feed so their labels (interests) use the new embedding.
func (st *Stage) encodeLoop(ctx context.Context) error {
	l := loop{stage: "encode", q: st.sp.Queue(st.sp.Encode(), st.sp.Encoding()), batch: st.cfg.EncodeBatch,
		work: func(ctx context.Context, claims []keyspace.Claim) (bookkeeping, error) {
			return nil, st.encode(ctx, claims)
		},
		wake: st.encodeWake.add()}
	// only when configured: a loop that may wait between batches
	// acknowledges each at once instead of with the next claim
	if st.cfg.EncodeShare < 1 {
		l.pace = st.paceEncoder
	}
	if st.cfg.EncodeYield > 0 {
		l.before = st.yieldToLabels
	}
	return st.workLoop(ctx, l)
}

// yieldToLabels waits, before an encoder call, while this process's
// evaluators are labelling, at most labels.encode_yield.
func (st *Stage) yieldToLabels(ctx context.Context) {
	if st.cfg.EncodeYield <= 0 {
		return
	}
	deadline := time.Now().Add(st.cfg.EncodeYield)
	for st.evaluating.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, time.Millisecond)
	}
}

// paceEncoder keeps the encoder within labels.encode_share of wall time.
func (st *Stage) paceEncoder(ctx context.Context, busy time.Duration) {
	if share := st.cfg.EncodeShare; share < 1 {
		sleep(ctx, time.Duration(float64(busy)*(1-share)/share))
	}
}

// encode embeds the claimed users' profile texts: each text goes to the
// model of its language (Encoder.Parts), a part whose text did not change
// keeps its stored vector, and the rest are encoded in one batch per model.
func (st *Stage) encode(ctx context.Context, claims []keyspace.Claim) error {
	users := usersOf(claims)
	pipe := st.rdb.Pipeline()
	profs := st.store.QueueReads(ctx, pipe, users)
	olds := make([]*redis.StringCmd, len(users))
	for i, u := range users {
		olds[i] = pipe.Get(ctx, st.sp.Embedding(u))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("reading %d profiles: %w", len(users), err)
	}
	type pending struct{ user, part int }
	var ids []string
	var recs []embRecord
	todo := map[string][]pending{} // by model
	var texts = map[string][]string{}
	var models []string
	for i, u := range users {
		p, ok, err := profs.Profile(i)
		if err != nil {
			return err
		}
		if !ok || p.TextHash == 0 {
			continue
		}
		old, _ := olds[i].Bytes()
		prev, _ := decodeEmbRecord(old)
		ts := make([]string, len(p.Texts))
		langs := make([]string, len(p.Texts))
		for j, t := range p.Texts {
			ts[j], langs[j] = t.Text, t.Lang
		}
		rec := embRecord{TextHash: p.TextHash, Sig: st.enc.Signature()}
		for _, part := range st.enc.Parts(ts, langs) {
			h := partHash(part.Text)
			v, kept := prev.part(part.Model, h)
			rec.Parts = append(rec.Parts, embPart{Model: part.Model, Hash: h, Vector: v})
			if !kept {
				if _, seen := todo[part.Model]; !seen {
					models = append(models, part.Model)
				}
				todo[part.Model] = append(todo[part.Model], pending{len(recs), len(rec.Parts) - 1})
				texts[part.Model] = append(texts[part.Model], part.Text)
			}
		}
		ids = append(ids, u)
		recs = append(recs, rec)
	}
	if len(ids) == 0 {
		return nil
	}
	t0 := time.Now()
	n := 0
	for _, model := range models {
		vecs, err := st.enc.Encode(ctx, model, texts[model])
		if err != nil {
			return fmt.Errorf("encoding %d profile texts with %s: %w", len(texts[model]), model, err)
		}
		for k, pd := range todo[model] {
			recs[pd.user].Parts[pd.part].Vector = vecs[k]
		}
		n += len(vecs)
	}
	if n > 0 {
		st.m.encodeSeconds.Observe(time.Since(t0).Seconds())
		st.m.encodes.Add(float64(n))
	}
	nowMs := float64(time.Now().UnixMilli())
	// the embeddings first, then the users back on the change feed: the
	// evaluator must not take a user before its new embedding is there
	wb := st.sp.NewBatch(ctx)
	back := make([]redis.Z, len(ids))
	for i, u := range ids {
		wb.First(st.sp.Embedding(u)).Set(ctx, st.sp.Embedding(u), encodeEmbRecord(recs[i]), 0)
		back[i] = redis.Z{Score: nowMs, Member: u}
	}
	wb.Then(st.sp.Changes()).ZAddNX(ctx, st.sp.Changes(), back...)
	if err := wb.Exec(); err != nil {
		return err
	}
	st.evalWake.wake() // due after the coalesce window: the evaluators wait for it
	return nil
}
