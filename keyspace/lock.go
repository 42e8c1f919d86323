package keyspace

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Locker takes per-user locks (Keys.PublishLock) for one owner. A lock is
// SET NX with a TTL, so a dead owner's locks free themselves; it is
// released and renewed only by its owner (compare-and-delete,
// compare-and-expire), so an owner whose lock expired can never delete or
// extend its successor's. KeepAlive renews held locks while the work they
// guard runs, so a lock outlasts the operation however long it takes.
type Locker struct {
	s     *Space
	owner string
	ttl   time.Duration
}

// Locker returns a locker for owner (unique per process) with ttl.
func (s *Space) Locker(owner string, ttl time.Duration) *Locker {
	return &Locker{s: s, owner: owner, ttl: ttl}
}

// Owner is the locker's owner id.
func (l *Locker) Owner() string { return l.owner }

// TTL is the locks' time to live between renewals.
func (l *Locker) TTL() time.Duration { return l.ttl }

// Acquire tries to lock every user and returns those it locked.
func (l *Locker) Acquire(ctx context.Context, users []string) ([]string, error) {
	pipe := l.s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, len(users))
	for i, u := range users {
		cmds[i] = pipe.SetNX(ctx, l.s.PublishLock(u), l.owner, l.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("keyspace: taking %d publish locks: %w", len(users), err)
	}
	var got []string
	for i, u := range users {
		if ok, _ := cmds[i].Result(); ok {
			got = append(got, u)
		}
	}
	return got, nil
}

// Release deletes the owner's locks of users; a lock now owned by another
// instance (ours expired and was taken) is left alone.
func (l *Locker) Release(ctx context.Context, users []string) error {
	_, err := l.each(ctx, Unlock, users, l.owner)
	return err
}

// Extend renews the owner's locks of users to the TTL and returns those it
// no longer owns (expired, or taken by another instance).
func (l *Locker) Extend(ctx context.Context, users []string) (lost []string, err error) {
	return l.each(ctx, Extend, users, l.owner, l.ttl.Milliseconds())
}

// each runs a one-key lock script per user in a pipeline (reloading the
// scripts once on NOSCRIPT) and returns the users for which it returned 0.
func (l *Locker) each(ctx context.Context, sc *Script, users []string, args ...any) ([]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		pipe := l.s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(users))
		for i, u := range users {
			cmds[i] = sc.EvalSha(ctx, pipe, []string{l.s.PublishLock(u)}, args...)
		}
		_, err := pipe.Exec(ctx)
		if retry, lerr := Recover(ctx, l.s.rdb, err); retry && lerr == nil && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("keyspace: %s of %d publish locks: %w", sc.Name, len(users), err)
		}
		var zero []string
		for i, u := range users {
			if n, _ := cmds[i].Int(); n == 0 {
				zero = append(zero, u)
			}
		}
		return zero, nil
	}
}

// KeepAlive renews the owner's locks of users every TTL/3 until stop is
// called. stop returns nil, or the first renewal failure: an error
// wrapping ErrLockLost when a lock was gone, or the Redis error when
// renewal failed for longer than the TTL (the locks may have expired).
func (l *Locker) KeepAlive(users []string) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure error
	)
	fail := func(err error) {
		mu.Lock()
		if failure == nil {
			failure = err
		}
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := max(l.ttl/3, time.Millisecond)
		t := time.NewTicker(every)
		defer t.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, every)
			lost, err := l.Extend(rctx, users)
			rcancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				if time.Since(lastOK) >= l.ttl {
					fail(err)
				}
			case len(lost) > 0:
				fail(fmt.Errorf("%w: %d of %d users (first %q)", ErrLockLost, len(lost), len(users), lost[0]))
				users = without(users, lost)
				lastOK = time.Now()
			default:
				lastOK = time.Now()
			}
		}
	}()
	return func() error {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return failure
	}
}

func without(users, drop []string) []string {
	gone := make(map[string]bool, len(drop))
	for _, u := range drop {
		gone[u] = true
	}
	out := users[:0:0]
	for _, u := range users {
		if !gone[u] {
			out = append(out, u)
		}
	}
	return out
}
