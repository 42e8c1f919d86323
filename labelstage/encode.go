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
	return st.workLoop(ctx, loop{stage: "encode", q: st.sp.Queue(st.sp.Encode(), st.sp.Encoding()), batch: st.cfg.EncodeBatch,
		work: st.encode, pace: st.paceEncoder, wake: st.encodeWake.add()})
}

// paceEncoder keeps the encoder within labels.encode_share of wall time.
func (st *Stage) paceEncoder(ctx context.Context, busy time.Duration) {
	if share := st.cfg.EncodeShare; share < 1 {
		sleep(ctx, time.Duration(float64(busy)*(1-share)/share))
	}
}

func (st *Stage) encode(ctx context.Context, claims []keyspace.Claim) error {
	users := usersOf(claims)
	pipe := st.rdb.Pipeline()
	profs := st.store.QueueReads(ctx, pipe, users)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("reading %d profiles: %w", len(users), err)
	}
	var ids, texts []string
	var hashes []uint64
	for i, u := range users {
		p, ok, err := profs.Profile(i)
		if err != nil {
			return err
		}
		if !ok || p.TextHash == 0 {
			continue
		}
		ts := make([]string, len(p.Texts))
		for j, t := range p.Texts {
			ts[j] = t.Text
		}
		ids = append(ids, u)
		texts = append(texts, st.enc.ProfileText(ts))
		hashes = append(hashes, p.TextHash)
	}
	if len(texts) == 0 {
		return nil
	}
	t0 := time.Now()
	vecs, err := st.enc.Encode(ctx, texts)
	if err != nil {
		return fmt.Errorf("encoding %d profile texts: %w", len(texts), err)
	}
	st.m.encodeSeconds.Observe(time.Since(t0).Seconds())
	st.m.encodes.Add(float64(len(texts)))
	nowMs := float64(time.Now().UnixMilli())
	// the embeddings first, then the users back on the change feed: the
	// evaluator must not take a user before its new embedding is there
	wb := st.sp.NewBatch(ctx)
	back := make([]redis.Z, len(ids))
	for i, u := range ids {
		wb.First(st.sp.Embedding(u)).Set(ctx, st.sp.Embedding(u), encodeEmb(hashes[i], st.enc.ModelVersion(), vecs[i]), 0)
		back[i] = redis.Z{Score: nowMs, Member: u}
	}
	wb.Then(st.sp.Changes()).ZAddNX(ctx, st.sp.Changes(), back...)
	if err := wb.Exec(); err != nil {
		return err
	}
	st.evalWake.wake() // due after the coalesce window: the evaluators wait for it
	return nil
}
