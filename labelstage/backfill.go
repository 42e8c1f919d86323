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

// backfillLoop runs the requested backfills one at a time.
func (st *Stage) backfillLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-st.backfillKick:
		}
		v := st.backfillWant.Load()
		if v == nil {
			continue
		}
		for {
			n, err := st.Backfill(ctx, *v)
			if err == nil || ctx.Err() != nil {
				if err == nil && n > 0 {
					st.evalWake.wake()
				}
				break
			}
			st.failed("backfill", "backfill failed; retrying", err, zap.String("set_version", *v))
			sleep(ctx, st.cfg.RetryBackoff)
		}
	}
}

// Backfill puts every user with a profile on the change feed, once per
// definition-set version across all instances (the first to swap the
// version into keyspace.Keys.BackfillMark does it): the evaluators then
// label each under the new definitions, and entries and exits go out as
// for any other change. It returns how many users it queued (0 when the
// version was already backfilled).
func (st *Stage) Backfill(ctx context.Context, version string) (int64, error) {
	prev, err := st.rdb.SetArgs(ctx, st.sp.BackfillMark(), version, redis.SetArgs{Get: true}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("backfill mark: %w", err)
	}
	if prev == version {
		return 0, nil
	}
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
		// let the next attempt (or instance) run it again
		st.rdb.Del(context.WithoutCancel(ctx), st.sp.BackfillMark())
		return queued, fmt.Errorf("backfill: %w", werr)
	}
	st.log.Info("backfill queued every profile; the evaluators label them now", zap.String("set_version", version),
		zap.Int64("users", queued), zap.Duration("took", time.Since(t0)))
	return queued, nil
}
