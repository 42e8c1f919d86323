package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/metrics"
	"github.com/segstream/segstream/segments"
)

// TestFitGammaGammaRecovers draws customers from the Gamma-Gamma model and
// fits them back.
func TestFitGammaGammaRecovers(t *testing.T) {
	truth := classifier.GammaGammaParams{P: 2.5, Q: 3.5, Gamma: 400}
	rng := rand.New(rand.NewPCG(7, 7))
	gamma := func(k float64) float64 {
		if k < 1 {
			return gammaDraw(rng, k+1) * math.Pow(rng.Float64(), 1/k)
		}
		return gammaDraw(rng, k)
	}
	var obs []classifier.GGObs
	for i := 0; i < 20000; i++ {
		nu := gamma(truth.Q) / truth.Gamma
		x := 1 + rng.IntN(8)
		var s float64
		for j := 0; j < x; j++ {
			s += gamma(truth.P) / nu
		}
		obs = append(obs, classifier.GGObs{X: float64(x), M: s / float64(x)})
	}
	got := FitGammaGamma(obs)
	for _, c := range [][2]float64{{got.P, truth.P}, {got.Q, truth.Q}, {got.Gamma / (got.Q - 1), truth.Gamma / (truth.Q - 1)}} {
		if math.Abs(c[0]-c[1])/c[1] > 0.08 {
			t.Errorf("fit %+v, truth %+v", got, truth)
		}
	}
	// a maximum: nudging any parameter lowers the likelihood
	for j := 0; j < 3; j++ {
		for _, f := range []float64{0.999, 1.001} {
			q := got
			switch j {
			case 0:
				q.P *= f
			case 1:
				q.Q *= f
			default:
				q.Gamma *= f
			}
			if ggLogLik(q, obs) > got.LL {
				t.Errorf("not a maximum: %+v beats %+v", q, got)
			}
		}
	}
}

// TestFitPlatt recovers a logistic map and always returns an increasing one.
func TestFitPlatt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var z []float64
	var y []int
	for i := 0; i < 20000; i++ {
		v := rng.NormFloat64() * 2
		z = append(z, v)
		if rng.Float64() < sigmoid(0.7*v-0.4) {
			y = append(y, 1)
		} else {
			y = append(y, 0)
		}
	}
	a, b := FitPlatt(z, y)
	if math.Abs(a-0.7) > 0.05 || math.Abs(b+0.4) > 0.05 {
		t.Errorf("A=%.3f B=%.3f, want 0.7, -0.4", a, b)
	}
	for i := range z {
		z[i] = -z[i] // anti-ranking scores: fall back to a shift
	}
	if a, _ := FitPlatt(z, y); a != 1 {
		t.Errorf("a decreasing map (A=%.3f) was returned", a)
	}
}

// TestCalibratedRun: the slice run's churn probabilities are calibrated
// on validation (better validation log-loss than the head's own, an
// increasing map), it carries the spend model and the value-scores, the
// value tier is derived from predicted value, and at_risk was tuned.
func TestCalibratedRun(t *testing.T) {
	res := sliceRun(t)
	m := res.Model
	if m.Calibration == nil || !m.Calibration.Valid() || m.GammaGamma == nil || !m.GammaGamma.Valid() || m.ValueTier == nil {
		t.Fatalf("calibration %+v, spend model %+v, value tier %+v", m.Calibration, m.GammaGamma, m.ValueTier)
	}
	if m.FormatVersion != classifier.ModelFormatVersion {
		t.Fatalf("format version %d", m.FormatVersion)
	}
	var cal, raw []float64
	y := labels(res.Data.Val.Examples, true)
	for _, e := range res.Data.Val.Examples {
		s := m.ScoreHistory(e.View, e.History, nil)
		cal, raw = append(cal, s.ChurnRisk), append(raw, sigmoid(s.ChurnHeadLogit))
		if s.CLV90d < 0 || s.CLV365d < s.CLV90d || math.IsNaN(s.CLV365d) {
			t.Fatalf("clv %.2f / %.2f", s.CLV90d, s.CLV365d)
		}
		if math.Abs(s.Tier[0]-s.ChurnRisk) > 1e-12 || math.Abs(s.Tier[0]+s.Tier[1]+s.Tier[2]-1) > 1e-9 {
			t.Fatalf("tier %v, churn %.4f", s.Tier, s.ChurnRisk)
		}
	}
	if metrics.LogLoss(cal, y) > metrics.LogLoss(raw, y)+1e-9 {
		t.Errorf("calibration raised validation log-loss: %.4f > %.4f", metrics.LogLoss(cal, y), metrics.LogLoss(raw, y))
	}
	if math.Abs(metrics.AUC(cal, y)-metrics.AUC(raw, y)) > 1e-9 {
		t.Error("calibration changed the ranking")
	}
	if m.Rules.AtRiskEnter <= m.Rules.AtRiskExit || m.Rules.AtRiskEnter <= 0 {
		t.Errorf("at_risk band %.3f / %.3f", m.Rules.AtRiskEnter, m.Rules.AtRiskExit)
	}
	ev := res.Eval
	if ev == nil || len(ev.CLV) < 3 || len(ev.Cal) != 3 || ev.AtRisk.Active == 0 || len(ev.AtRisk.Top) != 3 {
		t.Fatalf("eval %+v", ev)
	}
	if ev.AtRisk.Members != ev.AtRisk.MembersActive {
		t.Errorf("%d at_risk members, %d of them active: the default flags active customers only", ev.AtRisk.Members, ev.AtRisk.MembersActive)
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := classifier.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	e := res.Data.Test.Examples[0]
	if s1, s2 := m.ScoreHistory(e.View, e.History, nil), m2.ScoreHistory(e.View, e.History, nil); s1.ChurnRisk != s2.ChurnRisk || s1.CLV365d != s2.CLV365d || s1.Tier != s2.Tier {
		t.Error("scores changed after the round trip")
	}
}

// TestAtRiskIsADefinition: at_risk is read from the definitions given
// like any other segment, for tuning and for the figures: a replacement
// definition changes both.
func TestAtRiskIsADefinition(t *testing.T) {
	base, err := segments.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := segments.ParseFile([]byte(`segments:
  - name: at_risk
    enter: 'scores["at_risk_score"] >= model["at_risk_enter"] && spend >= 1000.0'
`), "mine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, errs := segments.Overlay(base, mine, segments.Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := Run(t.Context(), sliceEvents(t), Config{Seed: 3, L2Grid: []float64{1e-3}, Segments: set})
	if err != nil {
		t.Fatal(err)
	}
	def := sliceRun(t)
	if res.Eval.AtRiskEnter != mine[0].Enter || def.Eval.AtRiskEnter == mine[0].Enter {
		t.Fatalf("evaluated %q", res.Eval.AtRiskEnter)
	}
	if res.Model.Rules.AtRiskEnter == def.Model.Rules.AtRiskEnter {
		t.Error("the threshold was not tuned on the definition given")
	}
	// the members are exactly the big spenders above the threshold
	in, risk, err := atRiskMembers(res.Model, res.Data.Test, nil, withSet(set), false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, e := range res.Data.Test.Examples {
		want := risk[i] >= res.Model.Rules.AtRiskEnter && e.View.RFM.Monetary >= 1000
		if in[i] != want {
			t.Fatalf("%s: in %v, want %v (risk %.3f, spend %.0f)", e.UserID, in[i], want, risk[i], e.View.RFM.Monetary)
		}
		if in[i] {
			n++
		}
	}
	if n != res.Eval.AtRisk.Members || n == 0 {
		t.Errorf("%d members, eval says %d", n, res.Eval.AtRisk.Members)
	}
}

func withSet(s *segments.Set) Config {
	c := Config{Segments: s}
	c.profileText = func([]string) string { return "" }
	return c
}
