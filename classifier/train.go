package classifier

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
)

// TextEncoder embeds texts; *encoder.Encoder satisfies it. The classifier
// declares it so that it does not depend on ONNX Runtime.
type TextEncoder interface {
	Encode(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	ModelVersion() string
}

// Protocol is the out-of-time evaluation protocol: train on TrainCutoffs,
// choose everything (epochs, L2, class weights, thresholds) on ValCutoff,
// report once on TestCutoff.
type Protocol struct {
	TrainCutoffs []time.Time
	ValCutoff    time.Time
	TestCutoff   time.Time
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// DefaultProtocol trains at the first of every month from 2010-03-01 to
// 2010-12-01 (their label windows end before the validation cutoff),
// validates at 2011-03-01 and tests at 2011-09-01.
func DefaultProtocol() Protocol {
	var tr []time.Time
	for m := date(2010, 3, 1); !m.After(date(2010, 12, 1)); m = m.AddDate(0, 1, 0) {
		tr = append(tr, m)
	}
	return Protocol{TrainCutoffs: tr, ValCutoff: date(2011, 3, 1), TestCutoff: date(2011, 9, 1)}
}

// Validate checks the protocol for leaks: every training label window must
// end by the validation cutoff, whose window must end by the test cutoff.
func (p Protocol) Validate() error {
	if len(p.TrainCutoffs) == 0 || p.ValCutoff.IsZero() {
		return fmt.Errorf("protocol: need training cutoffs and a validation cutoff")
	}
	for _, c := range p.TrainCutoffs {
		if c.AddDate(0, 0, HorizonDays).After(p.ValCutoff) {
			return fmt.Errorf("protocol: training cutoff %s: its %d-day label window runs past the validation cutoff %s", c.Format(time.DateOnly), HorizonDays, p.ValCutoff.Format(time.DateOnly))
		}
	}
	if !p.TestCutoff.IsZero() && p.ValCutoff.AddDate(0, 0, HorizonDays).After(p.TestCutoff) {
		return fmt.Errorf("protocol: validation label window runs past the test cutoff %s", p.TestCutoff.Format(time.DateOnly))
	}
	return nil
}

// Config configures Train.
type Config struct {
	Protocol Protocol
	Limits   featurestore.Limits
	Seed     uint64
	// L2Grid and BalancedGrid are the hyper-parameters tried for each head;
	// the best on the validation cutoff wins (AUC for churn, macro-F1 for
	// value).
	L2Grid []float64
	// Text, when set, adds the profile text embedding as an input (and the
	// themes); ProfileText builds a profile's one text from its texts
	// (default: joined with " | ").
	Text        TextEncoder
	ProfileText func(texts []string) string
	// Catalogue is the product descriptions themes are learned from (Text only).
	Catalogue []string
	Themes    int // number of themes; default 12
	// TextScales multiply the unit-variance scale of the embedding; each is
	// tried (a per-group penalty). Default 1, 0.3, 0.1, 0.03.
	TextScales []float64
	// TextMinGain is how much the text model must beat the model without
	// text on validation (churn AUC + value macro-F1) to be shipped: text
	// costs an encoder run per profile change. Default 0.005.
	TextMinGain float64
	// TreeDepths, when set, are the depths of boosted-tree heads tried
	// for the model without text; a head's trees replace its linear scorer
	// when they beat it on validation by more than TreeMinGain (AUC for
	// churn, macro-F1 for value). Off by default: on the Online Retail
	// protocol they lose to the linear heads on validation.
	TreeDepths  []int
	TreeMinGain float64
	// TuneValueOffsets tunes per-class log-offsets of the value heads on
	// the validation cutoff to maximise its macro-F1 (and chooses L2 and
	// class weights with them). Off: the tier is the plain argmax.
	TuneValueOffsets bool
	// Refit refits the linear heads of the model without text on the
	// training and validation cutoffs once everything is chosen (see
	// refitHeads).
	Refit bool
	// Sources names the data files, for the model file.
	Sources []string
	Log     io.Writer
}

func (c *Config) setDefaults() {
	if len(c.Protocol.TrainCutoffs) == 0 {
		c.Protocol = DefaultProtocol()
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if len(c.L2Grid) == 0 {
		c.L2Grid = []float64{1e-4, 1e-3, 1e-2}
	}
	if c.ProfileText == nil {
		c.ProfileText = func(t []string) string { return strings.Join(t, " | ") }
	}
	if len(c.TextScales) == 0 {
		c.TextScales = []float64{1, 0.3, 0.1, 0.03}
	}
	if c.TextMinGain == 0 {
		c.TextMinGain = 0.005
	}
	if c.Themes == 0 {
		c.Themes = 12
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Data is the point-in-time data of one protocol: the training, validation
// and (when the protocol has one) test sets, plus the event range they came
// from.
type Data struct {
	Train      []Set
	Val        Set
	Test       *Set
	FirstEvent time.Time
	LastEvent  time.Time
	Events     int
}

// BuildData folds evs once for every cutoff of p.
func BuildData(evs []*events.Event, p Protocol, lim featurestore.Limits) (*Data, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cut := append([]time.Time(nil), p.TrainCutoffs...)
	cut = append(cut, p.ValCutoff)
	if !p.TestCutoff.IsZero() {
		cut = append(cut, p.TestCutoff)
	}
	sort.Slice(cut, func(i, j int) bool { return cut[i].Before(cut[j]) })
	sets, err := BuildSets(evs, cut, lim)
	if err != nil {
		return nil, err
	}
	d := &Data{Events: len(evs)}
	if len(evs) > 0 {
		d.FirstEvent, d.LastEvent = evs[0].TS.UTC(), evs[len(evs)-1].TS.UTC()
	}
	for i := range sets {
		s := sets[i]
		switch {
		case s.Cutoff.Equal(p.ValCutoff):
			d.Val = s
		case !p.TestCutoff.IsZero() && s.Cutoff.Equal(p.TestCutoff):
			d.Test = &sets[i]
		default:
			d.Train = append(d.Train, s)
		}
	}
	return d, nil
}

// matrix computes raw numeric features of a set.
func (e Extractor) matrix(exs []Example) [][]float64 {
	X := make([][]float64, len(exs))
	for i := range exs {
		X[i] = e.Features(make([]float64, 0, len(NumericFeatures)), exs[i].View, exs[i].History)
	}
	return X
}

// Stats are per-feature standardisation statistics.
type Stats struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// FitStats computes means and standard deviations (1 where constant).
func FitStats(X [][]float64) Stats {
	d := len(X[0])
	s := Stats{Mean: make([]float64, d), Std: make([]float64, d)}
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

// Apply standardises x in place.
func (s Stats) Apply(x []float64) {
	for j := range s.Mean {
		x[j] = (x[j] - s.Mean[j]) / s.Std[j]
	}
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

func standardised(X [][]float64, s Stats) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		r := append([]float64(nil), x...)
		s.Apply(r)
		out[i] = r
	}
	return out
}

func appendText(X [][]float64, emb [][]float32, scale float64) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		r := make([]float64, 0, len(x)+len(emb[i]))
		r = append(r, x...)
		for _, v := range emb[i] {
			r = append(r, float64(v)*scale)
		}
		out[i] = r
	}
	return out
}

// headFit is one trained head and its validation figures.
type headFit struct {
	sm     *Softmax
	cfg    TrainConfig
	log    FitLog
	valM   float64 // AUC (churn) or macro-F1 (value) on validation
	offset []float64
	thr    float64
	// features names the feature set ("all" or "v1").
	features string
}

// fitChurn tries the L2 grid and keeps the best validation AUC; the
// threshold maximises validation macro-F1.
func fitChurn(X, Xv [][]float64, y, yv []int, grid []float64, seed uint64, seeds int, log io.Writer, name string) headFit {
	var best headFit
	best.valM = -1
	for _, l2 := range grid {
		cfg := TrainConfig{L2: l2, Seed: seed, Seeds: seeds}
		sm, fl := fitAveraged(X, y, Xv, yv, 2, cfg)
		pv := probsOf(sm, Xv, 1)
		auc := AUC(pv, yv)
		fmt.Fprintf(log, "  %s churn l2=%g epochs=%d best=%d val_loss=%.4f val_auc=%.4f\n", name, l2, fl.Epochs, fl.BestEpoch, fl.ValLoss, auc)
		if auc > best.valM+1e-4 {
			best = headFit{sm: sm, cfg: cfg, log: fl, valM: auc}
		}
	}
	best.thr, _ = BestThreshold(probsOf(best.sm, Xv, 1), yv)
	best.cfg.setDefaults()
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
			cfg := TrainConfig{L2: l2, Seed: seed, Balanced: bal, Seeds: seeds}
			sm, fl := fitAveraged(X, y, Xv, yv, 3, cfg)
			P := allProbs(sm, Xv)
			off, f1 := plainMacroF1(P, yv)
			if tune {
				off, f1 = tuneOffsets(P, yv)
			}
			fmt.Fprintf(log, "  %s value l2=%g balanced=%v epochs=%d best=%d val_loss=%.4f val_macroF1=%.4f offsets=%.2f\n", name, l2, bal, fl.Epochs, fl.BestEpoch, fl.ValLoss, f1, off)
			if f1 > best.valM+1e-4 {
				best = headFit{sm: sm, cfg: cfg, log: fl, valM: f1, offset: off}
			}
		}
	}
	best.cfg.setDefaults()
	return best
}

func probsOf(sm *Softmax, X [][]float64, k int) []float64 {
	out := make([]float64, len(X))
	p := make([]float64, sm.Classes)
	for i, x := range X {
		out[i] = sm.Probs(x, p)[k]
	}
	return out
}

func allProbs(sm *Softmax, X [][]float64) [][]float64 {
	out := make([][]float64, len(X))
	for i, x := range X {
		out[i] = sm.Probs(x, make([]float64, sm.Classes))
	}
	return out
}

// argmaxOffset picks argmax_k log p_k + off_k.
func argmaxOffset(p []float64, off []float64) int {
	best, bk := math.Inf(-1), 0
	for k, v := range p {
		s := math.Log(math.Max(v, 1e-300))
		if off != nil {
			s += off[k]
		}
		if s > best {
			best, bk = s, k
		}
	}
	return bk
}

// plainMacroF1 is the macro-F1 of argmax p (no offsets).
func plainMacroF1(P [][]float64, y []int) ([]float64, float64) {
	pred := make([]int, len(P))
	for i, p := range P {
		pred[i] = argmaxOffset(p, nil)
	}
	return nil, Classify(pred, y, len(P[0])).MacroF1
}

// tuneOffsets searches per-class additive log-offsets (class 0 fixed at 0)
// on a grid that maximise macro-F1.
func tuneOffsets(P [][]float64, y []int) ([]float64, float64) {
	k := len(P[0])
	off := make([]float64, k)
	score := func(o []float64) float64 {
		pred := make([]int, len(P))
		for i, p := range P {
			pred[i] = argmaxOffset(p, o)
		}
		return Classify(pred, y, k).MacroF1
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
// grid is already the slow part): averaging linear heads is averaging their logits, a
// variance-reducing ensemble that is still one linear head (so it serves
// and explains the same way).
const AverageSeeds = 4

// fitAveraged fits cfg.Seeds softmax models (one when 0) with consecutive
// seeds and returns their average; the FitLog is the first fit's, with
// ValLoss the average's validation loss.
func fitAveraged(X [][]float64, y []int, Xv [][]float64, yv []int, classes int, cfg TrainConfig) (*Softmax, FitLog) {
	n := max(cfg.Seeds, 1)
	var avg *Softmax
	var fl FitLog
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
		fl.ValLoss = avg.Loss(Xv, yv, sw, 0, nil, nil)
	}
	return avg, fl
}
