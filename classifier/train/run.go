package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
	"github.com/segstream/segstream/classifier/metrics"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/segments"
)

// Config configures Run. Zero fields take the defaults given with them.
type Config struct {
	// Protocol is the out-of-time protocol; default DefaultProtocol().
	Protocol Protocol
	// Limits bound the profiles folded (featurestore.Limits.WithDefaults).
	Limits featurestore.Limits
	// Seed seeds initialisation, shuffling and themes; default 1.
	Seed uint64
	// L2Grid is the L2 penalties tried for each head (the value head tries
	// each with and without balanced class weights); the best on the
	// validation cutoff wins (AUC for churn, macro-F1 for value). Default
	// 1e-4, 1e-3, 1e-2.
	L2Grid []float64
	// Text, when set, adds the profile text embedding as an input (and the
	// themes); a profile's one text is Text.ProfileText of its text ring.
	Text classifier.TextEncoder
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
	// Calibration is how churn probabilities are calibrated on the
	// validation cutoff: "season" (default: Platt scaling plus the
	// seasonal intercept when the history has the reference cutoffs,
	// SeasonCutoffs), "platt" (Platt scaling alone) or "none" (the head's
	// own probabilities).
	Calibration string
	// ValueTier is where the value tier comes from: "clv" (default: from
	// predicted value, classifier.ValueTierModel) or "head" (the value
	// head's most probable class).
	ValueTier string
	// AtRiskShare is the share of the validation cutoff's active customers
	// the at_risk threshold is tuned to flag; default AtRiskShare.
	AtRiskShare float64
	// Segments are the definitions at_risk is read from (its threshold is
	// tuned and its figures measured with them); default the built-in
	// taxonomy (segments.Defaults).
	Segments *segments.Set
	// Sources names the data files, for the model file.
	Sources []string
	// Log receives progress lines (hyper-parameter lines are indented);
	// default io.Discard. Write errors do not fail Run (see logf).
	Log io.Writer

	// profileText is Text.ProfileText, memoised by Run.
	profileText func(texts []string) string
}

func (c *Config) setDefaults(evs []*events.Event) error {
	if len(c.Protocol.TrainCutoffs) == 0 {
		if len(evs) == 0 {
			return fmt.Errorf("no events")
		}
		p, err := AutoProtocol(evs[0].TS, evs[len(evs)-1].TS)
		if err != nil {
			return err
		}
		c.Protocol = p
	}
	if c.Calibration == "" {
		c.Calibration = "season"
	}
	if c.ValueTier == "" {
		c.ValueTier = "clv"
	}
	if c.AtRiskShare == 0 {
		c.AtRiskShare = AtRiskShare
	}
	if c.Segments == nil {
		s, err := defaultSegments()
		if err != nil {
			return err
		}
		c.Segments = s
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if len(c.L2Grid) == 0 {
		c.L2Grid = []float64{1e-4, 1e-3, 1e-2}
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
	switch {
	case c.Calibration != "season" && c.Calibration != "platt" && c.Calibration != "none":
		return fmt.Errorf("calibration %q: want season, platt or none", c.Calibration)
	case c.ValueTier != "clv" && c.ValueTier != "head":
		return fmt.Errorf("value tier %q: want clv or head", c.ValueTier)
	case c.AtRiskShare < 0 || c.AtRiskShare >= 1:
		return fmt.Errorf("at_risk share %g: want (0, 1)", c.AtRiskShare)
	}
	return nil
}

var defaultSet struct {
	once sync.Once
	set  *segments.Set
	err  error
}

// defaultSegments compiles the built-in taxonomy once.
func defaultSegments() (*segments.Set, error) {
	defaultSet.once.Do(func() {
		defs, err := segments.Defaults()
		if err == nil {
			defaultSet.set, err = segments.Compile(defs, segments.Options{})
		}
		defaultSet.err = err
	})
	return defaultSet.set, defaultSet.err
}

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
	Val, Test         classifier.Report
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
	Model      *classifier.Model
	NoText     *classifier.Model
	WithText   *classifier.Model
	TextWins   bool
	Data       *Data
	Candidates []Candidate
	// BGNBDTest is the BG/NBD baseline fitted on all history before the test cutoff.
	BGNBDTest classifier.BGNBDParams
	TrainTime time.Duration
	// NoTextFitTime is the time spent fitting the heads without text (the
	// hyper-parameter grid included).
	NoTextFitTime time.Duration
	// Eval holds the shipped model's customer-value, at_risk and
	// calibration figures on the test cutoff (nil without one).
	Eval *Eval
	// Protocol is the protocol the run used (chosen from the data when
	// Config.Protocol was empty).
	Protocol Protocol
}

// Run builds the point-in-time sets, fits both heads (without and, with
// cfg.Text, with the text embedding), the themes and the baselines, and
// scores everything on the validation and test cutoffs. Every choice is
// made on the validation cutoff.
func Run(ctx context.Context, evs []*events.Event, cfg Config) (*Result, error) {
	if err := cfg.setDefaults(evs); err != nil {
		return nil, err
	}
	start := time.Now()
	cfg.profileText = func(t []string) string { return strings.Join(t, " | ") } // not called without Text
	if cfg.Text != nil {
		memo := map[string]string{}
		cfg.profileText = func(t []string) string { // called several times per example
			k := strings.Join(t, "\x00")
			if v, ok := memo[k]; ok {
				return v
			}
			v := cfg.Text.ProfileText(t)
			memo[k] = v
			return v
		}
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
	logf(cfg.Log, "data: %d events %s..%s; %d training rows at %d cutoffs, %d validation (%s)",
		len(evs), d.FirstEvent.Format(time.DateOnly), d.LastEvent.Format(time.DateOnly), len(tr), len(d.Train), len(d.Val.Examples), d.Val.Cutoff.Format(time.DateOnly))
	if d.Test != nil {
		logf(cfg.Log, ", %d test (%s)", len(d.Test.Examples), d.Test.Cutoff.Format(time.DateOnly))
	}
	logf(cfg.Log, "\n")

	base := &classifier.Model{
		Format: classifier.ModelFormat, FormatVersion: classifier.ModelFormatVersion, Name: "segstream-churn-value",
		FeatureVersion: classifier.FeatureVersion, Features: classifier.NumericFeatures, Seed: cfg.Seed,
		BGNBD: FitBGNBD(obsOf(d.Val.Examples)),
		Data: classifier.DataRange{Sources: cfg.Sources, FirstEvent: d.FirstEvent, LastEvent: d.LastEvent,
			TrainCutoffs: cfg.Protocol.TrainCutoffs, ValCutoff: cfg.Protocol.ValCutoff, TestCutoff: cfg.Protocol.TestCutoff,
			TrainRows: len(tr), HorizonDays: classifier.HorizonDays},
	}
	logf(cfg.Log, "bgnbd (history before %s): r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.1f\n",
		d.Val.Cutoff.Format(time.DateOnly), base.BGNBD.R, base.BGNBD.Alpha, base.BGNBD.A, base.BGNBD.B, base.BGNBD.LL)
	if gg := FitGammaGamma(ggObsOf(d.Val.Examples)); gg.Valid() {
		base.GammaGamma = &gg
		logf(cfg.Log, "gamma-gamma (history before %s): p=%.4f q=%.4f gamma=%.4f LL=%.1f\n", d.Val.Cutoff.Format(time.DateOnly), gg.P, gg.Q, gg.Gamma, gg.LL)
	} else {
		logf(cfg.Log, "gamma-gamma (history before %s): no finite-mean fit (q=%.4f); no customer-value scores\n", d.Val.Cutoff.Format(time.DateOnly), gg.Q)
	}
	ext := classifier.Extractor{BGNBD: &base.BGNBD}
	base.Stats = FitStats(matrix(ext, tr))

	y, yv := labels(tr, true), labels(d.Val.Examples, true)
	y3, yv3 := labels(tr, false), labels(d.Val.Examples, false)
	var yt, yt3 []int
	if d.Test != nil {
		yt, yt3 = labels(d.Test.Examples, true), labels(d.Test.Examples, false)
	}
	res := &Result{Data: d, Protocol: cfg.Protocol}

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
		wt.Embedding = &classifier.EmbeddingSpec{Encoder: cfg.Text.ModelVersion(), Dim: cfg.Text.Dim()}
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
			minSim := interestThreshold(d.Val.Examples, embs, themes, cfg.profileText)
			logf(cfg.Log, "themes: %d from %d catalogue texts; interest threshold %.3f (25th percentile of validation users' best-theme similarity)\n", len(themes), len(cfg.Catalogue), minSim)
			for _, m := range []*classifier.Model{&wt, &noText} {
				m.Themes = themes
				m.Embedding = wt.Embedding
				m.Rules.InterestMinSim = minSim
			}
		}
		vm := func(m *classifier.Model) float64 {
			return m.Metrics["validation"].Churn.AUC + m.Metrics["validation"].Value.MacroF1
		}
		res.TextWins = vm(&wt) > vm(&noText)+cfg.TextMinGain
		logf(cfg.Log, "validation: churn AUC %.4f (no text) vs %.4f (text); value macro-F1 %.4f vs %.4f: text %s\n",
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
		res.Candidates = append(res.Candidates, modelCandidate("segstream (no text)", res.NoText, d, nil, cfg.profileText))
		if res.WithText != nil {
			res.Candidates = append(res.Candidates, modelCandidate("segstream (text)", res.WithText, d, embs, cfg.profileText))
		}
		if res.Model.ValueTier != nil {
			head := *res.Model
			head.ValueTier = nil
			var me map[string][]float32
			if res.TextWins {
				me = embs
			}
			c := modelCandidate("segstream value head (--value-tier=head)", &head, d, me, cfg.profileText)
			c.Churn = nil
			res.Candidates = append(res.Candidates, c)
		}
		var me map[string][]float32
		if res.TextWins {
			me = embs
		}
		ev, err := evaluate(res.Model, d, d.Test, res.BGNBDTest, me, cfg)
		if err != nil {
			return nil, err
		}
		res.Eval = ev
	}
	return res, nil
}

func obsOf(exs []Example) []classifier.BGNBDObs {
	o := make([]classifier.BGNBDObs, len(exs))
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
			t := cfg.profileText(viewTexts(&s.Examples[i]))
			if _, ok := out[t]; !ok {
				out[t] = nil
				todo = append(todo, t)
			}
		}
	}
	logf(cfg.Log, "text: embedding %d distinct profile texts with %s\n", len(todo), cfg.Text.ModelVersion())
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
			logf(cfg.Log, "  %d/%d (%s)\n", e, len(todo), time.Since(t0).Round(time.Second))
		}
	}
	return out, nil
}

// textSpec centres the embedding on the training mean and scales it so the
// average dimension has unit variance, like the standardised numbers.
func textSpec(tr []Example, embs map[string][]float32, cfg Config) *classifier.TextSpec {
	dim := cfg.Text.Dim()
	ts := &classifier.TextSpec{Dim: dim, Mean: make([]float64, dim)}
	vecs := make([][]float32, len(tr))
	for i := range tr {
		vecs[i] = embs[cfg.profileText(viewTexts(&tr[i]))]
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
func inputMatrix(m *classifier.Model, exs []Example, embs map[string][]float32, pt func([]string) string) [][]float64 {
	X := make([][]float64, len(exs))
	for i := range exs {
		var emb []float32
		if embs != nil {
			emb = embs[pt(viewTexts(&exs[i]))]
		}
		X[i] = m.Inputs(exs[i].View, exs[i].History, emb)
	}
	return X
}

// fitHeads trains both heads of m and records validation (and test) metrics.
func fitHeads(m *classifier.Model, d *Data, embs map[string][]float32, cfg Config) error {
	tr := flatten(d.Train)
	y, yv := labels(tr, true), labels(d.Val.Examples, true)
	y3, yv3 := labels(tr, false), labels(d.Val.Examples, false)
	act := make([]bool, len(d.Val.Examples))
	for i := range d.Val.Examples {
		act[i] = isActive(&d.Val.Examples[i])
	}
	t0 := time.Now()
	fit := func(grid []float64) (headFit, headFit) {
		X := inputMatrix(m, tr, embs, cfg.profileText)
		Xv := inputMatrix(m, d.Val.Examples, embs, cfg.profileText)
		// Each head chooses on validation between all features and the v1
		// subset (the history features' columns held at zero, so their
		// weights stay zero).
		// (Without text only; the text model uses all features and one seed.)
		type featureSet struct {
			name string
			from int
		}
		sets, seeds := []featureSet{{"all", len(classifier.NumericFeatures)}}, 1
		if m.Text == nil {
			sets, seeds = append(sets, featureSet{"v1", classifier.NumFeaturesV1}), AverageSeeds
		}
		var bc, bv headFit
		for _, fs := range sets {
			Xm, Xvm := maskCols(X, fs.from, len(classifier.NumericFeatures)), maskCols(Xv, fs.from, len(classifier.NumericFeatures))
			name := m.Name + " features=" + fs.name
			c, v := fitChurn(Xm, Xvm, y, yv, act, grid, cfg.Seed, seeds, cfg.Log, name), fitValue(Xm, Xvm, y3, yv3, grid, cfg.Seed, seeds, cfg.TuneValueOffsets, cfg.Log, name)
			c.features, v.features = fs.name, fs.name
			for _, h := range []headFit{c, v} { // masked inputs get no weight
				for k := 0; k < h.sm.Classes; k++ {
					clear(h.sm.Row(k)[fs.from:len(classifier.NumericFeatures)])
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
			logf(cfg.Log, "  %s text scale x%g\n", m.Name, mult)
			c, v := fit(cfg.L2Grid)
			if c.valM+v.valM > best+1e-4 {
				best, bestScale, hc, hv = c.valM+v.valM, m.Text.Scale, c, v
			}
		}
		m.Text.Scale = bestScale
		logf(cfg.Log, "%s: text scale %.4g (x%.3g of unit variance)\n", m.Name, bestScale, bestScale/base)
	}
	logf(cfg.Log, "%s: churn l2=%g (val AUC %.4f, over active customers %.4f, threshold %.3f), value l2=%g balanced=%v (val macro-F1 %.4f) in %s\n",
		m.Name, hc.cfg.L2, hc.auc, hc.aucActive, hc.thr, hv.cfg.L2, hv.cfg.Balanced, hv.valM, time.Since(t0).Round(time.Millisecond))
	logf(cfg.Log, "%s: features: churn %s, value %s\n", m.Name, hc.features, hv.features)
	m.Churn = classifier.Head{Classes: []string{"buys", "churns"}, Softmax: hc.sm, Train: hc.cfg, Fit: hc.log, Threshold: hc.thr, FeatureSet: hc.features}
	m.Value = classifier.Head{Classes: classifier.TierNames, Softmax: hv.sm, Train: hv.cfg, Fit: hv.log, Offsets: hv.offset, FeatureSet: hv.features}
	if len(cfg.TreeDepths) > 0 && m.Text == nil {
		// Boosted trees on the same numeric inputs, kept per head only
		// when they beat the linear head on the validation cutoff.
		t1 := time.Now()
		X := inputMatrix(m, tr, nil, cfg.profileText)
		Xv := inputMatrix(m, d.Val.Examples, nil, cfg.profileText)
		n := len(classifier.NumericFeatures)
		tc := fitChurnTrees(X, Xv, y, yv, n, cfg)
		if tc.valM > hc.auc+cfg.TreeMinGain {
			m.Churn.GBDT, m.Churn.Threshold = tc.gb, tc.thr
		}
		tv := fitValueTrees(X, Xv, y3, yv3, n, cfg)
		if tv.valM > hv.valM+cfg.TreeMinGain {
			m.Value.GBDT, m.Value.Offsets = tv.gb, tv.offset
		}
		logf(cfg.Log, "%s: trees: churn val AUC %.4f vs linear %.4f (%s), value val macro-F1 %.4f vs linear %.4f (%s) in %s\n",
			m.Name, tc.valM, hc.auc, map[bool]string{true: "trees", false: "linear"}[m.Churn.GBDT != nil],
			tv.valM, hv.valM, map[bool]string{true: "trees", false: "linear"}[m.Value.GBDT != nil], time.Since(t1).Round(time.Millisecond))
	}
	if cfg.Calibration != "none" {
		raw := m.Churn.Threshold
		m.Calibration = fitCalibration(d, cfg.Calibration == "season", func(exs []Example) []float64 {
			z := make([]float64, len(exs))
			for i := range exs {
				z[i] = m.ScoreHistory(exs[i].View, exs[i].History, embOf(embs, &exs[i], cfg.profileText)).ChurnHeadLogit
			}
			return z
		})
		q := math.Min(math.Max(raw, 1e-9), 1-1e-9)
		m.Churn.Threshold = sigmoid(m.Calibration.Logit(math.Log(q/(1-q)), d.Val.Cutoff))
		logf(cfg.Log, "%s: churn calibration on %s: A=%.4f B=%.4f, %d seasonal reference cutoffs; threshold %.3f -> %.3f\n",
			m.Name, d.Val.Cutoff.Format(time.DateOnly), m.Calibration.A, m.Calibration.B, len(m.Calibration.Season), raw, m.Churn.Threshold)
	}
	if cfg.ValueTier == "clv" && m.GammaGamma != nil {
		m.ValueTier = fitValueTier(m, tr, d.Val.Examples, cfg.Seed)
	}
	if m.BGNBD.R > 0 {
		m.AtRisk = fitAtRiskRanking(m, &d.Val, embs, cfg)
	}
	m.Rules = classifier.DefaultRules.WithDefaults(m.Churn.Threshold)
	if enter, exit, members, active := atRiskThreshold(m, &d.Val, embs, cfg); enter > 0 {
		m.Rules.AtRiskEnter, m.Rules.AtRiskExit = enter, math.Max(exit, 0.001)
		logf(cfg.Log, "%s: at_risk threshold %.3f (exit %.3f): %d of %d active customers at %s (%.1f%%)\n",
			m.Name, enter, m.Rules.AtRiskExit, members, active, d.Val.Cutoff.Format(time.DateOnly), 100*float64(members)/float64(max(active, 1)))
	}
	m.SchemaHash = classifier.SchemaHash(classifier.NumericFeatures, m.TextDim())
	m.Metrics = map[string]classifier.HeadMetrics{"validation": headMetrics(m, d.Val.Examples, embs, cfg.profileText)}
	if cfg.Refit && m.Text == nil {
		refitHeads(m, d, cfg)
	}
	if d.Test != nil {
		m.Metrics["test"] = headMetrics(m, d.Test.Examples, embs, cfg.profileText)
	}
	return nil
}

// embOf is an example's profile embedding in embs (nil without).
func embOf(embs map[string][]float32, e *Example, pt func([]string) string) []float32 {
	if embs == nil {
		return nil
	}
	return embs[pt(viewTexts(e))]
}

// predict scores examples with the model's ScoreHistory (the serving path).
func predict(m *classifier.Model, exs []Example, embs map[string][]float32, pt func([]string) string) (churn []float64, tier []int, tierP [][]float64) {
	for i := range exs {
		s := m.ScoreHistory(exs[i].View, exs[i].History, embOf(embs, &exs[i], pt))
		churn = append(churn, s.ChurnRisk)
		tier = append(tier, s.TierClass)
		tierP = append(tierP, s.Tier[:])
	}
	return
}

func headMetrics(m *classifier.Model, exs []Example, embs map[string][]float32, pt func([]string) string) classifier.HeadMetrics {
	p, tier, _ := predict(m, exs, embs, pt)
	y, y3 := labels(exs, true), labels(exs, false)
	return classifier.HeadMetrics{Churn: binaryReport(p, y, m.Churn.Threshold, true), Value: metrics.Classify(tier, y3, 3)}
}

func binaryReport(score []float64, y []int, thr float64, prob bool) classifier.Report {
	pred := make([]int, len(score))
	for i, s := range score {
		if s >= thr {
			pred[i] = 1
		}
	}
	r := metrics.Classify(pred, y, 2)
	r.AUC = metrics.AUC(score, y)
	_, r.AP = metrics.PR(score, y)
	if prob {
		r.LogLoss = metrics.LogLoss(score, y)
	}
	return r
}

func modelCandidate(name string, m *classifier.Model, d *Data, embs map[string][]float32, ptf func([]string) string) Candidate {
	vp, vt, _ := predict(m, d.Val.Examples, embs, ptf)
	tp, tt, _ := predict(m, d.Test.Examples, embs, ptf)
	y, yv := labels(d.Test.Examples, true), labels(d.Val.Examples, true)
	y3, yv3 := labels(d.Test.Examples, false), labels(d.Val.Examples, false)
	c := Candidate{Name: name,
		Churn: &Scored{ValScore: vp, TestScore: tp, Prob: true, Threshold: m.Churn.Threshold,
			Val: binaryReport(vp, yv, m.Churn.Threshold, true), Test: binaryReport(tp, y, m.Churn.Threshold, true)},
		Value: &Scored{ValPred: vt, TestPred: tt, Val: metrics.Classify(vt, yv3, 3), Test: metrics.Classify(tt, y3, 3)},
	}
	if vm, ok := m.Metrics["validation"]; ok && (m.Churn.Refit || m.Value.Refit) {
		// A refitted model has seen the validation labels: report the
		// figures the choices were made on.
		c.Churn.Val, c.Value.Val = vm.Churn, vm.Value
	}
	return c
}

// interestThreshold is the 25th percentile, over the examples, of the
// profile embedding's best cosine similarity to a theme: about three users
// in four get at least one interest.
func interestThreshold(exs []Example, embs map[string][]float32, themes []classifier.Theme, pt func([]string) string) float64 {
	var best []float64
	for i := range exs {
		e := embs[pt(viewTexts(&exs[i]))]
		if e == nil {
			continue
		}
		b := -1.0
		for _, t := range themes {
			b = math.Max(b, num.Cosine32(e, t.Centroid))
		}
		best = append(best, b)
	}
	if len(best) == 0 {
		return classifier.DefaultRules.InterestMinSim
	}
	sort.Float64s(best)
	return math.Round(best[len(best)/4]*1000) / 1000
}

// refitHeads refits the linear heads of m, with the hyper-parameters, epochs
// (the early-stopping epoch), feature set, threshold and offsets chosen on
// the validation cutoff, on the training rows plus the validation cutoff's
// rows: the most recent labelled history. The validation metrics stay
// those of the chosen fit (the refit has seen the validation labels).
func refitHeads(m *classifier.Model, d *Data, cfg Config) {
	all := append(flatten(d.Train), d.Val.Examples...)
	X := inputMatrix(m, all, nil, cfg.profileText)
	for _, h := range []*classifier.Head{&m.Churn, &m.Value} {
		if h.GBDT != nil {
			continue
		}
		from := len(classifier.NumericFeatures)
		if h.FeatureSet == "v1" {
			from = classifier.NumFeaturesV1
		}
		Xm := maskCols(X, from, len(classifier.NumericFeatures))
		y := labels(all, h == &m.Churn)
		tc := h.Train
		tc.MaxEpochs = max(h.Fit.BestEpoch, 1)
		tc.Patience = tc.MaxEpochs + 1
		// No held-out rows: the "validation" loss is the training rows',
		// which only decides which of the fixed epochs is kept.
		sm, _ := fitAveraged(Xm, y, Xm, y, h.Softmax.Classes, tc)
		for k := 0; k < sm.Classes; k++ {
			clear(sm.Row(k)[from:len(classifier.NumericFeatures)])
		}
		h.Softmax = sm
		h.Refit = true
	}
	m.Data.RefitRows = len(all)
	logf(cfg.Log, "%s: refitted on %d rows (training and validation cutoffs)\n", m.Name, len(all))
}
