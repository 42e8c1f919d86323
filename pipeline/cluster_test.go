package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
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
		_ = featurestore.DeletePrefix(context.Background(), cc, prefix)
		_ = cc.Close()
	})
	s := startService(t, addr, prefix, "cluster",
		"SEGSTREAM_REDIS_ADDRS="+strings.Join(addrs, ","), "SEGSTREAM_REDIS_CLUSTER=true", "SEGSTREAM_FEATURESTORE_WAIT_REPLICAS=1")

	evs := retailSlice(t, 500)
	want := map[string][events.NumTypes]uint64{}
	for _, e := range evs {
		c := want[e.UserID]
		c[e.Type]++
		want[e.UserID] = c
	}
	sendEvents(t, addr, evs...)
	ctx := context.Background()
	waitAllLabelled(t, s, want)
	for u, c := range want {
		p, err := s.Store.Get(ctx, u)
		if err != nil {
			t.Fatalf("profile of %s: %v", u, err)
		}
		if p.Counts != c {
			t.Fatalf("profile of %s counts %v, sent %v", u, p.Counts, c)
		}
	}
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
	if err := featurestore.DeletePrefix(ctx, cc, prefix); err != nil {
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
