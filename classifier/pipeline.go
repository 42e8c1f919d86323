package classifier

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/segstream/segstream/events"
)

// Scored holds one candidate's predictions for one head on the validation
// and test cutoffs.
type Scored struct {
	// ValScore and TestScore (churn head): higher means more likely to churn.
	ValScore, TestScore []float64
	// Prob says the scores are probabilities (calibration is meaningful).
	Prob bool
	// Threshold (churn head): predict churn at or above it; chosen on validation.
	Threshold float64
	// TestPred are the predicted classes on the test cutoff.
	ValPred, TestPred []int
	Val, Test         Report
}

// Candidate is one model or baseline in the comparison.
type Candidate struct {
	Name  string
	Churn *Scored // nil when the candidate has no churn score
	Value *Scored // nil when the candidate does not predict tiers
}

// Result is what Run produces.
type Result struct {
	// Model is the one to ship: WithText when it beat NoText on the
	// validation cutoff (churn AUC plus value macro-F1), else NoText.
	Model      *Model
	NoText     *Model
	WithText   *Model
	TextWins   bool
	Data       *Data
	Candidates []Candidate
	// BGNBDTest is the BG/NBD baseline fitted on all history before the test cutoff.
	BGNBDTest BGNBDParams
	TrainTime time.Duration
	// NoTextFitTime is the time spent fitting the heads without text (the
	// hyper-parameter grid included).
	NoTextFitTime time.Duration
}

// Run builds the point-in-time sets, fits both heads (without and, with
// cfg.Text, with the text embedding), the themes and the baselines, and
// scores everything on the validation and test cutoffs. Every choice is
// made on the validation cutoff.
func Run(ctx context.Context, evs []*events.Event, cfg Config) (*Result, error) {
	cfg.setDefaults()
	start := time.Now()
	pt, memo := cfg.ProfileText, map[string]string{}
	cfg.ProfileText = func(t []string) string { // called several times per example
		k := strings.Join(t, "\x00")
		if v, ok := memo[k]; ok {
			return v
		}
		v := pt(t)
		memo[k] = v
		return v
	}
	d, err := BuildData(evs, cfg.Protocol, cfg.Limits)
	if err != nil {
		return nil, err
	}
	for _, s := range append(append([]Set(nil), d.Train...), d.Val) {
		if len(s.Examples) == 0 {
			return nil, fmt.Errorf("cutoff %s has no customers with a purchase before it: is the data range right?", s.Cutoff.Format(time.DateOnly))
		}
	}
	tr := flatten(d.Train)
	fmt.Fprintf(cfg.Log, "data: %d events %s..%s; %d training rows at %d cutoffs, %d validation (%s)",
		len(evs), d.FirstEvent.Format(time.DateOnly), d.LastEvent.Format(time.DateOnly), len(tr), len(d.Train), len(d.Val.Examples), d.Val.Cutoff.Format(time.DateOnly))
	if d.Test != nil {
		fmt.Fprintf(cfg.Log, ", %d test (%s)", len(d.Test.Examples), d.Test.Cutoff.Format(time.DateOnly))
	}
	fmt.Fprintln(cfg.Log)

	base := &Model{
		Format: ModelFormat, FormatVersion: ModelFormatVersion, Name: "segstream-churn-value",
		FeatureVersion: FeatureVersion, Features: NumericFeatures, Seed: cfg.Seed,
		BGNBD: FitBGNBD(obsOf(d.Val.Examples)),
		Data: DataRange{Sources: cfg.Sources, FirstEvent: d.FirstEvent, LastEvent: d.LastEvent,
			TrainCutoffs: cfg.Protocol.TrainCutoffs, ValCutoff: cfg.Protocol.ValCutoff, TestCutoff: cfg.Protocol.TestCutoff,
			TrainRows: len(tr), HorizonDays: HorizonDays},
	}
	fmt.Fprintf(cfg.Log, "bgnbd (history before %s): r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.1f\n",
		d.Val.Cutoff.Format(time.DateOnly), base.BGNBD.R, base.BGNBD.Alpha, base.BGNBD.A, base.BGNBD.B, base.BGNBD.LL)
	ext := Extractor{BGNBD: &base.BGNBD}
	base.Stats = FitStats(ext.matrix(tr))

	y, yv := labels(tr, true), labels(d.Val.Examples, true)
	y3, yv3 := labels(tr, false), labels(d.Val.Examples, false)
	var yt, yt3 []int
	if d.Test != nil {
		yt, yt3 = labels(d.Test.Examples, true), labels(d.Test.Examples, false)
	}
	res := &Result{Data: d}

	// Without text.
	noText := *base
	noText.Name += "-notext"
	t0 := time.Now()
	if err := fitHeads(&noText, d, nil, cfg); err != nil {
		return nil, err
	}
	res.NoText = &noText
	res.NoTextFitTime = time.Since(t0)

	// With text.
	var embs map[string][]float32 // profile text -> embedding
	if cfg.Text != nil {
		embs, err = embedAll(ctx, d, cfg)
		if err != nil {
			return nil, err
		}
		wt := *base
		wt.Name += "-text"
		wt.Embedding = &EmbeddingSpec{Encoder: cfg.Text.ModelVersion(), Dim: cfg.Text.Dim()}
		wt.Text = textSpec(tr, embs, cfg)
		if err := fitHeads(&wt, d, embs, cfg); err != nil {
			return nil, err
		}
		res.WithText = &wt
		if len(cfg.Catalogue) > 0 {
			ce, err := cfg.Text.Encode(ctx, cfg.Catalogue)
			if err != nil {
				return nil, fmt.Errorf("embedding the catalogue: %w", err)
			}
			themes := LearnThemes(cfg.Catalogue, ce, cfg.Themes, cfg.Seed)
			minSim := interestThreshold(d.Val.Examples, embs, themes, cfg.ProfileText)
			fmt.Fprintf(cfg.Log, "themes: %d from %d catalogue texts; interest threshold %.3f (25th percentile of validation users' best-theme similarity)\n", len(themes), len(cfg.Catalogue), minSim)
			for _, m := range []*Model{&wt, &noText} {
				m.Themes = themes
				m.Embedding = wt.Embedding
				m.Rules.InterestMinSim = minSim
			}
		}
		vm := func(m *Model) float64 {
			return m.Metrics["validation"].Churn.AUC + m.Metrics["validation"].Value.MacroF1
		}
		res.TextWins = vm(&wt) > vm(&noText)+cfg.TextMinGain
		fmt.Fprintf(cfg.Log, "validation: churn AUC %.4f (no text) vs %.4f (text); value macro-F1 %.4f vs %.4f: text %s\n",
			noText.Metrics["validation"].Churn.AUC, wt.Metrics["validation"].Churn.AUC,
			noText.Metrics["validation"].Value.MacroF1, wt.Metrics["validation"].Value.MacroF1,
			map[bool]string{true: "wins", false: fmt.Sprintf("does not win by the required %.3f", cfg.TextMinGain)}[res.TextWins])
	}
	res.Model = res.NoText
	if res.TextWins {
		res.Model = res.WithText
	}
	res.TrainTime = time.Since(start)

	// Candidates for the report.
	if d.Test != nil {
		res.BGNBDTest = FitBGNBD(obsOf(d.Test.Examples))
		res.Candidates = baselines(d, tr, y, yv, yt, y3, yv3, yt3, base, res.BGNBDTest, cfg)
		res.Candidates = append(res.Candidates, modelCandidate("segstream (no text)", res.NoText, d, nil, cfg.ProfileText))
		if res.WithText != nil {
			res.Candidates = append(res.Candidates, modelCandidate("segstream (text)", res.WithText, d, embs, cfg.ProfileText))
		}
	}
	return res, nil
}

func obsOf(exs []Example) []BGNBDObs {
	o := make([]BGNBDObs, len(exs))
	for i := range exs {
		o[i] = exs[i].Obs
	}
	return o
}

func viewTexts(e *Example) []string {
	ts := make([]string, len(e.View.Texts))
	for i, t := range e.View.Texts {
		ts[i] = t.Text
	}
	return ts
}

// embedAll embeds the profile text of every example (deduplicated).
func embedAll(ctx context.Context, d *Data, cfg Config) (map[string][]float32, error) {
	sets := append([]Set{d.Val}, d.Train...)
	if d.Test != nil {
		sets = append([]Set{*d.Test}, sets...)
	}
	out := map[string][]float32{}
	var todo []string
	for _, s := range sets {
		for i := range s.Examples {
			t := cfg.ProfileText(viewTexts(&s.Examples[i]))
			if _, ok := out[t]; !ok {
				out[t] = nil
				todo = append(todo, t)
			}
		}
	}
	fmt.Fprintf(cfg.Log, "text: embedding %d distinct profile texts with %s\n", len(todo), cfg.Text.ModelVersion())
	t0 := time.Now()
	for s := 0; s < len(todo); s += 1024 {
		e := min(s+1024, len(todo))
		vs, err := cfg.Text.Encode(ctx, todo[s:e])
		if err != nil {
			return nil, fmt.Errorf("embedding profile texts: %w", err)
		}
		for i, v := range vs {
			out[todo[s+i]] = v
		}
		if s > 0 {
			fmt.Fprintf(cfg.Log, "  %d/%d (%s)\n", e, len(todo), time.Since(t0).Round(time.Second))
		}
	}
	return out, nil
}

// textSpec centres the embedding on the training mean and scales it so the
// average dimension has unit variance, like the standardised numbers.
func textSpec(tr []Example, embs map[string][]float32, cfg Config) *TextSpec {
	dim := cfg.Text.Dim()
	ts := &TextSpec{Dim: dim, Mean: make([]float64, dim)}
	vecs := make([][]float32, len(tr))
	for i := range tr {
		vecs[i] = embs[cfg.ProfileText(viewTexts(&tr[i]))]
		for j, v := range vecs[i] {
			ts.Mean[j] += float64(v) / float64(len(tr))
		}
	}
	var vs float64
	for _, e := range vecs {
		for j, v := range e {
			dv := float64(v) - ts.Mean[j]
			vs += dv * dv
		}
	}
	vs /= float64(len(tr) * dim)
	ts.Scale = 1 / math.Sqrt(math.Max(vs, 1e-12))
	return ts
}

// inputMatrix builds the heads' inputs with the model's own inputs method.
func inputMatrix(m *Model, exs []Example, embs map[string][]float32, pt func([]string) string) [][]float64 {
	X := make([][]float64, len(exs))
	for i := range exs {
		var emb []float32
		if embs != nil {
			emb = embs[pt(viewTexts(&exs[i]))]
		}
		_, X[i], _ = m.inputs(exs[i].View, exs[i].History, emb)
	}
	return X
}

// fitHeads trains both heads of m and records validation (and test) metrics.
func fitHeads(m *Model, d *Data, embs map[string][]float32, cfg Config) error {
	tr := flatten(d.Train)
	y, yv := labels(tr, true), labels(d.Val.Examples, true)
	y3, yv3 := labels(tr, false), labels(d.Val.Examples, false)
	t0 := time.Now()
	fit := func(grid []float64) (headFit, headFit) {
		X := inputMatrix(m, tr, embs, cfg.ProfileText)
		Xv := inputMatrix(m, d.Val.Examples, embs, cfg.ProfileText)
		// Each head chooses on validation between all features and the v1
		// subset (the history features' columns held at zero, so their
		// weights stay zero).
		// (Without text only; the text model uses all features and one seed.)
		type featureSet struct {
			name string
			from int
		}
		sets, seeds := []featureSet{{"all", len(NumericFeatures)}}, 1
		if m.Text == nil {
			sets, seeds = append(sets, featureSet{"v1", numFeaturesV1}), AverageSeeds
		}
		var bc, bv headFit
		for _, fs := range sets {
			Xm, Xvm := maskCols(X, fs.from, len(NumericFeatures)), maskCols(Xv, fs.from, len(NumericFeatures))
			name := m.Name + " features=" + fs.name
			c, v := fitChurn(Xm, Xvm, y, yv, grid, cfg.Seed, seeds, cfg.Log, name), fitValue(Xm, Xvm, y3, yv3, grid, cfg.Seed, seeds, cfg.TuneValueOffsets, cfg.Log, name)
			c.features, v.features = fs.name, fs.name
			for _, h := range []headFit{c, v} { // masked inputs get no weight
				for k := 0; k < h.sm.Classes; k++ {
					clear(h.sm.Row(k)[fs.from:len(NumericFeatures)])
				}
			}
			if c.valM > bc.valM+1e-4 || bc.sm == nil {
				bc = c
			}
			if v.valM > bv.valM+1e-4 || bv.sm == nil {
				bv = v
			}
		}
		return bc, bv
	}
	var hc, hv headFit
	if m.Text == nil {
		hc, hv = fit(cfg.L2Grid)
	} else {
		// The embedding's scale is a per-group penalty: a smaller scale
		// shrinks the text weights harder than the numeric ones. It is
		// chosen with L2 on the validation cutoff (AUC + macro-F1).
		base := m.Text.Scale
		best, bestScale := -1.0, base
		for _, mult := range cfg.TextScales {
			m.Text.Scale = base * mult
			fmt.Fprintf(cfg.Log, "  %s text scale x%g\n", m.Name, mult)
			c, v := fit(cfg.L2Grid)
			if c.valM+v.valM > best+1e-4 {
				best, bestScale, hc, hv = c.valM+v.valM, m.Text.Scale, c, v
			}
		}
		m.Text.Scale = bestScale
		fmt.Fprintf(cfg.Log, "%s: text scale %.4g (x%.3g of unit variance)\n", m.Name, bestScale, bestScale/base)
	}
	fmt.Fprintf(cfg.Log, "%s: churn l2=%g (val AUC %.4f, threshold %.3f), value l2=%g balanced=%v (val macro-F1 %.4f) in %s\n",
		m.Name, hc.cfg.L2, hc.valM, hc.thr, hv.cfg.L2, hv.cfg.Balanced, hv.valM, time.Since(t0).Round(time.Millisecond))
	fmt.Fprintf(cfg.Log, "%s: features: churn %s, value %s\n", m.Name, hc.features, hv.features)
	m.Churn = Head{Classes: []string{"buys", "churns"}, Softmax: hc.sm, Train: hc.cfg, Fit: hc.log, Threshold: hc.thr, FeatureSet: hc.features}
	m.Value = Head{Classes: TierNames, Softmax: hv.sm, Train: hv.cfg, Fit: hv.log, Offsets: hv.offset, FeatureSet: hv.features}
	if len(cfg.TreeDepths) > 0 && m.Text == nil {
		// Boosted trees on the same numeric inputs, kept per head only
		// when they beat the linear head on the validation cutoff.
		t1 := time.Now()
		X := inputMatrix(m, tr, nil, cfg.ProfileText)
		Xv := inputMatrix(m, d.Val.Examples, nil, cfg.ProfileText)
		n := len(NumericFeatures)
		tc := fitChurnTrees(X, Xv, y, yv, n, cfg)
		if tc.valM > hc.valM+cfg.TreeMinGain {
			m.Churn.GBDT, m.Churn.Threshold = tc.gb, tc.thr
		}
		tv := fitValueTrees(X, Xv, y3, yv3, n, cfg)
		if tv.valM > hv.valM+cfg.TreeMinGain {
			m.Value.GBDT, m.Value.Offsets = tv.gb, tv.offset
		}
		fmt.Fprintf(cfg.Log, "%s: trees: churn val AUC %.4f vs linear %.4f (%s), value val macro-F1 %.4f vs linear %.4f (%s) in %s\n",
			m.Name, tc.valM, hc.valM, map[bool]string{true: "trees", false: "linear"}[m.Churn.GBDT != nil],
			tv.valM, hv.valM, map[bool]string{true: "trees", false: "linear"}[m.Value.GBDT != nil], time.Since(t1).Round(time.Millisecond))
	}
	m.Rules = DefaultRules.WithDefaults(m.Churn.Threshold)
	m.SchemaHash = SchemaHash(NumericFeatures, m.TextDim())
	m.Metrics = map[string]HeadMetrics{"validation": headMetrics(m, d.Val.Examples, embs, cfg.ProfileText)}
	if cfg.Refit && m.Text == nil {
		refitHeads(m, d, cfg)
	}
	if d.Test != nil {
		m.Metrics["test"] = headMetrics(m, d.Test.Examples, embs, cfg.ProfileText)
	}
	return nil
}

// predict scores examples with the model's Score (the serving path).
func predict(m *Model, exs []Example, embs map[string][]float32, pt func([]string) string) (churn []float64, tier []int, tierP [][]float64) {
	for i := range exs {
		var emb []float32
		if embs != nil {
			emb = embs[pt(viewTexts(&exs[i]))]
		}
		s := m.ScoreHistory(exs[i].View, exs[i].History, emb)
		churn = append(churn, s.ChurnRisk)
		tier = append(tier, s.TierClass)
		tierP = append(tierP, s.Tier[:])
	}
	return
}

func headMetrics(m *Model, exs []Example, embs map[string][]float32, pt func([]string) string) HeadMetrics {
	p, tier, _ := predict(m, exs, embs, pt)
	y, y3 := labels(exs, true), labels(exs, false)
	return HeadMetrics{Churn: binaryReport(p, y, m.Churn.Threshold, true), Value: Classify(tier, y3, 3)}
}

func binaryReport(score []float64, y []int, thr float64, prob bool) Report {
	pred := make([]int, len(score))
	for i, s := range score {
		if s >= thr {
			pred[i] = 1
		}
	}
	r := Classify(pred, y, 2)
	r.AUC = AUC(score, y)
	_, r.AP = PR(score, y)
	if prob {
		r.LogLoss = LogLoss(score, y)
	}
	return r
}

func modelCandidate(name string, m *Model, d *Data, embs map[string][]float32, ptf func([]string) string) Candidate {
	vp, vt, _ := predict(m, d.Val.Examples, embs, ptf)
	tp, tt, _ := predict(m, d.Test.Examples, embs, ptf)
	y, yv := labels(d.Test.Examples, true), labels(d.Val.Examples, true)
	y3, yv3 := labels(d.Test.Examples, false), labels(d.Val.Examples, false)
	c := Candidate{Name: name,
		Churn: &Scored{ValScore: vp, TestScore: tp, Prob: true, Threshold: m.Churn.Threshold,
			Val: binaryReport(vp, yv, m.Churn.Threshold, true), Test: binaryReport(tp, y, m.Churn.Threshold, true)},
		Value: &Scored{ValPred: vt, TestPred: tt, Val: Classify(vt, yv3, 3), Test: Classify(tt, y3, 3)},
	}
	if vm, ok := m.Metrics["validation"]; ok && (m.Churn.Refit || m.Value.Refit) {
		// A refitted model has seen the validation labels: report the
		// figures the choices were made on.
		c.Churn.Val, c.Value.Val = vm.Churn, vm.Value
	}
	return c
}

// baselines fits and scores the comparison models on the same customers.
func baselines(d *Data, tr []Example, y, yv, yt, y3, yv3, yt3 []int, base *Model, bgTest BGNBDParams, cfg Config) []Candidate {
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
		Value: &Scored{ValPred: constPred(len(yv3), mv), TestPred: constPred(len(yt3), mv), Val: Classify(constPred(len(yv3), mv), yv3, 3), Test: Classify(constPred(len(yt3), mv), yt3, 3)},
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
	thr, _ := BestThreshold(rv, yv)
	out = append(out, Candidate{Name: "recency alone",
		Churn: &Scored{ValScore: rv, TestScore: rt, Threshold: thr, Val: binaryReport(rv, yv, thr, false), Test: binaryReport(rt, yt, thr, false)}})
	// RFM-only logistic regressions: on log recency, log purchase days and
	// log spend (the transform segstream's features use), and on the raw
	// values standardised (the form of the reference figure).
	ext := Extractor{BGNBD: &base.BGNBD}
	logRFM := func(exs []Example) [][]float64 {
		return subset(standardised(ext.matrix(exs), base.Stats), []int{0, 3, 5})
	}
	out = append(out, rfmBaseline("RFM logistic regression", logRFM, tr, d, y, yv, yt, y3, yv3, yt3, cfg))
	out = append(out, rfmBaseline("RFM logistic regression, raw inputs", standardisedOn(rawRFM, tr), tr, d, y, yv, yt, y3, yv3, yt3, cfg))
	// BG/NBD: P(no purchase in 90 days) = 1 - P(>=1), fitted on the history
	// before each cutoff.
	bgv := base.BGNBD
	bg := func(p BGNBDParams, exs []Example) []float64 {
		s := make([]float64, len(exs))
		for i := range exs {
			o := exs[i].Obs
			s[i] = 1 - p.PBuy(o.X, o.TX, o.T, HorizonDays/7.0)
		}
		return s
	}
	bv, bt := bg(bgv, d.Val.Examples), bg(bgTest, d.Test.Examples)
	thr, _ = BestThreshold(bv, yv)
	out = append(out, Candidate{Name: "BG/NBD",
		Churn: &Scored{ValScore: bv, TestScore: bt, Prob: true, Threshold: thr, Val: binaryReport(bv, yv, thr, true), Test: binaryReport(bt, yt, thr, true)}})
	return out
}

// rfmBaseline fits an RFM-only churn head and value head on the inputs
// that in gives: L2 1e-4, threshold and value offsets chosen on validation.
func rfmBaseline(name string, in func([]Example) [][]float64, tr []Example, d *Data, y, yv, yt, y3, yv3, yt3 []int, cfg Config) Candidate {
	X, Xv, Xt := in(tr), in(d.Val.Examples), in(d.Test.Examples)
	sm, _ := FitSoftmax(X, y, Xv, yv, 2, TrainConfig{L2: 1e-4, Seed: cfg.Seed})
	pv, pt := probsOf(sm, Xv, 1), probsOf(sm, Xt, 1)
	thr, _ := BestThreshold(pv, yv)
	hv := fitValue(X, Xv, y3, yv3, []float64{1e-4}, cfg.Seed, 1, cfg.TuneValueOffsets, cfg.Log, "rfm")
	am := func(P [][]float64) []int {
		p := make([]int, len(P))
		for i := range P {
			p[i] = argmaxOffset(P[i], hv.offset)
		}
		return p
	}
	vpred, tpred := am(allProbs(hv.sm, Xv)), am(allProbs(hv.sm, Xt))
	return Candidate{Name: name,
		Churn: &Scored{ValScore: pv, TestScore: pt, Prob: true, Threshold: thr, Val: binaryReport(pv, yv, thr, true), Test: binaryReport(pt, yt, thr, true)},
		Value: &Scored{ValPred: vpred, TestPred: tpred, Val: Classify(vpred, yv3, 3), Test: Classify(tpred, yt3, 3)}}
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

// interestThreshold is the 25th percentile, over the examples, of the
// profile embedding's best cosine similarity to a theme: about three users
// in four get at least one interest.
func interestThreshold(exs []Example, embs map[string][]float32, themes []Theme, pt func([]string) string) float64 {
	var best []float64
	for i := range exs {
		e := embs[pt(viewTexts(&exs[i]))]
		if e == nil {
			continue
		}
		b := -1.0
		for _, t := range themes {
			b = math.Max(b, cosine32(e, t.Centroid))
		}
		best = append(best, b)
	}
	if len(best) == 0 {
		return DefaultRules.InterestMinSim
	}
	sort.Float64s(best)
	return math.Round(best[len(best)/4]*1000) / 1000
}

// treeFit is one boosted head and its validation figures.
type treeFit struct {
	gb     *GBDT
	valM   float64
	thr    float64
	offset []float64
}

// fitChurnTrees tries cfg.TreeDepths and keeps the best validation AUC.
func fitChurnTrees(X, Xv [][]float64, y, yv []int, d int, cfg Config) treeFit {
	best := treeFit{valM: -1}
	for _, depth := range cfg.TreeDepths {
		gb := FitGBDT(X, y, Xv, yv, 2, d, GBDTConfig{Depth: depth})
		pv := make([]float64, len(Xv))
		var z [1]float64
		for i, x := range Xv {
			pv[i] = 1 / (1 + math.Exp(-gb.Logits(x[:d], z[:])[0]))
		}
		auc := AUC(pv, yv)
		fmt.Fprintf(cfg.Log, "  trees churn depth=%d rounds=%d best=%d val_loss=%.4f val_auc=%.4f\n", depth, gb.Log.Epochs, gb.Log.BestEpoch, gb.Log.ValLoss, auc)
		if auc > best.valM+1e-4 {
			best = treeFit{gb: gb, valM: auc}
			best.thr, _ = BestThreshold(pv, yv)
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
			gb := FitGBDT(X, y, Xv, yv, 3, d, GBDTConfig{Depth: depth, Balanced: bal})
			P := make([][]float64, len(Xv))
			for i, x := range Xv {
				P[i] = gb.Logits(x[:d], make([]float64, 3))
				softmaxInPlace(P[i])
			}
			off, f1 := plainMacroF1(P, yv)
			if cfg.TuneValueOffsets {
				off, f1 = tuneOffsets(P, yv)
			}
			fmt.Fprintf(cfg.Log, "  trees value depth=%d balanced=%v rounds=%d best=%d val_loss=%.4f val_macroF1=%.4f offsets=%.2f\n", depth, bal, gb.Log.Epochs, gb.Log.BestEpoch, gb.Log.ValLoss, f1, off)
			if f1 > best.valM+1e-4 {
				best = treeFit{gb: gb, valM: f1, offset: off}
			}
		}
	}
	return best
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

// refitHeads refits the linear heads of m, with the hyper-parameters, epochs
// (the early-stopping epoch), feature set, threshold and offsets chosen on
// the validation cutoff, on the training rows plus the validation cutoff's
// rows: the most recent labelled history. The validation metrics stay
// those of the chosen fit (the refit has seen the validation labels).
func refitHeads(m *Model, d *Data, cfg Config) {
	all := append(flatten(d.Train), d.Val.Examples...)
	X := inputMatrix(m, all, nil, cfg.ProfileText)
	for _, h := range []*Head{&m.Churn, &m.Value} {
		if h.GBDT != nil {
			continue
		}
		from := len(NumericFeatures)
		if h.FeatureSet == "v1" {
			from = numFeaturesV1
		}
		Xm := maskCols(X, from, len(NumericFeatures))
		y := labels(all, h == &m.Churn)
		tc := h.Train
		tc.MaxEpochs = max(h.Fit.BestEpoch, 1)
		tc.Patience = tc.MaxEpochs + 1
		// No held-out rows: the "validation" loss is the training rows',
		// which only decides which of the fixed epochs is kept.
		sm, _ := fitAveraged(Xm, y, Xm, y, h.Softmax.Classes, tc)
		for k := 0; k < sm.Classes; k++ {
			clear(sm.Row(k)[from:len(NumericFeatures)])
		}
		h.Softmax = sm
		h.Refit = true
	}
	m.Data.RefitRows = len(all)
	fmt.Fprintf(cfg.Log, "%s: refitted on %d rows (training and validation cutoffs)\n", m.Name, len(all))
}
