package sentiment

import (
	"fmt"
	"math"
)

// ClassMetrics are one class's figures on a test set.
type ClassMetrics struct {
	Precision, Recall, F1 float64
	// Support is the number of test reviews of the class.
	Support int
}

// Metrics are a model's figures on a labelled test set, negative the
// class a score above the threshold predicts.
type Metrics struct {
	N        int
	Accuracy float64
	// CILow, CIHigh bound the accuracy's 95% Wilson score interval.
	CILow, CIHigh      float64
	Negative, Positive ClassMetrics
	MacroF1            float64
	// Confusion[true][predicted], 0 negative, 1 positive.
	Confusion [2][2]int
}

// Evaluate scores every text and compares P(negative) > threshold with
// its label.
func Evaluate(m *Model, texts []string, negative []bool, threshold float64) Metrics {
	pred := make([]bool, len(texts))
	for i, t := range texts {
		pred[i] = m.Negative(t) > threshold
	}
	return Compare(negative, pred)
}

// Compare scores predicted labels against the true ones (true: negative).
func Compare(negative, predicted []bool) Metrics {
	var mt Metrics
	mt.N = len(negative)
	for i, t := range negative {
		mt.Confusion[cls(t)][cls(predicted[i])]++
	}
	ok := mt.Confusion[0][0] + mt.Confusion[1][1]
	if mt.N > 0 {
		mt.Accuracy = float64(ok) / float64(mt.N)
		mt.CILow, mt.CIHigh = Wilson(ok, mt.N)
	}
	mt.Negative = classMetrics(mt.Confusion, 0)
	mt.Positive = classMetrics(mt.Confusion, 1)
	mt.MacroF1 = (mt.Negative.F1 + mt.Positive.F1) / 2
	return mt
}

func cls(negative bool) int {
	if negative {
		return 0
	}
	return 1
}

func classMetrics(c [2][2]int, k int) ClassMetrics {
	tp := c[k][k]
	predicted := c[0][k] + c[1][k]
	actual := c[k][0] + c[k][1]
	var m ClassMetrics
	m.Support = actual
	if predicted > 0 {
		m.Precision = float64(tp) / float64(predicted)
	}
	if actual > 0 {
		m.Recall = float64(tp) / float64(actual)
	}
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	return m
}

// Wilson is the 95% Wilson score interval of a proportion of ok in n.
func Wilson(ok, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p := float64(ok) / float64(n)
	nf := float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return mid - half, mid + half
}

// String is a one-line summary.
func (mt Metrics) String() string {
	return fmt.Sprintf("accuracy %.4f (95%% CI %.4f-%.4f) on %d; negative P %.4f R %.4f F1 %.4f; positive P %.4f R %.4f F1 %.4f; macro F1 %.4f",
		mt.Accuracy, mt.CILow, mt.CIHigh, mt.N,
		mt.Negative.Precision, mt.Negative.Recall, mt.Negative.F1,
		mt.Positive.Precision, mt.Positive.Recall, mt.Positive.F1, mt.MacroF1)
}
