package labelstage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/label"
)

// The history is written with each version, newest first, trimmed to
// labels.history, and deleted with an erasure.
func TestHistoryFollowsVersionsAndErasure(t *testing.T) {
	h := newHarness(t, Config{History: 2})
	ctx := context.Background()
	h.fold("u1", events.TypeView, "")
	h.evaluate() // v1: visitor
	h.fold("u1", events.TypePurchase, "")
	h.evaluate() // v2: visitor, buyer
	h.fold("u1", events.TypeReview, "lovely teapot")
	h.evaluate()
	h.encode()
	h.evaluate() // v3: + reader
	if r := h.record("u1"); r.Version != 3 {
		t.Fatalf("version %d, want 3", r.Version)
	}
	entries, version, erased, err := h.st.History(ctx, "u1", 0)
	if err != nil || erased || version != 3 {
		t.Fatalf("history: %v erased=%v version=%d", err, erased, version)
	}
	if len(entries) != 2 || entries[0].Version != 3 || entries[1].Version != 2 {
		t.Fatalf("history keeps the newest 2, newest first: %+v", entries)
	}
	got := func(e label.HistoryEntry) string {
		var out []string
		for _, c := range e.Changes {
			out = append(out, c.Change+":"+c.Segment)
		}
		return strings.Join(e.Segments, ",") + " " + strings.Join(out, ",")
	}
	if g := got(entries[0]); g != "visitor,buyer,reader entered:reader" {
		t.Errorf("v3: %s", g)
	}
	if g := got(entries[1]); g != "visitor,buyer entered:buyer" {
		t.Errorf("v2: %s", g)
	}
	if entries[0].At.Before(entries[1].At) {
		t.Errorf("times go back: %v then %v", entries[1].At, entries[0].At)
	}
	// a publish does not touch it; an erasure removes it with the record
	h.publishAll()
	if n, _ := h.rdb.ZCard(ctx, h.st.sp.History("u1")).Result(); n != 2 {
		t.Fatalf("after publish: %d entries", n)
	}
	if err := h.st.Erase(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.rdb.Exists(ctx, h.st.sp.History("u1")).Result(); n != 0 {
		t.Fatal("history kept after erasure")
	}
	if _, _, erased, _ := h.st.History(ctx, "u1", 0); !erased {
		t.Fatal("erased user's history does not say so")
	}
	if u, err := h.st.User(ctx, "u1"); err != nil || !u.Erased || u.Doc != nil || u.Profile != nil {
		t.Fatalf("erased user read: %+v %v", u, err)
	}
}

// Size samples: one per clock minute (the later replaces the earlier),
// minutes kept for two days of clock time and the last of each hour
// beyond; a point's size is the last sample at or before it.
func TestSizeSeriesResolutions(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	t0 := day0.Truncate(time.Hour)
	rec := func(d time.Duration, n int64) {
		if err := h.st.RecordSizes(ctx, map[string]int64{"s": n}, t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	rec(0, 1)
	rec(30*time.Second, 2) // same minute: replaces
	rec(2*time.Minute, 3)
	rec(50*time.Minute, 4) // the last of hour 0
	rec(90*time.Minute, 5)
	at := func(series []SizeSample, d time.Duration) int64 {
		n, ok := SizeAt(series, t0.Add(d))
		if !ok {
			return -1
		}
		return n
	}
	s, err := h.st.SizeSeries(ctx, "s", t0.Add(-time.Hour), t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[time.Duration]int64{-time.Minute: -1, 0: 2, time.Minute: 2, 2 * time.Minute: 3, 49 * time.Minute: 3, time.Hour: 4, 2 * time.Hour: 5} {
		if got := at(s, d); got != want {
			t.Errorf("at +%s: %d, want %d (%+v)", d, got, want, s)
		}
	}
	// three days later the minutes of day 0 are gone, its hours stay
	rec(72*time.Hour, 6)
	s, err = h.st.SizeSeries(ctx, "s", t0, t0.Add(73*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := at(s, 2*time.Minute); got != -1 {
		t.Errorf("a trimmed minute still answers: %d (%+v)", got, s)
	}
	for d, want := range map[time.Duration]int64{55 * time.Minute: 4, 2 * time.Hour: 5, 72 * time.Hour: 6} {
		if got := at(s, d); got != want {
			t.Errorf("after trimming, at +%s: %d, want %d (%+v)", d, got, want, s)
		}
	}
	// a range that starts after a sample still knows the size
	s, err = h.st.SizeSeries(ctx, "s", t0.Add(10*time.Hour), t0.Add(11*time.Hour))
	if err != nil || at(s, 10*time.Hour) != 5 {
		t.Errorf("the sample before the range: %+v %v", s, err)
	}
}
