package labelstage

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
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
// marker with a new version (its history is deleted with it), and the
// outbox publishes a tombstone on the labels topic; the user leaves the
// member index of every segment.
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
		args, err := casArgs(rec.Version, label.Erase(rec), st.cfg.History)
		if err != nil {
			return err
		}
		pipe := st.rdb.Pipeline()
		pipe.Del(ctx, st.sp.Embedding(user))
		pipe.ZRem(ctx, st.sp.Due(), user)
		pipe.ZRem(ctx, st.sp.Inflight(), user)
		pipe.ZAdd(ctx, st.sp.Outbox(), redis.Z{Score: float64(time.Now().UnixMicro()), Member: user})
		cmd := keyspace.LabelCAS.Eval(ctx, pipe, []string{st.sp.Label(user), st.sp.History(user)}, args...)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		if n, _ := cmd.Int(); n == 1 {
			if rec.Doc == nil || len(rec.Doc.Segments) == 0 {
				return nil
			}
			pipe := st.rdb.Pipeline()
			for _, seg := range rec.Doc.Segments {
				pipe.ZRem(ctx, st.sp.Members(seg), user)
			}
			_, err := pipe.Exec(ctx)
			return err
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

// Subject is one user as a segment evaluation sees it: the profile, the
// current text embeddings (none without text) and the stored segment state.
type Subject struct {
	User    string
	Profile *featurestore.Profile
	Embs    []classifier.Embedding
	State   []byte
}

// EachSubject calls fn with every user that has a profile (not erased),
// in batches of up to 500, read in one round trip per batch; nothing is
// written. `segstream segments preview` evaluates definitions on them.
func (st *Stage) EachSubject(ctx context.Context, fn func([]Subject) error) error {
	keys := st.sp.Keys
	var users []string
	var mu sync.Mutex
	if err := keyspace.Scan(ctx, st.rdb, keys.ProfilePattern(), func(key string) error {
		if u, ok := keys.UserOfProfile(key); ok {
			mu.Lock()
			users = append(users, u)
			mu.Unlock()
		}
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(users)
	for len(users) > 0 {
		n := min(500, len(users))
		batch := users[:n]
		users = users[n:]
		pipe := st.rdb.Pipeline()
		profs := st.store.QueueReads(ctx, pipe, batch)
		states := make([]*redis.StringCmd, n)
		embs := make([]*redis.StringCmd, n)
		for i, u := range batch {
			states[i] = pipe.HGet(ctx, st.sp.Label(u), "state")
			embs[i] = pipe.Get(ctx, st.sp.Embedding(u))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		out := make([]Subject, 0, n)
		for i, u := range batch {
			p, ok, err := profs.Profile(i)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			sj := Subject{User: u, Profile: p}
			if b, err := states[i].Bytes(); err == nil {
				sj.State = b
			}
			if b, err := embs[i].Bytes(); err == nil {
				if r, ok := decodeEmbRecord(b); ok {
					sj.Embs = r.embeddings()
				}
			}
			out = append(out, sj)
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return nil
}

// Clock is the time labels are computed at now (labels.clock).
func (st *Stage) Clock(ctx context.Context) (time.Time, error) { return st.clock(ctx) }

// SegmentSize is the number of members in a segment's index.
func (st *Stage) SegmentSize(ctx context.Context, segment string) (int64, error) {
	return st.rdb.ZCard(ctx, st.sp.Members(segment)).Result()
}

// SegmentSizes counts the members of every segment with an index: the
// segments registered in Indexes, one ZCARD each. A deployment whose
// indexes predate the registry is scanned once and registered.
func (st *Stage) SegmentSizes(ctx context.Context) (map[string]int64, error) {
	keys := st.sp.Keys
	names, err := st.rdb.SMembers(ctx, keys.Indexes()).Result()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		var mu sync.Mutex
		if err := keyspace.Scan(ctx, st.rdb, keys.MembersPattern(), func(key string) error {
			if s, ok := keys.SegmentOfMembers(key); ok {
				mu.Lock()
				names = append(names, s)
				mu.Unlock()
			}
			return nil
		}); err != nil {
			return nil, err
		}
		if len(names) > 0 {
			if err := st.rdb.SAdd(ctx, keys.Indexes(), anySlice(names)...).Err(); err != nil {
				return nil, err
			}
		}
	}
	pipe := st.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(names))
	for i, n := range names {
		cmds[i] = pipe.ZCard(ctx, st.sp.Members(n))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make(map[string]int64, len(names))
	for i, n := range names {
		out[n] = cmds[i].Val()
	}
	return out, nil
}
