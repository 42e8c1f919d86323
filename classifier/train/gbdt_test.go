package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
	"github.com/segstream/segstream/classifier/metrics"
)

// TestGBDT checks the tree learner on a problem a linear model cannot fit
// (XOR of two signs): deterministic, better than the prior, path
// attributions summing to the logits.
func TestGBDT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int) ([][]float64, []int, []int) {
		X := make([][]float64, n)
		y2, y3 := make([]int, n), make([]int, n)
		for i := range X {
			X[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
			if (X[i][0] > 0) != (X[i][1] > 0) {
				y2[i] = 1
			}
			y3[i] = y2[i]
			if X[i][2] > 1 {
				y3[i] = 2
			}
		}
		return X, y2, y3
	}
	X, y, y3 := gen(3000)
	Xv, yv, yv3 := gen(1000)
	cfg := classifier.GBDTConfig{Depth: 2, MaxRounds: 200}
	g := FitGBDT(X, y, Xv, yv, 2, 3, cfg)
	g2 := FitGBDT(X, y, Xv, yv, 2, 3, cfg)
	if fmt.Sprint(g.Trees) != fmt.Sprint(g2.Trees) {
		t.Fatal("two fits differ")
	}
	if !g.Valid(3) || len(g.Trees) == 0 {
		t.Fatalf("bad ensemble (%d rounds)", len(g.Trees))
	}
	score := make([]float64, len(Xv))
	var z [1]float64
	var abs [3]float64
	for i, x := range Xv {
		score[i] = g.Logits(x, z[:])[0]
		c := make([]float64, 3)
		b := g.Attribute(x, 0, c)
		if math.Abs(b+c[0]+c[1]+c[2]-score[i]) > 1e-9 {
			t.Fatalf("attributions sum to %v, logit %v", b+c[0]+c[1]+c[2], score[i])
		}
		for j := range abs {
			abs[j] += math.Abs(c[j])
		}
	}
	if abs[2] > abs[0] || abs[2] > abs[1] {
		t.Fatalf("mean |attribution| %v: the noise input (2) explains more than the signal", abs)
	}
	if auc := metrics.AUC(score, yv); auc < 0.9 {
		t.Fatalf("XOR validation AUC %.3f", auc)
	}
	g3 := FitGBDT(X, y3, Xv, yv3, 3, 3, cfg)
	pred := make([]int, len(Xv))
	for i, x := range Xv {
		pred[i] = num.Argmax(g3.Logits(x, make([]float64, 3)))
	}
	if r := metrics.Classify(pred, yv3, 3); r.MacroF1 < 0.85 {
		t.Fatalf("3-class macro-F1 %.3f", r.MacroF1)
	}
}
