package keyspace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Durability says when a Batch counts as written.
type Durability struct {
	// WaitReplicas, when above 0, makes every Batch wait (Redis WAIT) until
	// that many replicas of each master written to hold it, at most
	// WaitTimeout; fewer fail the batch with ErrReplicas.
	WaitReplicas int
	WaitTimeout  time.Duration
}

// Space is the key space of one deployment on one Redis (a single server
// or a cluster): the key names and the primitives that write them.
type Space struct {
	Keys
	rdb         redis.UniversalClient
	dur         Durability
	onShortfall func()
}

// New returns the space under prefix on rdb. onShortfall (may be nil) is
// called whenever a WAIT comes back short of replicas.
func New(rdb redis.UniversalClient, prefix string, dur Durability, onShortfall func()) *Space {
	if dur.WaitTimeout <= 0 {
		dur.WaitTimeout = time.Second
	}
	if onShortfall == nil {
		onShortfall = func() {}
	}
	return &Space{Keys: NewKeys(prefix), rdb: rdb, dur: dur, onShortfall: onShortfall}
}

// Redis is the client the space writes through.
func (s *Space) Redis() redis.UniversalClient { return s.rdb }

// Durability is the space's write acknowledgement setting.
func (s *Space) Durability() Durability { return s.dur }

// Watermark returns the event-time clock: the newest event time folded so
// far (zero if none).
func (s *Space) Watermark(ctx context.Context) (time.Time, error) {
	v, err := s.rdb.ZScore(ctx, s.Clock(), "watermark").Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("keyspace: reading the event-time clock %s: %w", s.Clock(), err)
	}
	return time.Unix(int64(v), 0).UTC(), nil
}

// QueueWatermark queues the read of the event-time clock on a caller's
// pipeline (saving the round trip of Watermark); the returned function
// gives its value once the pipeline has run.
func (s *Space) QueueWatermark(ctx context.Context, pipe redis.Pipeliner) func() (time.Time, error) {
	cmd := pipe.ZScore(ctx, s.Clock(), "watermark")
	return func() (time.Time, error) {
		v, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("keyspace: reading the event-time clock %s: %w", s.Clock(), err)
		}
		return time.Unix(int64(v), 0).UTC(), nil
	}
}

// Sizes returns the member count of each sorted set in one round trip.
func (s *Space) Sizes(ctx context.Context, keys ...string) ([]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.ZCard(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("keyspace: counting %v: %w", keys, err)
	}
	out := make([]int64, len(keys))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// Pending counts the members of every shared queue (Keys.Queues).
func (s *Space) Pending(ctx context.Context) (int64, error) {
	sizes, err := s.Sizes(ctx, s.Queues()...)
	var n int64
	for _, v := range sizes {
		n += v
	}
	return n, err
}
