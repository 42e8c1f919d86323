package featurestore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
)

// With wait_replicas a batch is written only when the replica has it: a
// stalled replica fails the fold (nothing lost: the retry after it wakes
// applies nothing twice), and after a successful fold the replica already
// holds every profile.
func TestWaitReplicasSingleServer(t *testing.T) {
	master, replica := testkit.RedisReplicated(t)
	rdb := redis.NewClient(&redis.Options{Addr: master})
	rep := redis.NewClient(&redis.Options{Addr: replica})
	prefix := fmt.Sprintf("t-wait-%08x", rand.Uint32())
	t.Cleanup(func() {
		_ = keyspace.DeletePrefix(context.Background(), rdb, prefix)
		_ = rdb.Close() // best effort: the test is over
		_ = rep.Close() // best effort: the test is over
	})
	s, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 300 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	recs := records(600, 50, "events.purchases/0", 3)

	if _, err := s.Fold(ctx, recs[:300]); err != nil {
		t.Fatal(err)
	}
	want := truth(recs[:300])
	for id := range want {
		// read from the replica right after the fold returned: WAIT made sure it is there
		if n, err := rep.Exists(ctx, s.Keys().Profile(id)).Result(); err != nil || n != 1 {
			t.Fatalf("replica lacks %s right after the fold (%v)", s.Keys().Profile(id), err)
		}
	}

	woke := testkit.StallReplica(t, replica, 1500*time.Millisecond)
	t0 := time.Now()
	_, err = s.Fold(ctx, recs[300:])
	if !errors.Is(err, keyspace.ErrReplicas) {
		t.Fatalf("fold with a stalled replica: %v, want ErrReplicas", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("the failed fold took %s, want about the 300ms wait timeout", d)
	}
	<-woke
	// the consumer retries the batch: already-applied events are skipped
	res, err := s.Fold(ctx, recs[300:])
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied+res.SkippedOffset != 300 {
		t.Fatalf("retry: %+v", res)
	}
	assertEqualProfiles(t, s, truth(recs))
}

// On Redis Cluster WAIT goes to each master written to, on the connection
// that wrote: a stalled replica fails exactly the batches that wrote to its
// master.
func TestWaitReplicasCluster(t *testing.T) {
	addrs := testkit.RedisClusterAddrs(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	prefix := fmt.Sprintf("t-waitc-%08x", rand.Uint32())
	t.Cleanup(func() {
		_ = keyspace.DeletePrefix(context.Background(), cc, prefix)
		_ = cc.Close() // best effort: the test is over
	})
	ctx := context.Background()
	s, err := featurestore.New(cc, featurestore.Config{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 300 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the master of the change feeds, and users by the master of their profile
	feedMaster, err := cc.MasterForKey(ctx, s.Keys().Changes())
	if err != nil {
		t.Fatal(err)
	}
	recs := records(2000, 300, "events.purchases/1", 4)
	byMaster := map[string][]events.Record{}
	masters := map[string]*redis.Client{}
	for _, r := range recs {
		m, err := cc.MasterForKey(ctx, s.Keys().Profile(r.Event.UserID))
		if err != nil {
			t.Fatal(err)
		}
		a := m.Options().Addr
		masters[a] = m
		byMaster[a] = append(byMaster[a], r)
	}
	var other string // a master that does not hold the feeds
	for a := range byMaster {
		if a != feedMaster.Options().Addr {
			other = a
			break
		}
	}
	if len(byMaster) != 3 || other == "" {
		t.Fatalf("users spread over %d masters", len(byMaster))
	}
	var rest []events.Record // users of the masters other than 'other'
	for a, rs := range byMaster {
		if a != other {
			rest = append(rest, rs...)
		}
	}

	// one event first: the scripts get loaded on every master and the
	// client learns the cluster while all nodes answer
	if _, err := s.Fold(ctx, rest[:1]); err != nil {
		t.Fatal(err)
	}
	woke := testkit.StallReplica(t, testkit.ReplicaOf(t, masters[other]), 2*time.Second)
	// users whose masters' replicas are fine: written
	if _, err := s.Fold(ctx, rest); err != nil {
		t.Fatalf("fold not touching the stalled replica's master: %v", err)
	}
	// users on the master whose replica stalls: refused
	if _, err := s.Fold(ctx, byMaster[other]); !errors.Is(err, keyspace.ErrReplicas) || !containsAddr(err, other) {
		t.Fatalf("fold on %s with its replica stalled: %v, want ErrReplicas naming it", other, err)
	}
	<-woke
	if _, err := s.Fold(ctx, byMaster[other]); err != nil {
		t.Fatal(err)
	}
	// same records, different batch order: compare per user with the truth
	// of each user's own records in order
	assertEqualProfiles(t, s, truth(rest, byMaster[other]))
}

func containsAddr(err error, addr string) bool {
	return err != nil && addr != "" && strings.Contains(err.Error(), addr)
}
