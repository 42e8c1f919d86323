package service_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/secure"
	"github.com/segstream/segstream/segments"
)

// BenchmarkBackfill: a new definition published on the topic while the
// service runs over SEGSTREAM_BENCH_PROFILES profiles (default 100,000)
// in the real Redis; measured from the publish to the definition live,
// every profile evaluated under it and every change acknowledged by
// Kafka (queues empty). Run it alone:
//
//	go test -run XXX -bench Backfill -benchtime 1x ./service/
func BenchmarkBackfill(b *testing.B) {
	testkit.NeedModels(b)
	n := 100000
	if s := os.Getenv("SEGSTREAM_BENCH_PROFILES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	addr := testkit.Kafka(b, 3)
	rdb, prefix := testkit.Redis(b)
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2011, 3, 1, 0, 0, 0, 0, time.UTC)
	var recs []events.Record
	off := int64(0)
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("u%06d", i)
		for k := 0; k < 4; k++ {
			ts := t0.Add(time.Duration(i%90+k*7) * 24 * time.Hour)
			ev := &events.Event{EventID: fmt.Sprint(u, "-", k), UserID: u, TS: ts, Type: events.TypeView, ProductID: "p", Category: "c" + strconv.Itoa(k), Price: 3}
			if k%2 == 1 {
				ev = &events.Event{EventID: fmt.Sprint(u, "-", k), UserID: u, TS: ts, Type: events.TypePurchase, OrderID: fmt.Sprint(u, k), Currency: "GBP",
					Items: []events.Item{{ProductID: "p", Category: "c", Quantity: int64(1 + i%5), UnitPrice: float64(1 + i%200)}}}
			}
			off++
			recs = append(recs, events.Record{Event: ev, Source: "bench/0", Offset: off})
		}
		if len(recs) >= 4000 || i == n-1 {
			if _, err := store.Fold(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	start := time.Now()
	s := startService(b, addr, prefix, "bench-backfill", "SEGSTREAM_LABELS_ENCODE=false", "SEGSTREAM_LOG_LEVEL=warn")
	drained := func(timeout time.Duration) {
		testkit.WaitFor(b, timeout, func() error {
			if q := queued(s); q != 0 {
				return fmt.Errorf("%d queued", q)
			}
			return nil
		})
	}
	drained(10 * time.Minute)
	b.Logf("%d profiles labelled and published from the start in %s", n, time.Since(start).Round(time.Millisecond))
	for i := 0; i < b.N; i++ {
		def := fmt.Sprintf("segments:\n  - name: bench_%d\n    enter: spend_in(30) >= %d.0 && count(\"purchase\") >= 2\n", i, 50+i)
		defs, err := segments.ParseFile([]byte(def), "bench")
		if err != nil {
			b.Fatal(err)
		}
		before := metric(b, s.Registry, "segstream_labels_backfill_users_total")
		b.ResetTimer()
		t1 := time.Now()
		if err := segments.Publish(ctx, []string{addr}, secure.Kafka{}, "segments.definitions", defs, nil); err != nil {
			b.Fatal(err)
		}
		testkit.WaitFor(b, time.Minute, func() error {
			if _, ok := s.Segments.Set().Lookup(defs[0].Name); !ok {
				return fmt.Errorf("not live yet")
			}
			return nil
		})
		live := time.Since(t1)
		testkit.WaitFor(b, time.Minute, func() error {
			if q := metric(b, s.Registry, "segstream_labels_backfill_users_total") - before; q < float64(n) {
				return fmt.Errorf("%v of %d queued by the backfill", q, n)
			}
			return nil
		})
		drained(10 * time.Minute)
		took := time.Since(t1)
		b.StopTimer()
		size, _ := s.Labels.SegmentSize(ctx, defs[0].Name)
		b.Logf("definition live after %s; %d profiles backfilled and published in %s (%.0f profiles/s); %d members",
			live.Round(time.Millisecond), n, took.Round(time.Millisecond), float64(n)/took.Seconds(), size)
		b.ReportMetric(float64(n)/took.Seconds(), "profiles/s")
		b.ReportMetric(took.Seconds(), "s/backfill")
	}
}
