package labelstage

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/events"
)

// A backfill queues every profile once per set version; while another
// instance holds the lock nothing happens and the version is not marked
// done, so it is done once the lock is gone (a crashed instance's expires).
func TestBackfillOncePerVersionAndTakeover(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	for _, u := range []string{"a", "b", "c"} {
		h.fold(u, events.TypeView, "")
	}
	if err := h.rdb.Del(ctx, h.st.sp.Changes()).Err(); err != nil { // as if labelled
		t.Fatal(err)
	}
	if err := h.rdb.Set(ctx, h.st.sp.BackfillLock(), "another-instance", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := h.st.Backfill(ctx, "v1"); !errors.Is(err, errBackfillBusy) || n != 0 {
		t.Fatalf("with the lock held elsewhere: %d, %v", n, err)
	}
	if m, _ := h.rdb.Get(ctx, h.st.sp.BackfillMark()).Result(); m != "" {
		t.Fatalf("marked %q without a backfill", m)
	}
	h.rdb.Del(ctx, h.st.sp.BackfillLock()) // the other instance's lock expired
	n, err := h.st.Backfill(ctx, "v1")
	if err != nil || n != 3 {
		t.Fatalf("backfill: %d, %v", n, err)
	}
	if q, _ := h.rdb.ZCard(ctx, h.st.sp.Changes()).Result(); q != 3 {
		t.Fatalf("%d users on the change feed, want 3", q)
	}
	if m, _ := h.rdb.Get(ctx, h.st.sp.BackfillMark()).Result(); m != "v1" {
		t.Fatalf("marker %q", m)
	}
	if l, _ := h.rdb.Exists(ctx, h.st.sp.BackfillLock()).Result(); l != 0 {
		t.Fatal("lock not released")
	}
	if n, err := h.st.Backfill(ctx, "v1"); err != nil || n != 0 {
		t.Fatalf("the same version again: %d, %v", n, err)
	}
	if n, err := h.st.Backfill(ctx, "v2"); err != nil || n != 3 {
		t.Fatalf("a new version: %d, %v", n, err)
	}
}

// After a lost compare-and-set, the member index of the segments the
// loser wrote is put back in line with the stored record.
func TestRepairIndexFollowsTheStoredRecord(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	if err := h.rdb.HSet(ctx, h.st.sp.Label("u"), "ver", "2", "doc", `{"user_id":"u","version":2,"segments":["a"]}`).Err(); err != nil {
		t.Fatal(err)
	}
	// the loser had written: entered b, exited a
	h.rdb.ZAdd(ctx, h.st.sp.Members("b"), redis.Z{Score: 1, Member: "u"})
	h.st.repairIndex(ctx, "u", []string{"b", "a"})
	if s, _ := h.rdb.ZScore(ctx, h.st.sp.Members("a"), "u").Result(); s == 0 {
		t.Error("u is not back in a")
	}
	if n, _ := h.rdb.ZCard(ctx, h.st.sp.Members("b")).Result(); n != 0 {
		t.Error("u still in b")
	}
}
