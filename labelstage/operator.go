package labelstage

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

// Label returns a user's current label document (nil when none yet) and
// whether the user is erased.
func (st *Stage) Label(ctx context.Context, user string) (*label.Doc, bool, error) {
	m, err := st.rdb.HGetAll(ctx, st.sp.Label(user)).Result()
	if err != nil {
		return nil, false, err
	}
	rec, err := parseRecord(m)
	return rec.Doc, rec.Erased, err
}

// Erase forgets a user: the profile becomes a tombstone that drops later
// events, the embedding goes, the label record is replaced by an erased
// marker with a new version, and the outbox publishes a tombstone on the
// labels topic.
func (st *Stage) Erase(ctx context.Context, user string) error {
	if err := st.store.Erase(ctx, user, time.Now()); err != nil {
		return err
	}
	for attempt := 0; attempt < 10; attempt++ {
		m, err := st.rdb.HGetAll(ctx, st.sp.Label(user)).Result()
		if err != nil {
			return err
		}
		rec, err := parseRecord(m)
		if err != nil {
			return err
		}
		args, err := casArgs(rec.Version, label.Erase(rec))
		if err != nil {
			return err
		}
		pipe := st.rdb.Pipeline()
		pipe.Del(ctx, st.sp.Embedding(user))
		pipe.ZRem(ctx, st.sp.Due(), user)
		pipe.ZRem(ctx, st.sp.Inflight(), user)
		pipe.ZAdd(ctx, st.sp.Outbox(), redis.Z{Score: float64(time.Now().UnixMicro()), Member: user})
		cmd := keyspace.LabelCAS.Eval(ctx, pipe, []string{st.sp.Label(user)}, args...)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		if n, _ := cmd.Int(); n == 1 {
			return nil
		}
	}
	return errors.New("labelstage: erase: the label record kept changing")
}

// Pending counts users waiting anywhere in the stage: the change feed,
// claimed, the encode queue, being encoded, or in the outbox.
func (st *Stage) Pending(ctx context.Context) (int64, error) { return st.sp.Pending(ctx) }

// PublishPending publishes a user's outbox entry now, if it has one (used
// by `segstream erase` so the tombstone goes out even when no service runs).
func (st *Stage) PublishPending(ctx context.Context, user string) error {
	score, err := st.rdb.ZScore(ctx, st.sp.Outbox(), user).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.pub == nil {
		return errors.New("labelstage: no publisher")
	}
	if err := st.LoadScripts(ctx); err != nil {
		return err
	}
	n, err := st.publish(ctx, []redis.Z{{Score: score, Member: user}})
	if err == nil && n == 0 {
		return errors.New("not published now (another instance holds the user); the outbox publishes it")
	}
	return err
}

// Backlog counts the users waiting for labels (the change feed, claimed,
// and the outbox) and, apart, those waiting for the encoder (interests).
func (st *Stage) Backlog(ctx context.Context) (labels, interests int64, err error) {
	n, err := st.sp.Sizes(ctx, st.sp.Changes(), st.sp.Inflight(), st.sp.Outbox(), st.sp.Encode(), st.sp.Encoding())
	if err != nil {
		return 0, 0, err
	}
	return n[0] + n[1] + n[2], n[3] + n[4], nil
}
