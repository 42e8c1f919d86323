package train

import (
	"io"
	"math"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
	"github.com/segstream/segstream/classifier/metrics"
)

// matrix computes raw numeric features of a set.
func matrix(e classifier.Extractor, exs []Example) [][]float64 {
	X := make([][]float64, len(exs))
	for i := range exs {
		X[i] = e.Features(make([]float64, 0, len(classifier.NumericFeatures)), exs[i].View, exs[i].History)
	}
	return X
}

// FitStats computes means and standard deviations (1 where constant).
func FitStats(X [][]float64) classifier.Stats {
	d := len(X[0])
	s := classifier.Stats{Mean: make([]float64, d), Std: make([]float64, d)}
	for _, x := range X {
		for j, v := range x {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(len(X))
	}
	for _, x := range X {
		for j, v := range x {
			dv := v - s.Mean[j]
			s.Std[j] += dv * dv
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / float64(len(X)))
		if s.Std[j] < 1e-9 {
			s.Std[j] = 1
		}
	}
	return s
}

func labels(exs []Example, churn bool) []int {
	y := make([]int, len(exs))
	for i := range exs {
		if churn {
			y[i] = exs[i].Churn
		} else {
			y[i] = exs[i].Tier
		}
	}
	return y
}

func flatten(sets []Set) []Example {
	var out []Example
	for _, s := range sets {
		out = append(out, s.Examples...)
	}
	return out
}

// subset keeps the columns cols of every row (all when nil).
func subset(X [][]float64, cols []int) [][]float64 {
	if cols == nil {
		return X
	}
	out := make([][]float64, len(X))
	for i, x := range X {
		r := make([]float64, len(cols))
		for j, c := range cols {
			r[j] = x[c]
		}
		out[i] = r
	}
	return out
}

func standardised(X [][]float64, s classifier.Stats) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		r := append([]float64(nil), x...)
		s.Apply(r)
		out[i] = r
	}
	return out
}

// headFit is one trained head and its validation figures.
type headFit struct {
	sm     *classifier.Softmax
	cfg    classifier.TrainConfig
	log    classifier.FitLog
	valM   float64 // AUC (churn) or macro-F1 (value) on validation
	offset []float64
	thr    float64
	// features names the feature set ("all" or "v1").
	features string
	// auc and aucActive (churn): the validation AUC over all and over the
	// active customers (valM is their mean).
	auc, aucActive float64
}

func maskF(x []float64, m []bool) []float64 {
	var o []float64
	for i, ok := range m {
		if ok {
			o = append(o, x[i])
		}
	}
	return o
}

func maskI(x []int, m []bool) []int {
	var o []int
	for i, ok := range m {
		if ok {
			o = append(o, x[i])
		}
	}
	return o
}

// fitChurn tries the L2 grid and keeps the best validation score: the
// mean of the ROC AUC over all validation customers and over the active
// ones (act: a purchase in the last ActiveDays days, the population the
// at_risk list is drawn from), or the AUC alone when act is nil; the
// threshold maximises validation macro-F1.
func fitChurn(X, Xv [][]float64, y, yv []int, act []bool, grid []float64, seed uint64, seeds int, log io.Writer, name string) headFit {
	var best headFit
	best.valM = -1
	for _, l2 := range grid {
		cfg := classifier.TrainConfig{L2: l2, Seed: seed, Seeds: seeds}
		sm, fl := fitAveraged(X, y, Xv, yv, 2, cfg)
		pv := probsOf(sm, Xv, 1)
		auc := metrics.AUC(pv, yv)
		score := auc
		aucA := math.NaN()
		if act != nil {
			aucA = metrics.AUC(maskF(pv, act), maskI(yv, act))
			if !math.IsNaN(aucA) {
				score = (auc + aucA) / 2
			}
		}
		logf(log, "  %s churn l2=%g epochs=%d best=%d val_loss=%.4f val_auc=%.4f val_auc_active=%.4f\n", name, l2, fl.Epochs, fl.BestEpoch, fl.ValLoss, auc, aucA)
		if score > best.valM+1e-4 {
			best = headFit{sm: sm, cfg: cfg, log: fl, valM: score, auc: auc, aucActive: aucA}
		}
	}
	best.thr, _ = metrics.BestThreshold(probsOf(best.sm, Xv, 1), yv)
	softmaxDefaults(&best.cfg)
	return best
}

// fitValue tries the L2 grid with and without balanced class weights and
// keeps the best validation macro-F1 after tuning per-class log-offsets on
// validation.
func fitValue(X, Xv [][]float64, y, yv []int, grid []float64, seed uint64, seeds int, tune bool, log io.Writer, name string) headFit {
	var best headFit
	best.valM = -1
	for _, bal := range []bool{false, true} {
		for _, l2 := range grid {
			cfg := classifier.TrainConfig{L2: l2, Seed: seed, Balanced: bal, Seeds: seeds}
			sm, fl := fitAveraged(X, y, Xv, yv, 3, cfg)
			P := allProbs(sm, Xv)
			off, f1 := plainMacroF1(P, yv)
			if tune {
				off, f1 = tuneOffsets(P, yv)
			}
			logf(log, "  %s value l2=%g balanced=%v epochs=%d best=%d val_loss=%.4f val_macroF1=%.4f offsets=%.2f\n", name, l2, bal, fl.Epochs, fl.BestEpoch, fl.ValLoss, f1, off)
			if f1 > best.valM+1e-4 {
				best = headFit{sm: sm, cfg: cfg, log: fl, valM: f1, offset: off}
			}
		}
	}
	softmaxDefaults(&best.cfg)
	return best
}

func probsOf(sm *classifier.Softmax, X [][]float64, k int) []float64 {
	out := make([]float64, len(X))
	p := make([]float64, sm.Classes)
	for i, x := range X {
		out[i] = sm.Probs(x, p)[k]
	}
	return out
}

func allProbs(sm *classifier.Softmax, X [][]float64) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		out[i] = sm.Probs(x, make([]float64, sm.Classes))
	}
	return out
}

// plainMacroF1 is the macro-F1 of argmax p (no offsets).
func plainMacroF1(P [][]float64, y []int) ([]float64, float64) {
	pred := make([]int, len(P))
	for i, p := range P {
		pred[i] = num.ArgmaxOffset(p, nil)
	}
	return nil, metrics.Classify(pred, y, len(P[0])).MacroF1
}

// tuneOffsets searches per-class additive log-offsets (class 0 fixed at 0)
// on a grid that maximise macro-F1.
func tuneOffsets(P [][]float64, y []int) ([]float64, float64) {
	k := len(P[0])
	off := make([]float64, k)
	score := func(o []float64) float64 {
		pred := make([]int, len(P))
		for i, p := range P {
			pred[i] = num.ArgmaxOffset(p, o)
		}
		return metrics.Classify(pred, y, k).MacroF1
	}
	best := score(off)
	for round := 0; round < 3; round++ {
		for c := 1; c < k; c++ {
			for v := -2.0; v <= 2.0001; v += 0.1 {
				o := append([]float64(nil), off...)
				o[c] = math.Round(v*10) / 10
				if s := score(o); s > best+1e-9 {
					best, off = s, o
				}
			}
		}
	}
	return off, best
}

// AverageSeeds is how many fits (seeds Seed, Seed+1, ...) the weights of a
// head without text are averaged over (text heads: one fit, as the text
// grid is already the slow part): averaging linear heads is averaging
// their logits, a variance-reducing ensemble that is still one linear head
// (so it serves and explains the same way).
const AverageSeeds = 4

// fitAveraged fits cfg.Seeds softmax models (one when 0) with consecutive
// seeds and returns their average; the FitLog is the first fit's, with
// ValLoss the average's validation loss.
func fitAveraged(X [][]float64, y []int, Xv [][]float64, yv []int, classes int, cfg classifier.TrainConfig) (*classifier.Softmax, classifier.FitLog) {
	n := max(cfg.Seeds, 1)
	var avg *classifier.Softmax
	var fl classifier.FitLog
	for s := 0; s < n; s++ {
		c := cfg
		c.Seed = cfg.Seed + uint64(s)
		sm, l := FitSoftmax(X, y, Xv, yv, classes, c)
		if avg == nil {
			avg, fl = sm, l
			continue
		}
		for i, w := range sm.W {
			avg.W[i] += w
		}
	}
	for i := range avg.W {
		avg.W[i] /= float64(n)
	}
	var sw []float64
	if cfg.Balanced {
		cw := ClassWeights(yv, classes)
		sw = make([]float64, len(yv))
		for i, v := range yv {
			sw[i] = cw[v]
		}
	}
	if n > 1 {
		fl.ValLoss = SoftmaxLoss(avg, Xv, yv, sw, 0, nil, nil)
	}
	return avg, fl
}

// maskCols returns a copy of X with columns [from, to) set to zero.
func maskCols(X [][]float64, from, to int) [][]float64 {
	if from >= to {
		return X
	}
	out := make([][]float64, len(X))
	for i, x := range X {
		r := append([]float64(nil), x...)
		clear(r[from:to])
		out[i] = r
	}
	return out
}

// treeFit is one boosted head and its validation figures.
type treeFit struct {
	gb     *classifier.GBDT
	valM   float64
	thr    float64
	offset []float64
}

// fitChurnTrees tries cfg.TreeDepths and keeps the best validation AUC.
func fitChurnTrees(X, Xv [][]float64, y, yv []int, d int, cfg Config) treeFit {
	best := treeFit{valM: -1}
	for _, depth := range cfg.TreeDepths {
		gb := FitGBDT(X, y, Xv, yv, 2, d, classifier.GBDTConfig{Depth: depth})
		pv := make([]float64, len(Xv))
		var z [1]float64
		for i, x := range Xv {
			pv[i] = 1 / (1 + math.Exp(-gb.Logits(x[:d], z[:])[0]))
		}
		auc := metrics.AUC(pv, yv)
		logf(cfg.Log, "  trees churn depth=%d rounds=%d best=%d val_loss=%.4f val_auc=%.4f\n", depth, gb.Log.Epochs, gb.Log.BestEpoch, gb.Log.ValLoss, auc)
		if auc > best.valM+1e-4 {
			best = treeFit{gb: gb, valM: auc}
			best.thr, _ = metrics.BestThreshold(pv, yv)
		}
	}
	return best
}

// fitValueTrees tries cfg.TreeDepths with and without balanced class
// weights and keeps the best validation macro-F1 (after tuning offsets
// when cfg.TuneValueOffsets).
func fitValueTrees(X, Xv [][]float64, y, yv []int, d int, cfg Config) treeFit {
	best := treeFit{valM: -1}
	for _, bal := range []bool{false, true} {
		for _, depth := range cfg.TreeDepths {
			gb := FitGBDT(X, y, Xv, yv, 3, d, classifier.GBDTConfig{Depth: depth, Balanced: bal})
			P := make([][]float64, len(Xv))
			for i, x := range Xv {
				P[i] = gb.Logits(x[:d], make([]float64, 3))
				num.SoftmaxInPlace(P[i])
			}
			off, f1 := plainMacroF1(P, yv)
			if cfg.TuneValueOffsets {
				off, f1 = tuneOffsets(P, yv)
			}
			logf(cfg.Log, "  trees value depth=%d balanced=%v rounds=%d best=%d val_loss=%.4f val_macroF1=%.4f offsets=%.2f\n", depth, bal, gb.Log.Epochs, gb.Log.BestEpoch, gb.Log.ValLoss, f1, off)
			if f1 > best.valM+1e-4 {
				best = treeFit{gb: gb, valM: f1, offset: off}
			}
		}
	}
	return best
}
