package classifier_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/segments"
)

// labelBenchProfile is a realistic customer folded through the real fold:
// about 70 events over the 80 days before asOf (views, carts, searches,
// purchases with product texts in four categories, a refund, a review).
func labelBenchProfile(tb testing.TB, asOf time.Time) *featurestore.Profile {
	tb.Helper()
	p := &featurestore.Profile{UserID: "u1"}
	cats := []string{"kitchen", "garden", "toys", "books"}
	descs := []string{"RED CAKE STAND", "GARDEN TROWEL", "WOODEN TOY TRAIN", "POCKET NOTEBOOK"}
	var evs []*events.Event
	for d := 80; d >= 0; d -= 2 {
		ts := asOf.Add(-time.Duration(d)*24*time.Hour + time.Hour)
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
		ts := asOf.Add(-time.Duration(d)*24*time.Hour + 2*time.Hour)
		k := i % len(cats)
		evs = append(evs, &events.Event{Type: events.TypePurchase, TS: ts, OrderID: fmt.Sprint("o", i), Currency: "GBP",
			Items: []events.Item{
				{ProductID: "p" + cats[k], Description: descs[k], Category: cats[k], Quantity: int64(1 + i%3), UnitPrice: 12.5 + float64(i)*4},
				{ProductID: "pkitchen", Description: descs[0], Category: "kitchen", Quantity: 1, UnitPrice: 7.5},
			}})
	}
	evs = append(evs,
		&events.Event{Type: events.TypeRefund, TS: asOf.Add(-30 * 24 * time.Hour), OrderID: "o2", Currency: "GBP",
			Items: []events.Item{{ProductID: "pkitchen", Category: "kitchen", Quantity: 1, UnitPrice: 7.5}}},
		&events.Event{Type: events.TypeReview, TS: asOf.Add(-10 * 24 * time.Hour), ProductID: "pkitchen", Rating: 4, Text: "lovely cake stand, sturdy"},
	)
	for i, e := range evs {
		e.UserID = "u1"
		e.EventID = fmt.Sprint("e", i)
		p.Apply(e, featurestore.Mark{Source: "t/0", Offset: int64(i)}, featurestore.DefaultLimits)
	}
	return p
}

// extraYAML generates n realistic definitions with distinct thresholds
// (the same mix as segments' BenchmarkEvaluate), composed on the built-in
// taxonomy and on each other.
func extraYAML(n int) string {
	var b strings.Builder
	b.WriteString("segments:\n")
	wins := []int{7, 14, 30, 60, 90}
	for i := 0; i < n; i++ {
		f := float64(i)
		w := wins[i%len(wins)]
		fmt.Fprintf(&b, "  - name: extra_%03d\n", i)
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, "    enter: 'segment(\"active\") && spend_in(%d) > %.1f'\n", w, 20+f*2.5)
		case 1:
			fmt.Fprintf(&b, "    enter: count_in(\"view\", %d) >= %d\n", w, 1+i%9)
		case 2:
			fmt.Fprintf(&b, "    enter: days_since_last_purchase > %.1f\n", 1+f*0.7)
		case 3:
			fmt.Fprintf(&b, "    enter: 'segment(\"extra_%03d\") && churn_risk > %.3f'\n", i-3, 0.2+f*0.005)
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
			fmt.Fprintf(&b, "    enter: 'value_tier_p[\"high\"] > %.3f || (segment(\"high_value\") && \"garden\" in categories)'\n", 0.2+f*0.003)
		}
	}
	return b.String()
}

// BenchmarkLabelWithDefinitions is the label stage's per-user CPU work
// (without Redis): the view, scoring with the default model and the text
// embedding, and the evaluation of the built-in taxonomy plus extra
// definitions, the state of the previous decision fed back.
func BenchmarkLabelWithDefinitions(b *testing.B) {
	m, err := classifier.Load(defaultModel)
	if err != nil {
		b.Fatal(err)
	}
	if len(m.Themes) == 0 {
		b.Fatal("the default model has no themes")
	}
	asOf := time.Date(2011, 3, 15, 0, 0, 0, 0, time.UTC)
	p := labelBenchProfile(b, asOf)
	emb := slices.Clone(m.Themes[0].Centroid)
	for _, n := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("extra=%d", n), func(b *testing.B) {
			defs, err := segments.Defaults()
			if err != nil {
				b.Fatal(err)
			}
			if n > 0 {
				extra, err := segments.ParseFile([]byte(extraYAML(n)), "extra.yaml")
				if err != nil {
					b.Fatal(err)
				}
				defs = append(defs, extra...)
			}
			live := segments.NewLive(defs, segments.Options{}, nil, nil)
			if live.Set().Len() != len(defs) {
				b.Fatalf("%d of %d definitions compiled", live.Set().Len(), len(defs))
			}
			seg, err := classifier.NewSegmenterFor(m, live)
			if err != nil {
				b.Fatal(err)
			}
			d, err := seg.Label(p, featurestore.NewView(p, asOf), seg.Own(emb), nil, asOf)
			if err != nil {
				b.Fatal(err)
			}
			d2, err := seg.Label(p, featurestore.NewView(p, asOf), seg.Own(emb), d.State, asOf)
			if err != nil || !slices.Equal(d2.Segments, d.Segments) || !slices.Equal(d2.State, d.State) || len(d2.Reasons) != 0 {
				b.Fatalf("not a steady state: %v %v -> %v %v (%d reasons)", err, d.Segments, d2.Segments, d2.State, len(d2.Reasons))
			}
			st := d2.State
			b.ReportAllocs()
			for b.Loop() {
				v := featurestore.NewView(p, asOf)
				d, err := seg.Label(p, v, seg.Own(emb), st, asOf)
				if err != nil {
					b.Fatal(err)
				}
				st = d.State
			}
		})
	}
}
