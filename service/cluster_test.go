package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
)

// The whole service on a Redis Cluster of three masters with a replica
// each, every batch waiting for its replicas: profiles land on every node
// and equal the events sent, every user is labelled and the
// queues drain, erase works, and the prefix can be deleted from every node.
func TestRedisClusterEndToEnd(t *testing.T) {
	testkit.NeedModels(t)
	addrs := testkit.RedisClusterAddrs(t)
	addr := testkit.Kafka(t, 3)
	prefix := fmt.Sprintf("t-cluster-%08x", rand.Uint32())
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() {
		_ = keyspace.DeletePrefix(context.Background(), cc, prefix)
		_ = cc.Close()
	})
	s := startService(t, addr, prefix, "cluster",
		"SEGSTREAM_REDIS_ADDRS="+strings.Join(addrs, ","), "SEGSTREAM_REDIS_CLUSTER=true", "SEGSTREAM_FEATURESTORE_WAIT_REPLICAS=1")

	evs := retailSlice(t, 500)
	want := countsByUser(evs)
	sendEvents(t, addr, evs...)
	ctx := context.Background()
	waitAllLabelled(t, s, want)
	checkCounts(t, s, want)
	perNode := countPerMaster(t, cc, prefix)
	if len(perNode) != len(addrs) {
		t.Fatalf("keys on %d masters, want all %d: %v", len(perNode), len(addrs), perNode)
	}
	docs, _ := checkLabelTopics(t, addr)
	if len(docs) != len(want) {
		t.Fatalf("labels topic has %d users, want %d", len(docs), len(want))
	}

	var gone string
	for u := range want {
		gone = u
		break
	}
	if err := s.Labels.Erase(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.Get(ctx, gone); err == nil {
		t.Fatal("erased profile still readable")
	}
	if d, erased, _ := s.Labels.Label(ctx, gone); d != nil || !erased {
		t.Fatalf("label after erase: %+v erased=%v", d, erased)
	}
	t.Logf("%d users, keys per master %v", len(want), perNode)

	s.stop(t)
	if err := keyspace.DeletePrefix(ctx, cc, prefix); err != nil {
		t.Fatal(err)
	}
	if left := countPerMaster(t, cc, prefix); len(left) != 0 {
		t.Fatalf("keys left after DeletePrefix: %v", left)
	}
}

// countPerMaster counts the keys under prefix on each master that has any.
func countPerMaster(t *testing.T, cc *redis.ClusterClient, prefix string) map[string]int {
	t.Helper()
	out := map[string]int{}
	ch := make(chan [2]any, 16)
	err := cc.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		n := 0
		iter := node.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		if n > 0 {
			ch <- [2]any{node.Options().Addr, n}
		}
		return iter.Err()
	})
	close(ch)
	if err != nil {
		t.Fatal(err)
	}
	for kv := range ch {
		out[kv[0].(string)] = kv[1].(int)
	}
	return out
}

// The service through a Redis failover: the master holding the shared
// queues and feeds is SIGKILLed mid-stream, its replica takes over, the
// crashed node comes back as the new master's replica. Every user ends
// labelled, profiles equal the events sent, and the label topics stay
// consistent (no two documents under one version).
func TestServiceThroughRedisFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own Redis Cluster")
	}
	testkit.NeedModels(t)
	oc := testkit.StartOwnCluster(t, 7131, 3, 1, time.Second)
	addr := testkit.Kafka(t, 3)
	prefix := fmt.Sprintf("t-fo-%08x", rand.Uint32())
	s := startService(t, addr, prefix, "failover",
		"SEGSTREAM_REDIS_ADDRS="+strings.Join(oc.Seeds, ","), "SEGSTREAM_REDIS_CLUSTER=true",
		"SEGSTREAM_REDIS_TIMEOUT=2s", "SEGSTREAM_FEATURESTORE_WAIT_REPLICAS=1", "SEGSTREAM_FEATURESTORE_WAIT_TIMEOUT=500ms")

	evs := retailSlice(t, 800)
	want := countsByUser(evs)
	half := len(evs) / 2
	sendEvents(t, addr, evs[:half]...)
	testkit.WaitFor(t, 60*time.Second, func() error {
		if n := metric(t, s.Registry, "segstream_featurestore_events_total"); n < float64(half) {
			return fmt.Errorf("%v of %d events folded", n, half)
		}
		return nil
	})

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: oc.Seeds})
	defer func() { _ = cc.Close() }() // best effort: the test is over
	feedMaster, err := cc.MasterForKey(context.Background(), s.Store.Keys().Changes())
	if err != nil {
		t.Fatal(err)
	}
	victim := feedMaster.Options().Addr
	oc.Kill(t, victim)
	t0 := time.Now()
	sendEvents(t, addr, evs[half:]...)
	time.Sleep(3 * time.Second) // the replica is promoted meanwhile
	oc.Restart(t, victim)       // and needs a replica of its own for WAIT 1

	waitAllLabelled(t, s, want)
	t.Logf("killed %s; all %d users labelled %s after the crash", victim, len(want), time.Since(t0).Round(100*time.Millisecond))
	checkCounts(t, s, want)
	docs, _ := checkLabelTopics(t, addr)
	if len(docs) != len(want) {
		t.Fatalf("labels topic has %d users, want %d", len(docs), len(want))
	}
}

// countsByUser counts the events sent per user and type.
func countsByUser(evs []*events.Event) map[string][events.NumTypes]uint64 {
	want := map[string][events.NumTypes]uint64{}
	for _, e := range evs {
		c := want[e.UserID]
		c[e.Type]++
		want[e.UserID] = c
	}
	return want
}

// checkCounts compares every user's profile counts with the events sent.
func checkCounts(t *testing.T, s *svc, want map[string][events.NumTypes]uint64) {
	t.Helper()
	for u, c := range want {
		p, err := s.Store.Get(context.Background(), u)
		if err != nil {
			t.Fatalf("profile of %s: %v", u, err)
		}
		if p.Counts != c {
			t.Fatalf("profile of %s counts %v, sent %v", u, p.Counts, c)
		}
	}
}
