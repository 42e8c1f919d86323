package labelstage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/segstream/segstream/keyspace"
)

// RequestBackfill asks for every profiled user to be labelled again under
// the segment-definition set named version (the service calls it at start
// and whenever the definitions change). Requests coalesce: a running
// backfill is followed by one more for the newest version asked for.
func (st *Stage) RequestBackfill(version string) {
	st.backfillWant.Store(&version)
	select {
	case st.backfillKick <- struct{}{}:
	default:
	}
}

// backfillLoop runs the requested backfills one at a time; it also looks
// again every backfillRecheck, so a backfill whose instance died midway
// is taken over once its lock expires.
func (st *Stage) backfillLoop(ctx context.Context) error {
	t := time.NewTicker(backfillRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-st.backfillKick:
		case <-t.C:
		}
		v := st.backfillWant.Load()
		if v == nil {
			continue
		}
		n, err := st.Backfill(ctx, *v)
		switch {
		case err == nil:
			if n > 0 {
				st.evalWake.wake()
			}
		case errors.Is(err, errBackfillBusy), ctx.Err() != nil:
		default:
			st.failed("backfill", "backfill failed; retrying", err, zap.String("set_version", *v))
			sleep(ctx, st.cfg.RetryBackoff)
			st.RequestBackfill(*v)
		}
	}
}

// backfillRecheck is how often an instance checks that the newest
// definition set was backfilled; backfillLockTTL how long the instance
// running a backfill holds it.
var (
	backfillRecheck = 30 * time.Second
	backfillLockTTL = 10 * time.Minute
)

// errBackfillBusy: another instance runs the backfill.
var errBackfillBusy = errors.New("another instance runs this backfill")

// Backfill puts every user with a profile on the change feed, once per
// definition-set version across all instances: keyspace.Keys.BackfillMark
// holds the last version done, and the instance holding the backfill lock
// (SET NX with a TTL) does the next one, marking it done only once every
// profile was queued, so a backfill cut short by a crash is done again
// (the queueing is idempotent). The evaluators then label each user under
// the new definitions; entries and exits go out as for any other change.
// It returns how many users it queued (0 when the version was done), or
// errBackfillBusy while another instance holds the lock.
func (st *Stage) Backfill(ctx context.Context, version string) (int64, error) {
	prev, err := st.rdb.Get(ctx, st.sp.BackfillMark()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("backfill mark: %w", err)
	}
	if prev == version {
		return 0, nil
	}
	lock := st.sp.BackfillLock()
	got, err := st.rdb.SetNX(ctx, lock, st.owner, backfillLockTTL).Result()
	if err != nil {
		return 0, fmt.Errorf("backfill lock: %w", err)
	}
	if !got {
		return 0, errBackfillBusy
	}
	defer func() {
		// release only our own lock
		if v, _ := st.rdb.Get(context.WithoutCancel(ctx), lock).Result(); v == st.owner {
			st.rdb.Del(context.WithoutCancel(ctx), lock)
		}
	}()
	st.m.backfilling.Set(1)
	defer st.m.backfilling.Set(0)
	t0 := time.Now()
	st.log.Info("backfill started: every profile is labelled again", zap.String("set_version", version), zap.String("previous", prev))
	var queued int64
	batch := make([]redis.Z, 0, 1000)
	lastLog := t0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.rdb.ZAddNX(ctx, st.sp.Changes(), batch...).Err(); err != nil {
			return err
		}
		queued += int64(len(batch))
		st.m.backfilled.Add(float64(len(batch)))
		batch = batch[:0]
		st.evalWake.wake()
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			st.log.Info("backfill progress", zap.String("set_version", version), zap.Int64("queued", queued),
				zap.Float64("users_per_second", float64(queued)/time.Since(t0).Seconds()))
		}
		return nil
	}
	keys := st.sp.Keys
	// keyspace.Scan calls back from one goroutine per master: collect
	// under a channel so the batch has one writer
	users := make(chan string, 4096)
	scanErr := make(chan error, 1)
	go func() {
		defer close(users)
		scanErr <- keyspace.Scan(ctx, st.rdb, keys.ProfilePattern(), func(key string) error {
			if u, ok := keys.UserOfProfile(key); ok {
				select {
				case users <- u:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}()
	var werr error
	for u := range users {
		if werr != nil {
			continue // drain
		}
		batch = append(batch, redis.Z{Score: float64(time.Now().UnixMilli()), Member: u})
		if len(batch) == cap(batch) {
			werr = flush()
		}
	}
	if werr == nil {
		werr = flush()
	}
	if err := <-scanErr; err != nil {
		werr = err
	}
	if werr != nil {
		return queued, fmt.Errorf("backfill: %w", werr) // not marked: done again
	}
	if err := st.rdb.Set(ctx, st.sp.BackfillMark(), version, 0).Err(); err != nil {
		return queued, fmt.Errorf("backfill mark: %w", err)
	}
	st.log.Info("backfill queued every profile; the evaluators label them now", zap.String("set_version", version),
		zap.Int64("users", queued), zap.Duration("took", time.Since(t0)))
	return queued, nil
}
