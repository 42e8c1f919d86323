package labelstage

import (
	"context"
	"strconv"
	"time"
)

// scheduleLoop, every labels.schedule_interval: refreshes the backlog
// (gauges and the intake gate), moves due users (their due time passed on
// the clock) and users whose lease expired back to the change feed, and
// expired encoder leases back to the encode queue.
func (st *Stage) scheduleLoop(ctx context.Context) error {
	t := time.NewTicker(st.cfg.ScheduleInterval)
	defer t.Stop()
	changes := st.sp.Queue(st.sp.Changes(), st.sp.Inflight())
	encode := st.sp.Queue(st.sp.Encode(), st.sp.Encoding())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		st.refreshBacklog(ctx)
		now := time.Now()
		if n, err := changes.Expire(ctx, now, 1000); err != nil {
			st.scheduleFailed(ctx, "requeueing users whose lease expired failed", err)
		} else {
			st.m.leaseExpired.Add(float64(n))
		}
		if n, err := encode.Expire(ctx, now, 1000); err != nil {
			st.scheduleFailed(ctx, "requeueing encoder users whose lease expired failed", err)
		} else {
			st.m.leaseExpired.Add(float64(n))
		}
		clock, err := st.clock(ctx)
		if err != nil {
			st.scheduleFailed(ctx, "reading the clock failed", err)
			continue
		}
		if clock.IsZero() {
			continue
		}
		n, err := st.sp.Move(ctx, st.sp.Due(), st.sp.Changes(), strconv.FormatInt(clock.Unix(), 10), 5000, float64(now.UnixMilli()))
		if err != nil {
			st.scheduleFailed(ctx, "requeueing due users failed", err)
			continue
		}
		st.m.due.Add(float64(n))
	}
}

func (st *Stage) scheduleFailed(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		st.failed("schedule", msg, err)
	}
}

// refreshBacklog reads the queue sizes (one round trip) for the gauges and
// the intake gate.
func (st *Stage) refreshBacklog(ctx context.Context) {
	n, err := st.sp.Sizes(ctx, st.sp.Changes(), st.sp.Encode(), st.sp.Outbox())
	if err != nil {
		if ctx.Err() == nil {
			st.failed("backlog", "reading the queue sizes failed", err)
		}
		return
	}
	changes, encode, outbox := n[0], n[1], n[2]
	st.m.outbox.Set(float64(outbox))
	st.m.encodeQueue.Set(float64(encode))
	st.m.backlog.Set(float64(changes + encode))
	st.backlog.Store(changes + encode)
}
