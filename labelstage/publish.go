package labelstage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

// outboxGrace is how long an outbox entry with nothing to publish is left
// alone: its label write may still be on the way (see publish).
const outboxGrace = 5 * time.Second

func (st *Stage) publishLoop(ctx context.Context) error {
	wake := st.publishWake.add()
	idle := func() { // until this process's evaluators add to the outbox, or the poll interval (other instances')
		t := time.NewTimer(st.cfg.PollInterval)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down (Run filters it)
		}
		zs, err := st.rdb.ZRangeWithScores(ctx, st.sp.Outbox(), 0, int64(st.cfg.PublishBatch-1)).Result()
		if ctx.Err() != nil {
			return ctx.Err() // shutting down (Run filters it)
		}
		if err != nil {
			st.failed("publish", "reading the outbox failed", err)
			sleep(ctx, st.cfg.RetryBackoff)
			continue
		}
		if len(zs) == 0 {
			idle()
			continue
		}
		// a round in hand is finished on shutdown: its own deadline
		wctx, cancel := context.WithTimeout(context.Background(), st.cfg.PublishTimeout)
		n, err := st.publish(wctx, zs)
		cancel()
		if err != nil {
			st.failed("publish", "publishing labels failed, retrying", err, zap.Int("users", len(zs)))
			sleep(ctx, st.cfg.RetryBackoff)
			continue
		}
		if n == 0 {
			sleep(ctx, st.cfg.PollInterval) // all locked by other instances
		}
	}
}

// publish sends the outbox entries' current documents and returns how many
// entries it settled.
//
// Order per user: one instance at a time publishes a user, under the
// user's publish lock, reading the latest version under the lock; the
// lock is renewed while the Kafka write runs and the write is waited for
// to its end, so no message of it can land after the lock is released,
// and the next holder's newer version goes out after it. A failed write's
// locks are left to expire (labels.lock_ttl) rather than released: a
// request the broker still holds has that long to land or die before any
// instance publishes a newer version.
func (st *Stage) publish(ctx context.Context, zs []redis.Z) (n int, err error) {
	users := make([]string, len(zs))
	byUser := make(map[string]redis.Z, len(zs))
	for i, z := range zs {
		users[i] = z.Member.(string)
		byUser[users[i]] = z
	}
	mine, err := st.locks.Acquire(ctx, users)
	if err != nil || len(mine) == 0 {
		return 0, err
	}
	stop := st.locks.KeepAlive(mine)
	published := false
	defer func() {
		if lerr := stop(); lerr != nil {
			st.failed("lock_lost", "a publish lock expired while publishing", lerr, zap.Int("users", len(mine)))
		}
		if err != nil && published {
			return // the write failed: leave the locks to expire (see above)
		}
		if uerr := st.locks.Release(context.Background(), mine); uerr != nil {
			st.failed("unlock", "releasing publish locks failed; they expire", uerr, zap.Int("users", len(mine)), zap.Duration("lock_ttl", st.cfg.LockTTL))
		}
	}()
	pipe := st.rdb.Pipeline()
	recs := make([]*redis.MapStringStringCmd, len(mine))
	for i, u := range mine {
		recs[i] = pipe.HGetAll(ctx, st.sp.Label(u))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("reading %d label records: %w", len(mine), err)
	}
	var pubs []label.Publication
	var done []settled
	young := float64(time.Now().Add(-outboxGrace).UnixMicro())
	for i, u := range mine {
		z := byUser[u]
		rec, err := parseRecord(recs[i].Val())
		if err != nil {
			return 0, fmt.Errorf("user %q: %w", u, err)
		}
		if !rec.Unpublished() || (rec.Doc == nil && !rec.Erased) {
			// Nothing new to publish: a crash after publishing, a duplicate
			// entry, or a label write still on its way (the evaluator adds
			// the entry before it writes the record, and other clients'
			// commands can come in between): leave young entries for later.
			if z.Score > young {
				continue
			}
			done = append(done, settled{z, rec.Version})
			continue
		}
		done = append(done, settled{z, rec.Version})
		if rec.Erased {
			pubs = append(pubs, label.Publication{UserID: u, Erased: true})
			continue
		}
		pubs = append(pubs, label.Publication{UserID: u, Label: rec.Doc, Changes: unpublished(rec)})
	}
	if len(pubs) > 0 {
		published = true
		// not cut short by ctx: see above (the producer bounds it)
		if err := st.pub.Publish(context.WithoutCancel(ctx), pubs); err != nil {
			return 0, err
		}
	}
	for _, p := range pubs {
		if p.Erased {
			st.m.tombstones.Inc()
			continue
		}
		st.m.published.Inc()
		for _, c := range p.Changes {
			st.m.changes.WithLabelValues(c.Segment, c.Change).Inc()
		}
	}
	if len(done) == 0 {
		return 0, nil
	}
	if err := st.settle(ctx, done); err != nil {
		// published but not marked: the entries stay and the versions go out
		// again (consumers de-duplicate by user and version)
		st.failed("published_mark", "marking users published failed; their versions will be published again", err, zap.Int("users", len(done)))
		return 0, nil
	}
	return len(done), nil
}

// unpublished are the record's changes of versions above its published
// one. A version carries the changes of the versions before it that were
// not yet published when it was evaluated; one of those may have been
// published since (its publish ran while this version was evaluated), and
// its changes are not sent twice.
func unpublished(rec label.Record) []label.Change {
	out := rec.Changes[:0:0]
	for _, c := range rec.Changes {
		if c.Version > rec.Published {
			out = append(out, c)
		}
	}
	return out
}

// settled is an outbox entry read (z) and the version found under the lock.
type settled struct {
	z   redis.Z
	ver int64
}

// settle raises each user's published version and removes its outbox entry
// unless a newer version renewed it (one round trip; reloading the scripts
// once on NOSCRIPT).
func (st *Stage) settle(ctx context.Context, done []settled) error {
	for attempt := 0; ; attempt++ {
		pipe := st.rdb.Pipeline()
		for _, d := range done {
			u := d.z.Member.(string)
			keyspace.MarkPublished.EvalSha(ctx, pipe, []string{st.sp.Label(u)}, d.ver)
			keyspace.OutboxDone.EvalSha(ctx, pipe, []string{st.sp.Outbox()}, u, strconv.FormatFloat(d.z.Score, 'f', -1, 64))
		}
		_, err := pipe.Exec(ctx)
		if retry, lerr := keyspace.Recover(ctx, st.rdb, err); retry && lerr == nil && attempt == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("marking %d users published: %w", len(done), err)
		}
		return nil
	}
}
