package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAUCMatchesPairCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	n := 300
	s := make([]float64, n)
	y := make([]int, n)
	for i := range s {
		s[i] = math.Round(rng.NormFloat64()*4) / 4 // ties on purpose
		if rng.Float64() < 0.5+s[i]/8 {
			y[i] = 1
		}
	}
	var num, den float64
	for i := range s {
		for j := range s {
			if y[i] == 1 && y[j] == 0 {
				den++
				switch {
				case s[i] > s[j]:
					num++
				case s[i] == s[j]:
					num += 0.5
				}
			}
		}
	}
	if got, want := AUC(s, y), num/den; math.Abs(got-want) > 1e-12 {
		t.Fatalf("AUC %.12f, pair count %.12f", got, want)
	}
	// Trapezoid area under ROC() agrees.
	pts := ROC(s, y)
	var area float64
	for i := 1; i < len(pts); i++ {
		area += (pts[i].X - pts[i-1].X) * (pts[i].Y + pts[i-1].Y) / 2
	}
	if math.Abs(area-num/den) > 1e-9 {
		t.Fatalf("ROC area %.9f, want %.9f", area, num/den)
	}
}

func TestClassifyAndThreshold(t *testing.T) {
	r := Classify([]int{0, 1, 1, 0, 2, 2}, []int{0, 1, 0, 0, 2, 1}, 3)
	if r.Confusion[0][1] != 1 || r.Confusion[1][2] != 1 || r.PerClass[0].Precision != 1 || math.Abs(r.Accuracy-4.0/6) > 1e-12 {
		t.Fatalf("%+v", r)
	}
	s := []float64{0.1, 0.2, 0.3, 0.8, 0.9, 0.95}
	y := []int{0, 0, 0, 1, 1, 1}
	thr, f1 := BestThreshold(s, y)
	if f1 != 1 || thr <= 0.3 || thr > 0.8 {
		t.Fatalf("threshold %.3f macro-F1 %.3f", thr, f1)
	}
}
