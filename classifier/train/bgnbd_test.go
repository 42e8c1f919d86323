package train

import (
	"math"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
)

func TestFitBGNBDRecoversParameters(t *testing.T) {
	// Fitting maximises the likelihood: the fit is at least as good as the
	// generating parameters on a synthetic cohort, and close to them.
	truth := classifier.BGNBDParams{R: 0.8, Alpha: 6, A: 0.5, B: 2.5}
	obs := simulateBGNBD(truth, 3000, 52, 11)
	fit := FitBGNBD(obs)
	if fit.LL < TotalLogLik(truth, obs)-1e-6 {
		t.Fatalf("fit LL %.3f below the truth's %.3f", fit.LL, TotalLogLik(truth, obs))
	}
	if math.Abs(fit.R-truth.R)/truth.R > 0.2 || math.Abs(fit.Alpha-truth.Alpha)/truth.Alpha > 0.25 {
		t.Fatalf("fit %+v far from %+v", fit, truth)
	}
}

// TestBGNBDReference checks the reference fit on the full data
// (skipped when ../shared/data is not there).
func TestBGNBDReference(t *testing.T) {
	if testing.Short() {
		t.Skip("full data")
	}
	evs := fullEvents(t)
	c := time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC)
	sets, err := BuildSets(evs, []time.Time{c}, DefaultLimitsForTest)
	if err != nil {
		t.Fatal(err)
	}
	if n, rate := len(sets[0].Examples), 1-sets[0].ChurnRate(); n != 5251 || math.Abs(rate-0.427) > 0.001 {
		t.Fatalf("population %d, repeat rate %.4f; the data README says 5,251 and 42.7%%", n, rate)
	}
	p := FitBGNBD(obsOf(sets[0].Examples))
	t.Logf("r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.1f", p.R, p.Alpha, p.A, p.B, p.LL)
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{{"r", p.R, 0.638, 0.01}, {"alpha", p.Alpha, 9.02, 0.1}, {"a", p.A, 0.178, 0.005}, {"b", p.B, 2.92, 0.05}, {"LL", p.LL, -68345, 60}} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.4f, reference %.4f", c.name, c.got, c.want)
		}
	}
}
