package keyspace_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
)

// The contract every Redis deployment segstream supports must meet: the
// same suite runs on the single server, on the Redis Cluster and on the
// replicated pair (with WAIT) that make test starts.
func TestContract(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		rdb, prefix := testkit.Redis(t)
		contract(t, rdb, prefix, keyspace.Durability{})
	})
	t.Run("cluster", func(t *testing.T) {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testkit.RedisClusterAddrs(t)})
		prefix := fmt.Sprintf("t-contract-%08x", rand.Uint32())
		t.Cleanup(func() {
			if err := keyspace.DeletePrefix(context.Background(), cc, prefix); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			_ = cc.Close() // best effort: the test is over
		})
		contract(t, cc, prefix, keyspace.Durability{WaitReplicas: 1, WaitTimeout: 2 * time.Second})
	})
	t.Run("replicated", func(t *testing.T) {
		master, _ := testkit.RedisReplicated(t)
		rdb := redis.NewClient(&redis.Options{Addr: master})
		prefix := fmt.Sprintf("t-contract-%08x", rand.Uint32())
		t.Cleanup(func() {
			if err := keyspace.DeletePrefix(context.Background(), rdb, prefix); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			_ = rdb.Close() // best effort: the test is over
		})
		contract(t, rdb, prefix, keyspace.Durability{WaitReplicas: 1, WaitTimeout: 2 * time.Second})
	})
}

func contract(t *testing.T, rdb redis.UniversalClient, prefix string, dur keyspace.Durability) {
	ctx := context.Background()
	var shortfalls atomic.Int64
	sp := keyspace.New(rdb, prefix, dur, func() { shortfalls.Add(1) })
	if err := keyspace.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}

	t.Run("keys of a user share a slot, shared queues share one", func(t *testing.T) {
		cc, ok := rdb.(*redis.ClusterClient)
		if !ok {
			t.Skip("slots exist on a cluster only")
		}
		slot := func(k string) int64 { return cc.ClusterKeySlot(ctx, k).Val() }
		for _, u := range []string{"17850", "user:with:colons", "ü"} {
			s := slot(sp.Profile(u))
			for _, k := range []string{sp.Label(u), sp.Embedding(u), sp.PublishLock(u)} {
				if slot(k) != s {
					t.Errorf("%s is in slot %d, the profile %s in %d", k, slot(k), sp.Profile(u), s)
				}
			}
		}
		s := slot(sp.Changes())
		for _, k := range append(sp.Queues(), sp.Clock(), sp.Due()) {
			if slot(k) != s {
				t.Errorf("%s is in slot %d, the change feed in %d", k, slot(k), s)
			}
		}
	})

	t.Run("NOSCRIPT is recovered on every server", func(t *testing.T) {
		err := keyspace.EachServer(ctx, rdb, func(ctx context.Context, c *redis.Client) error { return c.ScriptFlush(ctx).Err() })
		if err != nil {
			t.Fatal(err)
		}
		run := func() ([]*redis.Cmd, error) {
			pipe := rdb.Pipeline()
			var cmds []*redis.Cmd
			for i := range 20 {
				k := sp.Profile(fmt.Sprint("ns", i))
				cmds = append(cmds, keyspace.ProfileCAS.EvalSha(ctx, pipe, []string{k}, "", "rev-0001record"))
			}
			_, err := pipe.Exec(ctx)
			return cmds, err
		}
		_, err = run()
		if !keyspace.IsNoScript(err) {
			t.Fatalf("after SCRIPT FLUSH: %v, want NOSCRIPT", err)
		}
		if retry, lerr := keyspace.Recover(ctx, rdb, err); !retry || lerr != nil {
			t.Fatalf("Recover = %v, %v", retry, lerr)
		}
		cmds, err := run()
		if err != nil {
			t.Fatalf("after Recover: %v", err)
		}
		for _, c := range cmds {
			if n, _ := c.Int(); n != 1 {
				t.Fatalf("compare-and-set on a new key: %d", n)
			}
		}
		if retry, _ := keyspace.Recover(ctx, rdb, errors.New("ERR other")); retry {
			t.Fatal("Recover took another error for NOSCRIPT")
		}
	})

	t.Run("batch: first phase before then, acknowledged by replicas", func(t *testing.T) {
		b := sp.NewBatch(ctx)
		var users []string
		for i := range 50 {
			u := fmt.Sprint("b", i)
			users = append(users, u)
			b.First(sp.Profile(u)).Set(ctx, sp.Profile(u), "x", 0)
		}
		zs := make([]redis.Z, len(users))
		for i, u := range users {
			zs[i] = redis.Z{Score: 1, Member: u}
		}
		b.Then(sp.Changes()).ZAdd(ctx, sp.Changes(), zs...)
		if err := b.Exec(); err != nil {
			t.Fatal(err)
		}
		if n, _ := rdb.ZCard(ctx, sp.Changes()).Result(); n != int64(len(users)) {
			t.Fatalf("change feed has %d users", n)
		}
		if _, isCluster := rdb.(*redis.ClusterClient); isCluster && b.RoundTrips() != 2 {
			t.Errorf("%d round trips on a cluster, want 2 (one per phase)", b.RoundTrips())
		} else if !isCluster && b.RoundTrips() != 1 {
			t.Errorf("%d round trips on one server, want 1", b.RoundTrips())
		}
		if dur.WaitReplicas > 0 && shortfalls.Load() != 0 {
			t.Errorf("%d replica shortfalls with healthy replicas", shortfalls.Load())
		}
		rdb.Del(ctx, sp.Changes())
	})

	t.Run("queue: claim, ack, release, expire", func(t *testing.T) {
		q := sp.Queue(sp.Changes(), sp.Inflight())
		for i := range 10 {
			rdb.ZAdd(ctx, q.Pending, redis.Z{Score: float64(1000 + i), Member: fmt.Sprint("q", i)})
		}
		claims, err := q.Claim(ctx, "1004", 3, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) != 3 || claims[0].User != "q0" || claims[0].Since.UnixMilli() != 1000 || claims[2].User != "q2" {
			t.Fatalf("claims %+v", claims)
		}
		more, _ := q.Claim(ctx, "1004", 10, time.Minute)
		if len(more) != 2 {
			t.Fatalf("second claim took %d users, want the 2 left at or below 1004", len(more))
		}
		if err := q.Ack(ctx, claims[:1]); err != nil {
			t.Fatal(err)
		}
		if err := q.Release(ctx, claims[1:]); err != nil {
			t.Fatal(err)
		}
		if s, _ := rdb.ZScore(ctx, q.Pending, "q1").Result(); s != 1001 {
			t.Errorf("released user scored %v, want its original 1001", s)
		}
		if n, _ := rdb.ZCard(ctx, q.Inflight).Result(); n != 2 {
			t.Errorf("%d in flight, want the 2 of the second claim", n)
		}
		// a lease in the past: the worker died
		short, _ := q.Claim(ctx, "+inf", 1, -time.Second)
		n, err := q.Expire(ctx, time.Now(), 100)
		if err != nil || n != 1 {
			t.Fatalf("expired %d (%v), want the 1 with a past lease", n, err)
		}
		if _, err := rdb.ZScore(ctx, q.Pending, short[0].User).Result(); err != nil {
			t.Errorf("expired user %s not back in the queue: %v", short[0].User, err)
		}
		// Move keeps a score already there (NX)
		rdb.ZAdd(ctx, sp.Due(), redis.Z{Score: 5, Member: "q9"}, redis.Z{Score: 5, Member: "d1"}, redis.Z{Score: 50, Member: "d2"})
		if n, err := sp.Move(ctx, sp.Due(), q.Pending, "10", 100, 7); err != nil || n != 2 {
			t.Fatalf("moved %d (%v), want 2 due by 10", n, err)
		}
		if s, _ := rdb.ZScore(ctx, q.Pending, "q9").Result(); s != 1009 {
			t.Errorf("Move replaced a waiting user's score: %v", s)
		}
		if s, _ := rdb.ZScore(ctx, q.Pending, "d1").Result(); s != 7 {
			t.Errorf("moved user scored %v, want 7", s)
		}
		rdb.Del(ctx, q.Pending, q.Inflight, sp.Due())
	})

	t.Run("lock: only the owner releases or extends", func(t *testing.T) {
		a := sp.Locker("owner-a", 200*time.Millisecond)
		b := sp.Locker("owner-b", 10*time.Second)
		users := []string{"l1", "l2", "l3"}
		got, err := a.Acquire(ctx, users)
		if err != nil || len(got) != 3 {
			t.Fatalf("a acquired %v (%v)", got, err)
		}
		if got, _ := b.Acquire(ctx, users); len(got) != 0 {
			t.Fatalf("b took locks a holds: %v", got)
		}
		// a stalls past its TTL; b takes the locks; a's late release must
		// leave b's alone (it deleted them with a plain DEL before)
		time.Sleep(300 * time.Millisecond)
		if got, _ := b.Acquire(ctx, users); len(got) != 3 {
			t.Fatalf("b could not take expired locks: %v", got)
		}
		if err := a.Release(ctx, users); err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if v, _ := rdb.Get(ctx, sp.PublishLock(u)).Result(); v != "owner-b" {
				t.Fatalf("after a's late release the lock of %s is %q, want owner-b's", u, v)
			}
		}
		if lost, err := a.Extend(ctx, users); err != nil || len(lost) != 3 {
			t.Fatalf("a extended b's locks: lost %v (%v)", lost, err)
		}
		if err := b.Release(ctx, users); err != nil {
			t.Fatal(err)
		}
		if n, _ := rdb.Exists(ctx, sp.PublishLock("l1")).Result(); n != 0 {
			t.Fatal("the owner's release left the lock")
		}
		// KeepAlive holds a lock well past its TTL
		if got, _ := a.Acquire(ctx, users[:1]); len(got) != 1 {
			t.Fatal("a could not lock")
		}
		stop := a.KeepAlive(users[:1])
		time.Sleep(600 * time.Millisecond)
		if got, _ := b.Acquire(ctx, users[:1]); len(got) != 0 {
			t.Fatal("a lock kept alive expired")
		}
		if err := stop(); err != nil {
			t.Fatalf("keep-alive: %v", err)
		}
		// a lock taken away while kept alive is reported lost
		stop = a.KeepAlive(users[:1])
		rdb.Set(ctx, sp.PublishLock("l1"), "intruder", time.Minute)
		time.Sleep(200 * time.Millisecond)
		if err := stop(); !errors.Is(err, keyspace.ErrLockLost) {
			t.Fatalf("keep-alive of a lost lock: %v, want ErrLockLost", err)
		}
		rdb.Del(ctx, sp.PublishLock("l1"))
	})

	t.Run("delete prefix reaches every server", func(t *testing.T) {
		for i := range 30 {
			rdb.Set(ctx, sp.Profile(fmt.Sprint("del", i)), "x", 0)
		}
		if err := keyspace.DeletePrefix(ctx, rdb, prefix); err != nil {
			t.Fatal(err)
		}
		var left []string
		_ = keyspace.Scan(ctx, rdb, sp.AllPattern(), func(k string) error { left = append(left, k); return nil })
		if len(left) != 0 {
			t.Fatalf("%d keys left, e.g. %s", len(left), strings.Join(left[:min(3, len(left))], " "))
		}
	})
}

func TestKeys(t *testing.T) {
	k := keyspace.NewKeys("")
	if k.Profile("u1") != "seg:{u1}:p" || k.Changes() != "seg:{feed}:changes" || k.ProfilePattern() != "seg:{*}:p" {
		t.Fatalf("key names changed: %s %s %s (they are the stored layout)", k.Profile("u1"), k.Changes(), k.ProfilePattern())
	}
	if u, ok := k.UserOfProfile(k.Profile("a:b")); !ok || u != "a:b" {
		t.Fatalf("UserOfProfile = %q, %v", u, ok)
	}
	for _, bad := range []string{"a{b", "a*", "a b", "x]"} {
		if keyspace.ValidatePrefix(bad) == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}
