package metrics

import (
	"math"
	"sort"

	"github.com/segstream/segstream/classifier"
)

// ROCPoint is one point of a ROC or precision-recall curve.
type ROCPoint struct{ X, Y float64 }

// AUC is the area under the ROC curve of score for the positive labels
// (y == 1); tied scores count one half (the Mann-Whitney statistic).
func AUC(score []float64, y []int) float64 {
	idx := sortedDesc(score)
	var pos, neg float64
	for _, v := range y {
		if v == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	// rank-sum with average ranks for ties, ascending ranks
	n := len(score)
	asc := make([]int, n)
	for i := range idx {
		asc[i] = idx[n-1-i]
	}
	var rankSum float64
	for i := 0; i < n; {
		j := i
		for j+1 < n && score[asc[j+1]] == score[asc[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			if y[asc[k]] == 1 {
				rankSum += r
			}
		}
		i = j + 1
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func sortedDesc(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	return idx
}

// sweep walks the examples by descending score and calls at once per
// distinct score, after the last example with it (position i in idx), with
// the positives (tp) and negatives (fp) scored at or above it and the
// positives and negatives in all.
func sweep(score []float64, y []int, at func(idx []int, i int, tp, fp, pos, neg float64)) {
	idx := sortedDesc(score)
	var pos float64
	for _, v := range y {
		if v == 1 {
			pos++
		}
	}
	neg := float64(len(y)) - pos
	var tp, fp float64
	for i := range idx {
		if y[idx[i]] == 1 {
			tp++
		} else {
			fp++
		}
		if i+1 < len(idx) && score[idx[i+1]] == score[idx[i]] {
			continue
		}
		at(idx, i, tp, fp, pos, neg)
	}
}

// ROC returns the ROC curve (false positive rate, true positive rate).
func ROC(score []float64, y []int) []ROCPoint {
	pts := []ROCPoint{{0, 0}}
	sweep(score, y, func(_ []int, _ int, tp, fp, pos, neg float64) {
		pts = append(pts, ROCPoint{fp / math.Max(neg, 1), tp / math.Max(pos, 1)})
	})
	return pts
}

// PR returns the precision-recall curve (recall, precision) and the average
// precision.
func PR(score []float64, y []int) ([]ROCPoint, float64) {
	var pts []ROCPoint
	var ap, prevR float64
	sweep(score, y, func(_ []int, _ int, tp, fp, pos, _ float64) {
		r, p := tp/math.Max(pos, 1), tp/(tp+fp)
		ap += (r - prevR) * p
		prevR = r
		pts = append(pts, ROCPoint{r, p})
	})
	return pts, ap
}

// CalBin is one bin of a calibration (reliability) curve.
type CalBin struct {
	MeanPred, FracPos float64
	N                 int
}

// Calibration bins predicted probabilities into bins equal-width bins.
func Calibration(prob []float64, y []int, bins int) []CalBin {
	out := make([]CalBin, bins)
	for i, p := range prob {
		b := min(int(p*float64(bins)), bins-1)
		b = max(b, 0)
		out[b].MeanPred += p
		out[b].FracPos += float64(y[i])
		out[b].N++
	}
	var res []CalBin
	for _, b := range out {
		if b.N > 0 {
			b.MeanPred /= float64(b.N)
			b.FracPos /= float64(b.N)
			res = append(res, b)
		}
	}
	return res
}

// Classify computes accuracy, per-class metrics, macro-F1 and the confusion
// matrix of predictions pred against labels y.
func Classify(pred, y []int, classes int) classifier.Report {
	r := classifier.Report{Confusion: make([][]int, classes), PerClass: make([]classifier.ClassMetrics, classes)}
	for k := range r.Confusion {
		r.Confusion[k] = make([]int, classes)
	}
	correct := 0
	for i := range y {
		r.Confusion[y[i]][pred[i]]++
		if y[i] == pred[i] {
			correct++
		}
	}
	if len(y) > 0 {
		r.Accuracy = float64(correct) / float64(len(y))
	}
	for k := 0; k < classes; k++ {
		var tp, fp, fn int
		for j := 0; j < classes; j++ {
			if j == k {
				tp = r.Confusion[k][k]
				continue
			}
			fn += r.Confusion[k][j]
			fp += r.Confusion[j][k]
		}
		cm := classifier.ClassMetrics{Support: tp + fn}
		if tp+fp > 0 {
			cm.Precision = float64(tp) / float64(tp+fp)
		}
		if tp+fn > 0 {
			cm.Recall = float64(tp) / float64(tp+fn)
		}
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		r.PerClass[k] = cm
		r.MacroF1 += cm.F1 / float64(classes)
	}
	return r
}

// BestThreshold returns the score threshold (predict positive when score >=
// threshold) that maximises the binary macro-F1 on (score, y).
func BestThreshold(score []float64, y []int) (thr, f1 float64) {
	f1 = -1
	sweep(score, y, func(idx []int, i int, tp, fp, pos, neg float64) {
		fn := pos - tp
		tn := neg - fp
		f1p := 2 * tp / math.Max(2*tp+fp+fn, 1)
		f1n := 2 * tn / math.Max(2*tn+fn+fp, 1)
		if m := (f1p + f1n) / 2; m > f1 {
			f1 = m
			if i+1 < len(idx) {
				thr = (score[idx[i]] + score[idx[i+1]]) / 2
			} else {
				thr = score[idx[i]]
			}
		}
	})
	return thr, f1
}

// LogLoss is the mean binary cross-entropy of probabilities p for labels y.
func LogLoss(p []float64, y []int) float64 {
	var s float64
	for i := range p {
		q := math.Min(math.Max(p[i], 1e-12), 1-1e-12)
		if y[i] == 1 {
			s -= math.Log(q)
		} else {
			s -= math.Log(1 - q)
		}
	}
	return s / float64(max(len(p), 1))
}

// Brier is the mean squared difference between probabilities p and labels
// y (0 or 1).
func Brier(p []float64, y []int) float64 {
	var s float64
	for i := range p {
		d := p[i] - float64(y[i])
		s += d * d
	}
	return s / float64(max(len(p), 1))
}

// ECE is the expected calibration error over bins equal-width bins: the
// mean over examples of |mean predicted - observed rate| of their bin.
func ECE(p []float64, y []int, bins int) float64 {
	var e float64
	for _, b := range Calibration(p, y, bins) {
		e += float64(b.N) * math.Abs(b.MeanPred-b.FracPos)
	}
	return e / float64(max(len(p), 1))
}

// Ranks are the 1-based ranks of x, ascending, ties given their mean rank.
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// Pearson is the correlation coefficient of x and y (NaN when either is
// constant).
func Pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Spearman is the rank correlation of x and y (ties at their mean rank).
func Spearman(x, y []float64) float64 { return Pearson(Ranks(x), Ranks(y)) }

// MAE is the mean absolute difference of pred and actual.
func MAE(pred, actual []float64) float64 {
	var s float64
	for i := range pred {
		s += math.Abs(pred[i] - actual[i])
	}
	return s / float64(max(len(pred), 1))
}

// PrecisionAtK is the share of positives (y == 1) among the k examples
// with the highest score (ties broken by position, stably).
func PrecisionAtK(score []float64, y []int, k int) float64 {
	if k <= 0 {
		return math.NaN()
	}
	idx := sortedDesc(score)
	k = min(k, len(idx))
	n := 0
	for _, i := range idx[:k] {
		n += y[i]
	}
	return float64(n) / float64(k)
}
