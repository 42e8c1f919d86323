package segments_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/segments"
)

// benchProfile is a realistic customer folded through the real fold: about
// 70 events over the 80 days before now (views, carts, searches, purchases
// in four categories, a refund and a review).
func benchProfile(tb testing.TB, now time.Time) *featurestore.Profile {
	tb.Helper()
	p := &featurestore.Profile{UserID: "u1"}
	cats := []string{"kitchen", "garden", "toys", "books"}
	descs := []string{"RED CAKE STAND", "GARDEN TROWEL", "WOODEN TOY TRAIN", "POCKET NOTEBOOK"}
	var evs []*events.Event
	for d := 80; d >= 0; d -= 2 { // a view every other day, two categories
		ts := now.Add(-time.Duration(d)*24*time.Hour + time.Hour)
		c := cats[(d/2)%len(cats)]
		if d%6 == 0 {
			c = "kitchen"
		}
		evs = append(evs, &events.Event{Type: events.TypeView, TS: ts, ProductID: "p" + c, Category: c, Price: 5})
		if d%10 == 0 {
			evs = append(evs, &events.Event{Type: events.TypeAddToCart, TS: ts.Add(time.Minute), ProductID: "p" + c, Category: c, Price: 5})
		}
		if d%16 == 0 {
			evs = append(evs, &events.Event{Type: events.TypeSearch, TS: ts.Add(2 * time.Minute), Query: c + " gift"})
		}
	}
	for i, d := range []int{75, 52, 33, 20, 12, 5, 2} {
		ts := now.Add(-time.Duration(d)*24*time.Hour + 2*time.Hour)
		k := i % len(cats)
		evs = append(evs, &events.Event{Type: events.TypePurchase, TS: ts, OrderID: fmt.Sprint("o", i), Currency: "GBP",
			Items: []events.Item{
				{ProductID: "p" + cats[k], Description: descs[k], Category: cats[k], Quantity: int64(1 + i%3), UnitPrice: 12.5 + float64(i)*4},
				{ProductID: "pkitchen", Description: descs[0], Category: "kitchen", Quantity: 1, UnitPrice: 7.5},
			}})
	}
	evs = append(evs,
		&events.Event{Type: events.TypeRefund, TS: now.Add(-30 * 24 * time.Hour), OrderID: "o2", Currency: "GBP",
			Items: []events.Item{{ProductID: "pkitchen", Category: "kitchen", Quantity: 1, UnitPrice: 7.5}}},
		&events.Event{Type: events.TypeReview, TS: now.Add(-10 * 24 * time.Hour), ProductID: "pkitchen", Rating: 4, Text: "lovely cake stand, sturdy"},
	)
	for i, e := range evs {
		e.UserID = "u1"
		e.EventID = fmt.Sprint("e", i)
		p.Apply(e, featurestore.Mark{Source: "t/0", Offset: int64(i)}, featurestore.DefaultLimits)
	}
	if p.Orders() == 0 || len(p.Categories) < 3 {
		tb.Fatalf("bench profile: %d orders, %d categories", p.Orders(), len(p.Categories))
	}
	return p
}

// benchYAML generates n realistic definitions, each with its own
// thresholds: windows, recency, composition, a category lookup, model
// scores, hysteresis with dwell, all-time aggregates. Names are
// prefix000, prefix001, ...; a composed one reads an earlier one.
func benchYAML(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("segments:\n")
	wins := []int{7, 14, 30, 60, 90}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%03d", prefix, i)
		f := float64(i)
		w := wins[i%len(wins)]
		fmt.Fprintf(&b, "  - name: %s\n", name)
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, "    enter: spend_in(%d) > %.1f\n", w, 20+f*2.5)
		case 1:
			fmt.Fprintf(&b, "    enter: count_in(\"view\", %d) >= %d\n", w, 1+i%9)
		case 2:
			fmt.Fprintf(&b, "    enter: days_since_last_purchase > %.1f\n", 1+f*0.7)
		case 3:
			fmt.Fprintf(&b, "    enter: 'segment(\"%s%03d\") && churn_risk > %.3f'\n", prefix, i-3, 0.2+f*0.005)
		case 4:
			fmt.Fprintf(&b, "    enter: '\"kitchen\" in categories && categories[\"kitchen\"] > %.3f'\n", 0.1+f*0.004)
		case 5:
			fmt.Fprintf(&b, "    enter: churn_risk > %.3f\n", 0.3+f*0.005)
		case 6:
			fmt.Fprintf(&b, "    enter: churn_risk >= %.3f\n    exit: churn_risk < %.3f\n    min_dwell: 7d\n", 0.4+f*0.004, 0.3+f*0.004)
		case 7:
			fmt.Fprintf(&b, "    enter: orders >= %d && avg_order_value > %.1f\n", 1+i%5, 10+f*0.5)
		case 8:
			fmt.Fprintf(&b, "    enter: 'count_in(\"add_to_cart\", %d) > %d && purchase_days_in(%d) >= %d'\n", w, i%3, w, 1+i%4)
		case 9:
			fmt.Fprintf(&b, "    enter: 'value_tier_p[\"high\"] > %.3f || (\"garden\" in categories && categories[\"garden\"] > %.3f)'\n", 0.2+f*0.003, 0.05+f*0.002)
		}
	}
	return b.String()
}

func benchSet(b *testing.B, yaml string) *segments.Set {
	b.Helper()
	defs, err := segments.ParseFile([]byte(yaml), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := segments.Compile(defs, segments.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// runEvaluate measures one Evaluate (one user): steady, with the state of
// the previous evaluation fed back (nothing changes, no reasons); first,
// with no state (every segment held is explained).
func runEvaluate(b *testing.B, s *segments.Set) {
	now := t0
	p := benchProfile(b, now)
	in := input(p, now)
	r, err := s.Evaluate(in, nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(r.Errors) > 0 {
		b.Fatalf("evaluation errors: %v", r.Errors)
	}
	// the state fed back: the one of a steady evaluation, canonical
	r1, err := s.Evaluate(in, r.State)
	if err != nil || r1.Changed {
		b.Fatalf("second evaluation: changed %v err %v", r1.Changed, err)
	}
	if st, err := segments.DecodeState(r1.State); err != nil || !bytes.Equal(st.Encode(), r1.State) || !bytes.Equal(r1.State, r.State) {
		b.Fatalf("state %s is not the encoding of a steady state %s (%v)", r1.State, r.State, err)
	}
	b.Run("steady", func(b *testing.B) {
		st := r1.State
		b.ReportAllocs()
		for b.Loop() {
			r2, err := s.Evaluate(in, st)
			if err != nil || r2.Changed {
				b.Fatalf("steady state: changed %v err %v", r2.Changed, err)
			}
			st = r2.State
		}
	})
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r2, err := s.Evaluate(in, nil)
			if err != nil || !r2.Changed {
				b.Fatalf("first evaluation: changed %v err %v", r2.Changed, err)
			}
		}
	})
}

func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("defs=%d", n), func(b *testing.B) {
			runEvaluate(b, benchSet(b, benchYAML("bench_", n)))
		})
	}
}

func BenchmarkEvaluateDefaults(b *testing.B) {
	defs, err := segments.Defaults()
	if err != nil {
		b.Fatal(err)
	}
	s, err := segments.Compile(defs, segments.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if s.Len() != 8 {
		b.Fatalf("%d default definitions, want 8", s.Len())
	}
	runEvaluate(b, s)
}
