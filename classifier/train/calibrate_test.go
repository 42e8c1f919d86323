package train

import (
	"math"
	"testing"

	"github.com/segstream/segstream/classifier/metrics"
)

// TestBestAtRiskPoint: the highest precision wins, a tie goes to the
// smaller weight (the churn risk alone when weight 0 ties).
func TestBestAtRiskPoint(t *testing.T) {
	for _, c := range []struct {
		prec []float64
		want float64
	}{
		{[]float64{0.80, 0.82, 0.83, 0.83, 0.81, 0.79}, 0.5},
		{[]float64{0.80, 0.80, 0.79, 0.80, 0.78, 0.70}, 0},
		{[]float64{0.70, 0.71, 0.72, 0.73, 0.74, 0.75}, 4},
		{[]float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}, 0},
	} {
		pts := make([]AtRiskPoint, len(AtRiskWeights))
		for i, w := range AtRiskWeights {
			pts[i] = AtRiskPoint{W: w, Precision: c.prec[i]}
		}
		if got := bestAtRiskPoint(pts).W; got != c.want {
			t.Errorf("%v: weight %g, want %g", c.prec, got, c.want)
		}
	}
}

// TestAtRiskRankingChosenOnValidation: the slice run's at_risk ranking is
// the weight of the validation grid that bestAtRiskPoint chooses (nil for
// 0), the grid's precisions are those of the blend ranked over the
// validation cutoff's active customers, a ranking is calibrated there
// (its validation log-loss no worse than the blend's own, uncalibrated),
// and the band is tuned on the at_risk score: the definition flags
// AtRiskShare of the validation cutoff's active customers.
func TestAtRiskRankingChosenOnValidation(t *testing.T) {
	res := sliceRun(t)
	m, val := res.Model, &res.Data.Val
	set, err := defaultSegments()
	if err != nil {
		t.Fatal(err)
	}
	cfg := withSet(set)
	cfg.AtRiskShare = AtRiskShare
	pts, c, b, y := atRiskGrid(m, val, nil, cfg)
	if len(pts) != len(AtRiskWeights) {
		t.Fatalf("%d grid points", len(pts))
	}
	best := bestAtRiskPoint(pts)
	t.Logf("validation grid %+v: weight %g", pts, best.W)
	if got := res.Eval.AtRisk.Ranking; (best.W == 0) != (got == nil) || got != nil && got.W != best.W || got != m.AtRisk {
		t.Fatalf("ranking %+v, the grid chooses weight %g: %+v", got, best.W, pts)
	}
	var sc []float64
	var ya []int
	active := 0
	for i := range val.Examples {
		if isActive(&val.Examples[i]) {
			active++
			sc, ya = append(sc, 0), append(ya, y[i])
		}
	}
	k := int(math.Round(AtRiskShare * float64(active)))
	for _, p := range pts {
		j := 0
		for i := range val.Examples {
			if isActive(&val.Examples[i]) {
				sc[j] = c[i] + p.W*b[i]
				j++
			}
		}
		if want := metrics.PrecisionAtK(sc, ya, k); p.Precision != want {
			t.Errorf("weight %g: precision %v, ranked here %v", p.W, p.Precision, want)
		}
	}
	if r := m.AtRisk; r != nil {
		var raw, cal []float64
		for i := range val.Examples {
			v := c[i] + r.W*b[i]
			raw, cal = append(raw, sigmoid(v)), append(cal, sigmoid(r.Logit(c[i], b[i], 0)))
		}
		if metrics.LogLoss(cal, y) > metrics.LogLoss(raw, y)+1e-9 {
			t.Errorf("the ranking's calibration raised validation log-loss: %.4f > %.4f", metrics.LogLoss(cal, y), metrics.LogLoss(raw, y))
		}
	}
	_, _, members, act := atRiskThreshold(m, val, nil, cfg)
	if act != active || math.Abs(float64(members)-float64(k)) > math.Max(2, 0.01*float64(active)) {
		t.Errorf("the band flags %d of %d active validation customers, want about %d", members, act, k)
	}
}
