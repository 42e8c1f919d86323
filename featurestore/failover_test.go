package featurestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
)

// A master crashes (SIGKILL) while batches are being folded; its replica
// takes over. The folder retries a failed batch until it succeeds, as the
// consumer does before committing. With wait_replicas: 1 the promoted
// master needs a replica again before writes are accepted, so the crashed
// node is restarted (it rejoins as that replica). The profiles must equal
// ground truth at the end: nothing acknowledged was lost, nothing applied
// twice, and the per-master pipelines found the new master.
func TestFailoverLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own Redis Cluster")
	}
	oc := testkit.StartOwnCluster(t, 7121, 3, 1, time.Second)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: oc.Seeds, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, MaxRedirects: 8})
	defer func() { _ = cc.Close() }() // best effort: the test is over
	prefix := fmt.Sprintf("t-failover-%08x", rand.Uint32())
	s, err := featurestore.New(cc, featurestore.Config{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 500 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// the victim: the master holding the change feeds (both write phases cross it)
	feedMaster, err := cc.MasterForKey(ctx, s.Keys().Changes())
	if err != nil {
		t.Fatal(err)
	}
	victim := feedMaster.Options().Addr

	recs := records(12000, 400, "events.purchases/0", 11)
	const size = 400
	var failed int
	var killedAt, recovered time.Time
	start := time.Now()
	for i := 0; i*size < len(recs); i++ {
		batch := recs[i*size : min((i+1)*size, len(recs))]
		if i == 10 {
			oc.Kill(t, victim)
			killedAt = time.Now()
		}
		for attempt := 0; ; attempt++ {
			_, err := s.Fold(ctx, batch)
			if err == nil {
				break
			}
			failed++
			if attempt == 0 || attempt%20 == 0 {
				t.Logf("batch %d attempt %d: %v", i, attempt, err)
			}
			if failed == 15 {
				// the promoted replica has no replica of its own: bring
				// the crashed node back (it rejoins as one)
				oc.Restart(t, victim)
			}
			if time.Since(start) > 2*time.Minute || (!killedAt.IsZero() && time.Since(killedAt) > 45*time.Second) {
				// recovery takes about 17s here (failover, restart, resync);
				// without refreshing the cluster map after an error, ~60s
				t.Fatalf("batch %d still failing (%s after the crash): %v", i, time.Since(killedAt).Round(time.Second), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !killedAt.IsZero() && recovered.IsZero() && i >= 10 {
			recovered = time.Now()
		}
	}
	t.Logf("master %s killed; %d failed fold attempts; folding resumed %s after the crash", victim, failed, recovered.Sub(killedAt).Round(100*time.Millisecond))
	if failed == 0 {
		t.Fatal("no fold failed: the crash was not noticed")
	}
	assertEqualProfiles(t, s, truth(recs))
	users := map[string]bool{}
	for _, r := range recs {
		users[r.Event.UserID] = true
	}
	ch, err := s.PendingChanges(ctx, 10000)
	if err != nil || len(ch) != len(users) {
		t.Fatalf("change feed names %d users (%v), want %d", len(ch), err, len(users))
	}
}
