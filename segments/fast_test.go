package segments

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
)

func genBool(r *rand.Rand, d int) string {
	if d <= 0 {
		switch r.Intn(4) {
		case 0:
			return []string{"true", "false"}[r.Intn(2)]
		case 1:
			return []string{"has_purchased", "first_evaluation"}[r.Intn(2)]
		case 2:
			return fmt.Sprintf("segment(%q)", []string{"s0", "s1"}[r.Intn(2)])
		}
		if r.Intn(3) == 0 {
			return fmt.Sprintf("(%q in %s)", mapKeys[r.Intn(len(mapKeys))], mapVars[r.Intn(len(mapVars))])
		}
		return genCmp(r)
	}
	switch r.Intn(7) {
	case 4:
		return "(" + genBool(r, d-1) + " ? " + genBool(r, d-1) + " : " + genBool(r, d-1) + ")"
	case 0:
		return "!" + genBool(r, d-1)
	case 1:
		return "(" + genBool(r, d-1) + " && " + genBool(r, d-1) + ")"
	case 2:
		return "(" + genBool(r, d-1) + " || " + genBool(r, d-1) + ")"
	case 3:
		return "(" + genBool(r, d-1) + []string{" == ", " != "}[r.Intn(2)] + genBool(r, d-1) + ")"
	}
	return genCmp(r)
}

var ops = []string{" < ", " <= ", " > ", " >= ", " == ", " != "}

func genCmp(r *rand.Rand) string {
	if r.Intn(2) == 0 {
		return "(" + genInt(r) + ops[r.Intn(len(ops))] + genInt(r) + ")"
	}
	return "(" + genDouble(r) + ops[r.Intn(len(ops))] + genDouble(r) + ")"
}

func genInt(r *rand.Rand) string {
	switch r.Intn(4) {
	case 0:
		return fmt.Sprint([]int64{0, 1, -1, 3, 5, 100, math.MaxInt64, math.MinInt64 + 1}[r.Intn(8)])
	case 1:
		return []string{"orders", "purchase_days", "refunds", "units", "rating_count"}[r.Intn(5)]
	case 2:
		return fmt.Sprintf("count_in(%q, %d)", []string{"view", "purchase", "add_to_cart"}[r.Intn(3)], 1+r.Intn(90))
	}
	return []string{`count("view")`, `purchase_days_in(30)`, `purchase_days_in(400)`, `negative_reviews_in(30)`, `scored_reviews_in(90)`}[r.Intn(5)]
}

var (
	mapVars = []string{"categories", "value_tier_p", "value_logp", "interests", "scores", "model"}
	mapKeys = []string{"kitchen", "garden", "c", "high", "none", "nan", "x", "churn_threshold"}
)

func genDouble(r *rand.Rand) string {
	switch r.Intn(6) {
	case 4:
		return fmt.Sprintf("%s[%q]", mapVars[r.Intn(len(mapVars))], mapKeys[r.Intn(len(mapKeys))])
	case 5:
		if r.Intn(3) == 0 {
			return "(" + genBool(r, 0) + " ? " + genDouble(r) + " : " + genDouble(r) + ")"
		}
		return fmt.Sprintf("%s[%q]", mapVars[r.Intn(len(mapVars))], mapKeys[r.Intn(len(mapKeys))])
	case 0:
		return []string{"0.0", "-0.0", "1.5", "-3.25", "100.0", "1e308", "-1e308", "0.7"}[r.Intn(8)]
	case 1:
		return []string{"churn_risk", "days_since_last_purchase", "days_since_first_event", "days_since_last_event", "spend", "net_spend", "avg_order_value", "rating_mean", "refund_amount"}[r.Intn(9)]
	case 2:
		return fmt.Sprintf("spend_in(%d)", 1+r.Intn(90))
	case 3:
		if r.Intn(2) == 0 {
			return fmt.Sprintf("negative_review_share_in(%d)", 1+r.Intn(90))
		}
	}
	return fmt.Sprintf("refund_amount_in(%d)", 1+r.Intn(90))
}

// TestFastMatchesCEL: the native evaluation of simple expressions
// (compileFast) agrees with CEL on random expressions and inputs,
// NaN, infinities and missing keys included (it falls back to CEL
// where it cannot decide).
func TestFastMatchesCEL(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	now := time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(n int) *featurestore.Profile {
		p := &featurestore.Profile{UserID: "u"}
		for i := 0; i < n; i++ {
			e := &events.Event{EventID: fmt.Sprint(i), UserID: "u", Type: events.TypeView, TS: now.Add(-time.Duration(i*37) * time.Hour), Category: []string{"c", "kitchen", "toys"}[i%3]}
			if i%3 == 0 {
				e.Type, e.OrderID, e.Currency, e.Items = events.TypePurchase, fmt.Sprint("o", i), "GBP", []events.Item{{ProductID: "p", Category: "c", Quantity: 1, UnitPrice: float64(i) * 1.5}}
			}
			if i%5 == 1 {
				e.Type, e.ProductID, e.Rating, e.Sentiment = events.TypeReview, "p", 1+i%5, events.Sentiment(i%4)
			}
			p.Apply(e, featurestore.Mark{}, featurestore.DefaultLimits)
		}
		return p
	}
	profiles := []*featurestore.Profile{mk(0), mk(1), mk(10), mk(60)}
	churns := []float64{0.7, 0, math.NaN(), math.Inf(1), math.Copysign(0, -1)}
	nFast, nBail, nErr, nNotFast := 0, 0, 0, 0
	for it := 0; it < 8000; it++ {
		src := genBool(r, 1+r.Intn(4))
		ast, iss := sharedEnv.Compile(src)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", src, iss.Err())
		}
		f := compileFast(ast.NativeRep(), ast.NativeRep().Expr())
		if f == nil {
			nNotFast++
			continue
		}
		prg, err := program(ast, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range profiles {
			for _, ch := range churns {
				a := actPool.Get().(*activation)
				st := State{M: map[string]Membership{}}
				a.in = &Input{Profile: p, Now: now, ChurnRisk: ch}
				if ch == 0.7 || ch != ch {
					a.in.ValueTierP = map[string]float64{"none": 0.2, "high": ch, "nan": math.NaN()}
					a.in.ValueLogP = map[string]float64{"none": math.Inf(-1), "high": -0.1}
					a.in.Interests = map[string]float64{"kitchen": 0.5, "garden": ch}
					a.in.Scores = map[string]float64{"x": 1}
					a.in.Model = map[string]float64{"churn_threshold": 0.5, "x": math.Copysign(0, -1)}
				}
				a.prev, a.set = &st, &Set{opt: Options{}.withDefaults()}
				a.members = map[string]bool{"s0": true}
				want, werr := a.eval(prg)
				a.have, a.nwin = 0, 0
				for i := range a.vals {
					a.vals[i] = nil
				}
				got, ok := f(a)
				if werr != nil {
					nErr++
					if ok {
						t.Fatalf("%s (churn %v): CEL error %v, native %v", src, ch, werr, got)
					}
				} else if ok {
					nFast++
					if got != want {
						t.Fatalf("%s (churn %v, %d events): CEL %v, native %v", src, ch, p.Counts, want, got)
					}
				} else {
					nBail++
				}
				a.members = nil
				a.reset()
				actPool.Put(a)
			}
		}
	}
	t.Logf("agree %d, bailed %d (CEL fine), CEL errors %d, not in the subset %d", nFast, nBail, nErr, nNotFast)
	if nNotFast > 0 {
		t.Errorf("%d expressions of the subset not compiled natively", nNotFast)
	}
}
