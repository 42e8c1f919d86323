package labelstage

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/segstream/segstream/keyspace"
)

// loop describes one work loop over a queue.
type loop struct {
	stage string
	q     keyspace.Queue
	batch int
	// delay: a user is due this long after its pending score (the
	// coalesce window of the change feed; 0 for the encode queue)
	delay time.Duration
	work  func(context.Context, []keyspace.Claim) (bookkeeping, error)
	// pace (may be nil) is told how long each successful batch took, after
	// its users are acknowledged, and may wait (the encoder's share)
	pace func(ctx context.Context, busy time.Duration)
	// wake is signalled when work may have arrived (a fold of this
	// process, an evaluation that queued encodes)
	wake <-chan struct{}
	// before (may be nil) runs before each claim (the encoder's yield)
	before func(ctx context.Context)
	// busy (may be nil) counts the batches of this loop in progress
	busy *atomic.Int32
}

// bookkeeping queues writes that follow a finished batch and need not
// delay it (the hourly flow counts of the label writes that won) on pipe;
// check, called once pipe has run, reports what failed. It is sent once,
// whatever happens: a lost count is allowed, a double count is not.
type bookkeeping func(ctx context.Context, pipe redis.Pipeliner) (check func())

// workLoop claims up to l.batch users of l.q that are due, runs l.work on
// them under the lease as deadline, and acknowledges them; on failure they
// go back to pending with their scores. Users of a worker that dies come
// back when the lease expires (scheduleLoop). With nothing due it waits
// until the oldest waiting user is, or until woken, or at most
// labels.poll_interval (other instances' folds are seen by polling).
//
// A finished batch's acknowledgement and bookkeeping go in the round trip
// of the next claim, which follows at once: a batch costs the claim, its
// reads and its writes, not two round trips more. (A loop that may wait
// between batches, the paced encoder, acknowledges at once.)
func (st *Stage) workLoop(ctx context.Context, l loop) error {
	q, stage, batch, work, pace := l.q, l.stage, l.batch, l.work, l.pace
	var acks []keyspace.Claim // finished: acknowledged with the next claim
	var after bookkeeping
	defer func() { // shutting down: what is owed goes out on its own
		if len(acks) > 0 || after != nil {
			fctx, cancel := context.WithTimeout(context.Background(), st.cfg.RetryBackoff+5*time.Second)
			defer cancel()
			st.settleBatch(fctx, q, acks, after)
		}
	}()
	for {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down (Run filters it)
		}
		if l.before != nil {
			l.before(ctx)
		}
		claims, err := st.claimAfter(ctx, q, acks, after, dueBy(time.Now(), l.delay), batch)
		acks, after = nil, nil
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: whatever Claim moved, the lease brings back
		}
		if err != nil {
			st.failed("claim", "claiming users failed", err, zap.String("queue", q.Pending))
			sleep(ctx, st.cfg.RetryBackoff)
			continue
		}
		if len(claims) == 0 {
			st.waitForWork(ctx, l)
			continue
		}
		// the batch in hand is finished on shutdown: its own deadline, not ctx
		wctx, cancel := context.WithTimeout(context.Background(), st.cfg.Lease)
		began := time.Now()
		if l.busy != nil {
			l.busy.Add(1)
		}
		keep, err := work(wctx, claims)
		if l.busy != nil {
			l.busy.Add(-1)
		}
		busy := time.Since(began)
		cancel()
		if err != nil {
			st.failed(stage, "work on claimed users failed; retrying them", err, zap.Int("users", len(claims)))
			sleep(ctx, st.cfg.RetryBackoff)
			st.handBack(ctx, q, claims)
			continue
		}
		acks, after = claims, keep
		if pace != nil || l.before != nil {
			st.settleBatch(context.Background(), q, acks, after)
			acks, after = nil, nil
		}
		if pace != nil {
			pace(ctx, busy)
		}
	}
}

// claimAfter claims like Queue.Claim, sending the acknowledgement of the
// previous batch (acks) and its bookkeeping first in the same pipeline:
// acknowledged before the claim, so a user queued again meanwhile and
// claimed by it stays in flight.
func (st *Stage) claimAfter(ctx context.Context, q keyspace.Queue, acks []keyspace.Claim, after bookkeeping, maxScore string, n int) ([]keyspace.Claim, error) {
	if len(acks) == 0 && after == nil {
		return q.Claim(ctx, maxScore, n, st.cfg.Lease)
	}
	pipe := st.rdb.Pipeline()
	settled := st.queueSettle(ctx, pipe, q, acks, after)
	claimed := q.QueueClaim(ctx, pipe, maxScore, n, st.cfg.Lease)
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	settled()
	claims, err := claimed()
	if retry, lerr := keyspace.Recover(ctx, st.rdb, err); retry && lerr == nil {
		return q.Claim(ctx, maxScore, n, st.cfg.Lease) // the scripts are back: claim alone
	}
	return claims, err
}

// settleBatch acknowledges a finished batch and sends its bookkeeping in
// a round trip of their own.
func (st *Stage) settleBatch(ctx context.Context, q keyspace.Queue, acks []keyspace.Claim, after bookkeeping) {
	pipe := st.rdb.Pipeline()
	settled := st.queueSettle(ctx, pipe, q, acks, after)
	if pipe.Len() == 0 {
		return
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read by settled
	settled()
}

// queueSettle queues the acknowledgement of acks and the bookkeeping
// after on pipe; the function it returns, called once pipe has run,
// reports what failed.
func (st *Stage) queueSettle(ctx context.Context, pipe redis.Pipeliner, q keyspace.Queue, acks []keyspace.Claim, after bookkeeping) func() {
	ack := q.QueueAck(ctx, pipe, acks)
	var check func()
	if after != nil {
		check = after(ctx, pipe)
	}
	return func() {
		if ack != nil {
			if err := ack.Err(); err != nil {
				// they stay in flight until the lease ends, then are looked at again
				st.failed("ack", "acknowledging finished users failed; the lease brings them back", err, zap.Int("users", len(acks)))
			}
		}
		if check != nil {
			check()
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

// dueBy is the claim bound: users whose pending score (unix ms) is at most
// now − delay.
func dueBy(now time.Time, delay time.Duration) string {
	if delay <= 0 {
		return "+inf"
	}
	return strconv.FormatInt(now.Add(-delay).UnixMilli(), 10)
}

// waitForWork waits until the oldest waiting user of l.q is due (one
// ZRANGE), until l.wake, or labels.poll_interval, whichever comes first.
func (st *Stage) waitForWork(ctx context.Context, l loop) {
	d := st.cfg.PollInterval
	if l.delay > 0 {
		zs, err := st.rdb.ZRangeWithScores(ctx, l.q.Pending, 0, 0).Result()
		if err == nil && len(zs) == 1 {
			due := time.UnixMilli(int64(zs[0].Score)).Add(l.delay)
			d = min(d, max(time.Until(due), time.Millisecond))
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-l.wake:
	case <-t.C:
	}
}

// waker wakes every waiting worker of one queue at once.
type waker struct {
	mu    sync.Mutex
	chans []chan struct{}
}

// add returns a channel that wake signals (a worker's own).
func (w *waker) add() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := make(chan struct{}, 1)
	w.chans = append(w.chans, c)
	return c
}

// wake signals every channel without blocking (a pending signal suffices).
func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.chans {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
