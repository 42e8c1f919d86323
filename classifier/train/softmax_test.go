package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
	"github.com/segstream/segstream/classifier/metrics"
)

func synth(n, d, k int, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 2))
	W := make([][]float64, k)
	for c := range W {
		W[c] = make([]float64, d)
		for j := range W[c] {
			W[c][j] = rng.NormFloat64()
		}
	}
	X := make([][]float64, n)
	y := make([]int, n)
	for i := range X {
		X[i] = make([]float64, d)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
		z := make([]float64, k)
		for c := range z {
			z[c] = dot(W[c], X[i]) + rng.NormFloat64()
		}
		y[i] = num.Argmax(z)
	}
	return X, y
}

// TestSoftmaxGradient compares the analytic gradient of the weighted,
// L2-penalised cross-entropy with central differences.
func TestSoftmaxGradient(t *testing.T) {
	for _, tc := range []struct {
		name     string
		k        int
		l2       float64
		balanced bool
	}{
		{name: "binary", k: 2, l2: 0},
		{name: "3 classes with L2", k: 3, l2: 0.1},
		{name: "3 classes balanced", k: 3, l2: 0.01, balanced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			X, y := synth(60, 5, tc.k, 3)
			m := classifier.NewSoftmax(tc.k, 5)
			rng := rand.New(rand.NewPCG(9, 9))
			for i := range m.W {
				m.W[i] = rng.NormFloat64()
			}
			var sw []float64
			if tc.balanced {
				cw := ClassWeights(y, tc.k)
				for _, v := range y {
					sw = append(sw, cw[v])
				}
			}
			grad := make([]float64, len(m.W))
			SoftmaxLoss(m, X, y, sw, tc.l2, nil, grad)
			const h = 1e-6
			for i := range m.W {
				w := m.W[i]
				m.W[i] = w + h
				lp := SoftmaxLoss(m, X, y, sw, tc.l2, nil, nil)
				m.W[i] = w - h
				lm := SoftmaxLoss(m, X, y, sw, tc.l2, nil, nil)
				m.W[i] = w
				num := (lp - lm) / (2 * h)
				if math.Abs(num-grad[i]) > 1e-6*math.Max(1, math.Abs(num)) {
					t.Fatalf("w[%d]: analytic %.9f, numeric %.9f", i, grad[i], num)
				}
			}
		})
	}
}

func TestFitSoftmaxDeterministic(t *testing.T) {
	X, y := synth(800, 6, 3, 1)
	Xv, yv := synth(200, 6, 3, 1)
	a, la := FitSoftmax(X, y, Xv, yv, 3, classifier.TrainConfig{Seed: 7})
	b, lb := FitSoftmax(X, y, Xv, yv, 3, classifier.TrainConfig{Seed: 7})
	if !slices.Equal(a.W, b.W) || la != lb {
		t.Fatal("same seed, different weights")
	}
	c, _ := FitSoftmax(X, y, Xv, yv, 3, classifier.TrainConfig{Seed: 8})
	if slices.Equal(a.W, c.W) {
		t.Fatal("the seed has no effect")
	}
	// It learns: accuracy well above chance on held-out data.
	pred := make([]int, len(Xv))
	p := make([]float64, 3)
	for i, x := range Xv {
		pred[i] = num.Argmax(a.Probs(x, p))
	}
	if acc := metrics.Classify(pred, yv, 3).Accuracy; acc < 0.7 {
		t.Fatalf("held-out accuracy %.3f", acc)
	}
	if la.BestEpoch < 1 || la.BestEpoch > la.Epochs {
		t.Fatalf("fit log %+v", la)
	}
}
