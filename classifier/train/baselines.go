package train

import (
	"math"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
	"github.com/segstream/segstream/classifier/metrics"
)

// baselines fits and scores the comparison models on the same customers.
func baselines(d *Data, tr []Example, y, yv, yt, y3, yv3, yt3 []int, base *classifier.Model, bgTest classifier.BGNBDParams, cfg Config) []Candidate {
	var out []Candidate
	// Majority class (from the training labels).
	maj := func(lbl []int, k int) int {
		c := make([]int, k)
		for _, v := range lbl {
			c[v]++
		}
		return argmaxInt(c)
	}
	mc, mv := maj(y, 2), maj(y3, 3)
	constScore := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(mc)
		}
		return s
	}
	constPred := func(n, v int) []int {
		p := make([]int, n)
		for i := range p {
			p[i] = v
		}
		return p
	}
	vs, ts := constScore(len(yv)), constScore(len(yt))
	out = append(out, Candidate{Name: "majority class",
		Churn: &Scored{ValScore: vs, TestScore: ts, Threshold: 0.5, Val: binaryReport(vs, yv, 0.5, false), Test: binaryReport(ts, yt, 0.5, false)},
		Value: &Scored{ValPred: constPred(len(yv3), mv), TestPred: constPred(len(yt3), mv), Val: metrics.Classify(constPred(len(yv3), mv), yv3, 3), Test: metrics.Classify(constPred(len(yt3), mv), yt3, 3)},
	})
	// Recency alone.
	rec := func(exs []Example) []float64 {
		s := make([]float64, len(exs))
		for i := range exs {
			if r := exs[i].View.RFM.RecencyDays; r != nil {
				s[i] = *r
			}
		}
		return s
	}
	rv, rt := rec(d.Val.Examples), rec(d.Test.Examples)
	thr, _ := metrics.BestThreshold(rv, yv)
	out = append(out, Candidate{Name: "recency alone",
		Churn: &Scored{ValScore: rv, TestScore: rt, Threshold: thr, Val: binaryReport(rv, yv, thr, false), Test: binaryReport(rt, yt, thr, false)}})
	// RFM-only logistic regressions: on log recency, log purchase days and
	// log spend (the transform segstream's features use), and on the raw
	// values standardised (the form of the reference figure).
	ext := classifier.Extractor{BGNBD: &base.BGNBD}
	logRFM := func(exs []Example) [][]float64 {
		return subset(standardised(matrix(ext, exs), base.Stats), []int{0, 3, 5})
	}
	out = append(out, rfmBaseline("RFM logistic regression", logRFM, tr, d, y, yv, yt, y3, yv3, yt3, cfg))
	out = append(out, rfmBaseline("RFM logistic regression, raw inputs", standardisedOn(rawRFM, tr), tr, d, y, yv, yt, y3, yv3, yt3, cfg))
	// BG/NBD: P(no purchase in 90 days) = 1 - P(>=1), fitted on the history
	// before each cutoff.
	bgv := base.BGNBD
	bg := func(p classifier.BGNBDParams, exs []Example) []float64 {
		s := make([]float64, len(exs))
		for i := range exs {
			o := exs[i].Obs
			s[i] = 1 - p.PBuy(o.X, o.TX, o.T, classifier.HorizonDays/7.0)
		}
		return s
	}
	bv, bt := bg(bgv, d.Val.Examples), bg(bgTest, d.Test.Examples)
	thr, _ = metrics.BestThreshold(bv, yv)
	out = append(out, Candidate{Name: "BG/NBD",
		Churn: &Scored{ValScore: bv, TestScore: bt, Prob: true, Threshold: thr, Val: binaryReport(bv, yv, thr, true), Test: binaryReport(bt, yt, thr, true)}})
	return out
}

// rfmBaseline fits an RFM-only churn head and value head on the inputs
// that in gives: L2 1e-4, threshold and value offsets chosen on validation.
func rfmBaseline(name string, in func([]Example) [][]float64, tr []Example, d *Data, y, yv, yt, y3, yv3, yt3 []int, cfg Config) Candidate {
	X, Xv, Xt := in(tr), in(d.Val.Examples), in(d.Test.Examples)
	sm, _ := FitSoftmax(X, y, Xv, yv, 2, classifier.TrainConfig{L2: 1e-4, Seed: cfg.Seed})
	pv, pt := probsOf(sm, Xv, 1), probsOf(sm, Xt, 1)
	thr, _ := metrics.BestThreshold(pv, yv)
	hv := fitValue(X, Xv, y3, yv3, []float64{1e-4}, cfg.Seed, 1, cfg.TuneValueOffsets, cfg.Log, "rfm")
	am := func(P [][]float64) []int {
		p := make([]int, len(P))
		for i := range P {
			p[i] = num.ArgmaxOffset(P[i], hv.offset)
		}
		return p
	}
	vpred, tpred := am(allProbs(hv.sm, Xv)), am(allProbs(hv.sm, Xt))
	return Candidate{Name: name,
		Churn: &Scored{ValScore: pv, TestScore: pt, Prob: true, Threshold: thr, Val: binaryReport(pv, yv, thr, true), Test: binaryReport(pt, yt, thr, true)},
		Value: &Scored{ValPred: vpred, TestPred: tpred, Val: metrics.Classify(vpred, yv3, 3), Test: metrics.Classify(tpred, yt3, 3)}}
}

// rawRFM is recency in days (tenure without a purchase), distinct purchase
// days and gross spend, untransformed.
func rawRFM(exs []Example) [][]float64 {
	out := make([][]float64, len(exs))
	for i := range exs {
		v := exs[i].View
		r := math.Max(v.TenureDays, 0)
		if v.RFM.RecencyDays != nil {
			r = math.Max(*v.RFM.RecencyDays, 0)
		}
		out[i] = []float64{r, float64(v.RFM.PurchaseDays), v.RFM.Monetary}
	}
	return out
}

// standardisedOn returns in followed by standardisation with statistics
// fitted on the training examples tr.
func standardisedOn(in func([]Example) [][]float64, tr []Example) func([]Example) [][]float64 {
	st := FitStats(in(tr))
	return func(exs []Example) [][]float64 { return standardised(in(exs), st) }
}

func argmaxInt(c []int) int {
	b := 0
	for i, v := range c {
		if v > c[b] {
			b = i
		}
	}
	return b
}
