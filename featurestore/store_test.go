package featurestore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
)

func records(n, users int, source string, seed uint64) []events.Record {
	r := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]events.Record, n)
	for i := range out {
		ev := &events.Event{EventID: fmt.Sprintf("%s-%d", source, i), UserID: fmt.Sprint("u", r.IntN(users)), TS: base.Add(time.Duration(r.IntN(5000)) * time.Hour)}
		if r.IntN(3) == 0 {
			ev.Type, ev.OrderID, ev.Currency = events.TypePurchase, "o", "GBP"
			ev.Items = []events.Item{{ProductID: "p", Description: fmt.Sprint("ITEM ", r.IntN(30)), Quantity: int64(1 + r.IntN(4)), UnitPrice: 1.25}}
		} else {
			ev.Type, ev.ProductID, ev.Category, ev.Price = events.TypeView, "p", fmt.Sprint("c", r.IntN(5)), 2
		}
		out[i] = events.Record{Event: ev, Source: source, Offset: int64(i)}
	}
	return out
}

// truth folds records in memory, once each, in order.
func truth(recs ...[]events.Record) map[string]*featurestore.Profile {
	out := map[string]*featurestore.Profile{}
	for _, rs := range recs {
		for _, r := range rs {
			p := out[r.Event.UserID]
			if p == nil {
				p = &featurestore.Profile{}
				out[r.Event.UserID] = p
			}
			p.Apply(r.Event, featurestore.MarkOf(r), featurestore.DefaultLimits)
		}
	}
	return out
}

func assertEqualProfiles(t *testing.T, s *featurestore.Store, want map[string]*featurestore.Profile) {
	t.Helper()
	for id, w := range want {
		got, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("user %s: %v", id, err)
		}
		got.Rev, w.Rev = 0, 0
		if !reflect.DeepEqual(featurestore.Marshal(got), featurestore.Marshal(w)) {
			t.Fatalf("user %s differs from ground truth:\n got %+v\nwant %+v", id, got, w)
		}
	}
}

func TestFoldIdempotentUnderRedelivery(t *testing.T) {
	for _, cache := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache=%v", cache == 0), func(t *testing.T) {
			rdb, prefix := testkit.Redis(t)
			s, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix, CacheBytes: cache}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			recs := records(3000, 200, "events.clickstream/0", 1)
			res, err := s.Fold(ctx, recs[:2000])
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied != 2000 {
				t.Fatalf("applied %d", res.Applied)
			}
			// the same batch again (a rebalance redelivers it)
			res, err = s.Fold(ctx, recs[:2000])
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied != 0 || res.SkippedOffset != 2000 {
				t.Fatalf("redelivery applied %d, skipped %d", res.Applied, res.SkippedOffset)
			}
			// crash between fold and commit: the next owner restarts from the
			// last commit (offset 1000) and overlaps what was folded.
			fresh, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
			res, err = fresh.Fold(ctx, recs[1000:])
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied != 1000 || res.SkippedOffset != 1000 {
				t.Fatalf("after crash: applied %d skipped %d", res.Applied, res.SkippedOffset)
			}
			// a producer retry: same event_id at a new offset
			dup := recs[2999]
			dup.Offset = 5000
			res, _ = fresh.Fold(ctx, []events.Record{dup})
			if res.SkippedDupID != 1 {
				t.Fatalf("duplicate event_id not dropped: %+v", res)
			}
			assertEqualProfiles(t, s, truth(recs))
			ch, err := s.PendingChanges(ctx, 1000)
			if err != nil || len(ch) != 200 {
				t.Fatalf("change feed has %d users (%v), want 200", len(ch), err)
			}
		})
	}
}

// Two writers fold different partitions' events for the same users at the
// same time (their partitions owned by different instances): the
// compare-and-set makes sure no update is lost.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	// few users in small batches: conflicts on most writes; many users in
	// large batches: a batch's compare-and-sets span several script calls
	// (casChunk), and the conflicts fall in any of them
	t.Run("20 users, 100 events a batch", func(t *testing.T) { concurrentWriters(t, 20, 100) })
	t.Run("600 users, 1000 events a batch", func(t *testing.T) { concurrentWriters(t, 600, 1000) })
}

func concurrentWriters(t *testing.T, users, batch int) {
	rdb, prefix := testkit.Redis(t)
	a, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	b, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	ra := records(4000, users, "events.clickstream/0", 2)
	rb := records(4000, users, "events.purchases/0", 3)
	var wg sync.WaitGroup
	var conflicts int
	var mu sync.Mutex
	for _, job := range []struct {
		s    *featurestore.Store
		recs []events.Record
	}{{a, ra}, {b, rb}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(job.recs); i += batch {
				res, err := job.s.Fold(context.Background(), job.recs[i:i+batch])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				conflicts += res.Conflicts
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("compare-and-set conflicts retried: %d", conflicts)
	if conflicts == 0 {
		t.Fatal("no compare-and-set conflict: the test did not race the writers")
	}
	for id := range truth(ra, rb) {
		p, err := a.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var want uint64
		for _, r := range append(append([]events.Record(nil), ra...), rb...) {
			if r.Event.UserID == id {
				want++
			}
		}
		var got uint64
		for _, c := range p.Counts {
			got += c
		}
		if got != want {
			t.Fatalf("user %s: %d events folded, want %d", id, got, want)
		}
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	s, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	rdb.Set(context.Background(), s.Keys().Profile("u0"), "not a profile", 0)
	_, err := s.Fold(context.Background(), records(1, 1, "t/0", 1)[:1])
	if err == nil {
		t.Fatal("folding onto a corrupt record succeeded")
	}
	t.Log(err)
}

func BenchmarkFold(b *testing.B) {
	rdb, prefix := testkit.Redis(b)
	for _, users := range []int{100, 2000} {
		b.Run(fmt.Sprintf("batch=2000/users=%d", users), func(b *testing.B) {
			s, _ := featurestore.New(rdb, featurestore.Config{Prefix: fmt.Sprint(prefix, users)}, nil, nil)
			defer testkit.DeletePrefix(rdb, fmt.Sprint(prefix, users))
			recs := records(2000*b.N, users, "t/0", 9)
			b.ReportAllocs()
			b.ResetTimer()
			rt := 0
			for i := 0; i < b.N; i++ {
				res, err := s.Fold(context.Background(), recs[i*2000:(i+1)*2000])
				if err != nil {
					b.Fatal(err)
				}
				rt += res.RoundTrips
			}
			b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(rt)/float64(2000*b.N), "roundtrips/event")
		})
	}
}

func TestEraseKeepsUserGoneAndClockAdvances(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	s, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	ctx := context.Background()
	recs := records(200, 5, "events.clickstream/0", 4)
	if _, err := s.Fold(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for _, r := range recs {
		if r.Event.TS.After(newest) {
			newest = r.Event.TS
		}
	}
	if w, err := s.Watermark(ctx); err != nil || !w.Equal(newest) {
		t.Fatalf("watermark %s (%v), want %s", w, err, newest)
	}
	if err := s.Erase(ctx, "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "u1"); !errors.Is(err, featurestore.ErrErased) {
		t.Fatalf("Get after erase: %v", err)
	}
	// replay everything under a new source (offsets do not protect it)
	again := records(200, 5, "replayed/0", 4)
	res, err := s.Fold(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	var u1 int
	for _, r := range again {
		if r.Event.UserID == "u1" {
			u1++
		}
	}
	if res.SkippedErased != u1 || u1 == 0 {
		t.Fatalf("skipped %d erased events, want %d", res.SkippedErased, u1)
	}
	if _, err := s.Get(ctx, "u1"); !errors.Is(err, featurestore.ErrErased) {
		t.Fatalf("user came back: %v", err)
	}
	raw, _ := rdb.Get(ctx, s.Keys().Profile("u1")).Bytes()
	p, _ := featurestore.Unmarshal(raw)
	if p.Orders() != 0 || len(p.Texts) != 0 || p.UserID != "u1" {
		t.Fatalf("tombstone keeps data: %+v", p)
	}
	// an older clock value does not move the watermark back
	if _, err := s.Fold(ctx, records(1, 1, "old/0", 99)); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.Watermark(ctx); w.Before(newest) {
		t.Fatalf("watermark went back to %s", w)
	}
}

// The process dies after a batch's profiles are written and before their
// change-feed entries: the redelivered batch applies nothing, and still puts
// its users back on the change feed, so the label stage (and through it the
// encoder) sees them.
func TestRedeliveryRestoresLostFeedEntries(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	s, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	recs := records(500, 40, "events.purchases/3", 9)
	if _, err := s.Fold(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// the feed entries never made it
	if err := rdb.Del(ctx, s.Keys().Changes()).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Fold(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || res.SkippedOffset != 500 {
		t.Fatalf("redelivery: %+v", res)
	}
	users := map[string]bool{}
	for _, r := range recs {
		users[r.Event.UserID] = true
	}
	ch, err := s.PendingChanges(ctx, 1000)
	if err != nil || len(ch) != len(users) {
		t.Fatalf("feed names %d users (%v), want %d", len(ch), err, len(users))
	}
	assertEqualProfiles(t, s, truth(recs))
}
