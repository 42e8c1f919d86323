package labelstage

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/segstream/segstream/keyspace"
)

// workLoop claims up to batch users of q whose pending score is at most
// maxScore(now), runs work on them under the lease as deadline, and
// acknowledges them; on failure they go back to pending with their scores.
// Users of a worker that dies come back when the lease expires
// (scheduleLoop).
//
// pace (may be nil) is told how long each successful batch took, after its
// users are acknowledged, and may wait (the encoder's share of the CPU).
func (st *Stage) workLoop(ctx context.Context, stage string, q keyspace.Queue, batch int, maxScore func(time.Time) string,
	work func(context.Context, []keyspace.Claim) error, pace func(ctx context.Context, busy time.Duration)) error {
	for {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down (Run filters it)
		}
		claims, err := q.Claim(ctx, maxScore(time.Now()), batch, st.cfg.Lease)
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: whatever Claim moved, the lease brings back
		}
		if err != nil {
			st.failed("claim", "claiming users failed", err, zap.String("queue", q.Pending))
			sleep(ctx, st.cfg.RetryBackoff)
			continue
		}
		if len(claims) == 0 {
			sleep(ctx, st.cfg.PollInterval)
			continue
		}
		// the batch in hand is finished on shutdown: its own deadline, not ctx
		wctx, cancel := context.WithTimeout(context.Background(), st.cfg.Lease)
		began := time.Now()
		err = work(wctx, claims)
		busy := time.Since(began)
		cancel()
		if err != nil {
			st.failed(stage, "work on claimed users failed; retrying them", err, zap.Int("users", len(claims)))
			sleep(ctx, st.cfg.RetryBackoff)
			st.handBack(ctx, q, claims)
			continue
		}
		if err := q.Ack(context.Background(), claims); err != nil {
			// they stay in flight until the lease ends, then are looked at again
			st.failed("ack", "acknowledging finished users failed; the lease brings them back", err, zap.Int("users", len(claims)))
		}
		if pace != nil {
			pace(ctx, busy)
		}
	}
}

// handBack returns claimed users to their queue. Redis itself may be what
// failed (a failover): it keeps trying rather than leave them to the
// lease, up to 30 tries or shutdown, then the lease brings them back.
func (st *Stage) handBack(ctx context.Context, q keyspace.Queue, claims []keyspace.Claim) {
	for attempt := 1; ; attempt++ {
		err := q.Release(context.Background(), claims)
		if err == nil {
			return
		}
		if ctx.Err() != nil || attempt == 30 {
			st.failed("handback", "handing users back failed; the lease brings them back", err,
				zap.Int("users", len(claims)), zap.Int("attempts", attempt), zap.Duration("lease", st.cfg.Lease))
			return
		}
		sleep(ctx, st.cfg.RetryBackoff)
	}
}

// usersOf lists the claimed users in claim order.
func usersOf(claims []keyspace.Claim) []string {
	users := make([]string, len(claims))
	for i, c := range claims {
		users[i] = c.User
	}
	return users
}
