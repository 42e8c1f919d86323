package classifier_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
)

// historyProfile folds four purchases of £20 (noon UTC) on the given days.
func historyProfile(t *testing.T, days ...string) *featurestore.Profile {
	t.Helper()
	p := &featurestore.Profile{UserID: "h"}
	for i, d := range days {
		ts, err := time.Parse(time.DateOnly, d)
		if err != nil {
			t.Fatal(err)
		}
		ev := &events.Event{EventID: fmt.Sprint("e", i), Type: events.TypePurchase, UserID: "h", TS: ts.Add(12 * time.Hour),
			OrderID: fmt.Sprint("o", i), Currency: "GBP", Items: []events.Item{{ProductID: "p", Description: "RED CAKE STAND", Quantity: 2, UnitPrice: 10}}}
		p.Apply(ev, featurestore.Mark{}, featurestore.DefaultLimits)
	}
	return p
}

func featureMap(f []float64) map[string]float64 {
	m := map[string]float64{}
	for j, n := range classifier.NumericFeatures {
		m[n] = f[j]
	}
	return m
}

// TestHistoryFeaturesByHand checks the purchase-history features against
// values worked out by hand.
func TestHistoryFeaturesByHand(t *testing.T) {
	p := historyProfile(t, "2010-04-01", "2010-10-01", "2011-01-01", "2011-02-20")
	asOf := date(2011, 3, 1)
	f := featureMap(classifier.Extractor{}.Features(nil, featurestore.NewView(p, asOf), classifier.HistoryOf(p)))
	// Ages of the purchase days (from the start of the day to the cutoff):
	// 334, 151, 59 and 9 days; gaps 183, 92, 50; recency 8.5 days.
	gapMean := (334.0 - 9) / 3
	var ss float64
	for _, g := range []float64{183, 92, 50} {
		ss += (g - gapMean) * (g - gapMean)
	}
	want := map[string]float64{
		"log_pdays_30d":              math.Log(2),
		"log_pdays_90d":              math.Log(3),
		"log_pdays_180d":             math.Log(4),
		"log_pdays_365d":             math.Log(5),
		"log_pdays_prev90":           math.Log(2),
		"pdays_trend":                math.Log(3) - math.Log(2),
		"log_pdays_last_year_next90": math.Log(2),
		"log_first_purchase_days":    math.Log(335),
		"log_gap_mean":               math.Log1p(gapMean),
		"gap_cv":                     math.Sqrt(ss/3) / gapMean,
		"log_last_gap":               math.Log(51),
		"log_overdue":                math.Log1p(8.5 / gapMean),
		"log_spend_per_pday":         math.Log(21),
		"spend_90d_share":            0.5,
	}
	if len(want) != len(classifier.NumericFeatures)-classifier.NumFeaturesV1 {
		t.Fatalf("test covers %d history features, there are %d", len(want), len(classifier.NumericFeatures)-classifier.NumFeaturesV1)
	}
	for n, w := range want {
		if math.Abs(f[n]-w) > 1e-9 {
			t.Errorf("%s = %.9f, want %.9f", n, f[n], w)
		}
	}

	// As of an earlier time, later purchase days are not read.
	f = featureMap(classifier.Extractor{}.Features(nil, featurestore.NewView(p, date(2011, 2, 1)), classifier.HistoryOf(p)))
	if f["log_pdays_90d"] != math.Log(2) || f["log_pdays_30d"] != 0 || f["log_first_purchase_days"] != math.Log(307) {
		t.Errorf("as of 2011-02-01: 90d %v, 30d %v, first %v", f["log_pdays_90d"], f["log_pdays_30d"], f["log_first_purchase_days"])
	}

	// One purchase day: no gaps.
	p1 := historyProfile(t, "2011-01-01")
	f = featureMap(classifier.Extractor{}.Features(nil, featurestore.NewView(p1, asOf), classifier.HistoryOf(p1)))
	for _, n := range []string{"log_gap_mean", "gap_cv", "log_last_gap", "log_overdue"} {
		if f[n] != 0 {
			t.Errorf("one purchase day: %s = %v, want 0", n, f[n])
		}
	}
}

// TestScoreProfile checks that ScoreProfile reads the profile's exact
// history (as training does) and that Score on a bare view approximates it.
func TestScoreProfile(t *testing.T) {
	m := sliceRun(t).Model
	p := historyProfile(t, "2010-04-01", "2010-10-01", "2011-01-01", "2011-02-20")
	asOf := date(2011, 3, 1)
	v := featurestore.NewView(p, asOf)
	a := m.ScoreProfile(p, asOf, nil)
	b := m.ScoreHistory(v, classifier.HistoryOf(p), nil)
	if a.ChurnLogit != b.ChurnLogit || a.Tier != b.Tier || !slices.Equal(a.Raw(), b.Raw()) {
		t.Fatalf("ScoreProfile %v/%v, ScoreHistory %v/%v", a.ChurnLogit, a.Tier, b.ChurnLogit, b.Tier)
	}
	c := m.Score(v, nil)
	if !(c.ChurnRisk > 0 && c.ChurnRisk < 1) {
		t.Fatalf("Score on a view: churn risk %v", c.ChurnRisk)
	}
	h := classifier.ApproxHistory(v)
	if len(h.PurchaseDays) != 4 || h.PurchaseDays[3] != p.PurchaseDays[3] || h.PurchaseDays[0] != p.PurchaseDays[0] {
		t.Fatalf("approximate history %v, profile %v", h.PurchaseDays, p.PurchaseDays)
	}
	// The view-only features are the same either way.
	if !slices.Equal(a.Raw()[:classifier.NumFeaturesV1], c.Raw()[:classifier.NumFeaturesV1]) {
		t.Fatal("view features differ between Score and ScoreProfile")
	}
}

// TestTreeHeads forces boosted-tree heads onto the slice model: the file
// round-trips, scores are the same after loading, and the explanations sum
// to the logits.
func TestTreeHeads(t *testing.T) {
	res, err := train.Run(t.Context(), sliceEvents(t), train.Config{Seed: 3, L2Grid: []float64{1e-3}, TreeDepths: []int{2}, TreeMinGain: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if m.Churn.GBDT == nil || m.Value.GBDT == nil {
		t.Fatal("trees not kept with TreeMinGain -1")
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := classifier.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Data.Val.Examples[:20] {
		s := m.ScoreHistory(e.View, e.History, nil)
		s2 := m2.ScoreHistory(e.View, e.History, nil)
		if s.ChurnLogit != s2.ChurnLogit || s.Tier != s2.Tier {
			t.Fatal("scores changed after the round trip")
		}
		cs, bias := m.Contributions(s, "churn", 1)
		sum := bias
		for _, c := range cs {
			sum += c.Contribution
		}
		if math.Abs(sum-s.ChurnLogit) > 1e-9 {
			t.Fatalf("churn: contributions sum to %v, logit %v", sum, s.ChurnLogit)
		}
		head := *m
		head.ValueTier = nil
		z := classifier.ValueLogits(&head, s)
		for k := 0; k < 3; k++ {
			cs, bias := head.Contributions(s, "value", k)
			sum := bias
			for _, c := range cs {
				sum += c.Contribution
			}
			if want := z[k] - (z[0]+z[1]+z[2])/3; math.Abs(sum-want) > 1e-9 {
				t.Fatalf("value %d: contributions sum to %v, centred logit %v", k, sum, want)
			}
		}
	}
	// A split on an input the model does not have is refused.
	bad := *m
	g := *m.Churn.GBDT
	g.Inputs = len(classifier.NumericFeatures) + 1
	bad.Churn.GBDT = &g
	if err := bad.Check(); err == nil {
		t.Fatal("trees reading past the numeric inputs were accepted")
	}
}

// BenchmarkScoreHistory scores with the exact purchase days, for the
// linear heads and for forced boosted-tree heads (depth 3).
func BenchmarkScoreHistory(b *testing.B) {
	evs := sliceEvents(b)
	lin, err := train.Run(b.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}})
	if err != nil {
		b.Fatal(err)
	}
	trees, err := train.Run(b.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}, TreeDepths: []int{3}, TreeMinGain: -1})
	if err != nil {
		b.Fatal(err)
	}
	e := lin.Data.Val.Examples[0]
	for _, tc := range []struct {
		name string
		m    *classifier.Model
	}{{"linear", lin.Model}, {"trees", trees.Model}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := tc.m.ScoreHistory(e.View, e.History, nil)
				tc.m.Contributions(s, "churn", 1)
			}
		})
	}
}
