package keyspace

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Queue is a per-user work queue: users wait in Pending (scored by when
// they became due, unix ms) and move to Inflight (scored by their lease
// deadline, unix ms) while a worker has them. A user is in the queue at
// most once (sorted sets), so the queue is bounded by the number of users.
// A worker that dies leaves its users in Inflight until Expire brings them
// back.
type Queue struct {
	s                 *Space
	Pending, Inflight string
}

// Queue returns the queue of two keys of the space (both {feed} keys).
func (s *Space) Queue(pending, inflight string) Queue {
	return Queue{s: s, Pending: pending, Inflight: inflight}
}

// Claim is one user taken from a queue.
type Claim struct {
	User  string
	Since time.Time // the user's pending score: for the change feed, the Kafka time of its oldest unprocessed event
}

// Claim moves up to n users whose pending score is at most maxScore (a
// Redis score bound: a number, "+inf", or "(" before a number) to Inflight
// with the lease deadline now+lease, and returns them.
func (q Queue) Claim(ctx context.Context, maxScore string, n int, lease time.Duration) ([]Claim, error) {
	return q.claims(ClaimScript.Run(ctx, q.s.rdb, []string{q.Pending, q.Inflight}, maxScore, n, time.Now().Add(lease).UnixMilli()))
}

// QueueClaim queues Claim on pipe (by SHA: a NOSCRIPT answer is for
// Recover) and returns how to read its result once pipe has run. The
// queue's other writes (an Ack of the previous batch) go in the same round
// trip.
func (q Queue) QueueClaim(ctx context.Context, pipe redis.Pipeliner, maxScore string, n int, lease time.Duration) func() ([]Claim, error) {
	cmd := ClaimScript.EvalSha(ctx, pipe, []string{q.Pending, q.Inflight}, maxScore, n, time.Now().Add(lease).UnixMilli())
	return func() ([]Claim, error) { return q.claims(cmd) }
}

func (q Queue) claims(cmd *redis.Cmd) ([]Claim, error) {
	res, err := cmd.StringSlice()
	if err != nil {
		return nil, fmt.Errorf("keyspace: claiming from %s: %w", q.Pending, err)
	}
	claims := make([]Claim, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		ms, err := strconv.ParseFloat(res[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("keyspace: claiming from %s: score %q of %q: %w", q.Pending, res[i+1], res[i], err)
		}
		claims = append(claims, Claim{User: res[i], Since: time.UnixMilli(int64(ms))})
	}
	return claims, nil
}

// Ack removes finished users from Inflight.
func (q Queue) Ack(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	if err := q.s.rdb.ZRem(ctx, q.Inflight, members(claims)...).Err(); err != nil {
		return fmt.Errorf("keyspace: acknowledging %d users of %s: %w", len(claims), q.Inflight, err)
	}
	return nil
}

// QueueAck queues Ack on pipe (nil for no claims).
func (q Queue) QueueAck(ctx context.Context, pipe redis.Pipeliner, claims []Claim) *redis.IntCmd {
	if len(claims) == 0 {
		return nil
	}
	return pipe.ZRem(ctx, q.Inflight, members(claims)...)
}

// Release hands claimed users back to Pending with their scores (keeping a
// score already there) and off Inflight, in one transaction.
func (q Queue) Release(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	back := make([]redis.Z, len(claims))
	for i, c := range claims {
		back[i] = redis.Z{Score: float64(c.Since.UnixMilli()), Member: c.User}
	}
	pipe := q.s.rdb.TxPipeline()
	pipe.ZAddNX(ctx, q.Pending, back...)
	pipe.ZRem(ctx, q.Inflight, members(claims)...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("keyspace: handing %d users back to %s: %w", len(claims), q.Pending, err)
	}
	return nil
}

// Expire moves up to limit users whose lease ended by now back to Pending
// (scored now) and returns how many.
func (q Queue) Expire(ctx context.Context, now time.Time, limit int) (int, error) {
	return q.s.Move(ctx, q.Inflight, q.Pending, strconv.FormatInt(now.UnixMilli(), 10), limit, float64(now.UnixMilli()))
}

// Move moves up to limit members scored at most maxScore from the sorted
// set from to the sorted set to with score (NX: an existing score in to
// stays), atomically, and returns how many moved. Both keys must share a
// hash tag.
func (s *Space) Move(ctx context.Context, from, to, maxScore string, limit int, score float64) (int, error) {
	n, err := MoveScript.Run(ctx, s.rdb, []string{from, to}, maxScore, limit, score).Int()
	if err != nil {
		return 0, fmt.Errorf("keyspace: moving members of %s to %s: %w", from, to, err)
	}
	return n, nil
}

func members(claims []Claim) []any {
	out := make([]any, len(claims))
	for i, c := range claims {
		out[i] = c.User
	}
	return out
}
