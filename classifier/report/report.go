package report

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/metrics"
	"github.com/segstream/segstream/classifier/train"
)

// Meta is what the report says about how it was made.
type Meta struct {
	Command  string        // the command line that regenerates it
	Elapsed  time.Duration // wall time of the whole run
	TextNote string        // why text is absent, when it is
	// Backtests are the runs of the rolling backtests (earlier test
	// cutoffs), reported per cutoff and averaged.
	Backtests []*train.Result
}

// Targets of the issues, checked in the report.
const (
	TargetChurnAUC     = 0.83 // issue 4
	TargetValueMacroF1 = 0.65 // issue 4
	TargetAtRiskShare  = 0.15 // at_risk flags at most this share of active customers
	TargetECE          = 0.03 // expected calibration error on the test cutoff
)

// Write writes REPORT.md and its PNG plots (churn_roc.png, churn_pr.png,
// churn_calibration.png, churn_confusion.png, value_confusion.png) into
// dir from a train.Run result whose protocol has a test cutoff, with the
// rolling backtests of meta; and, for the lifetimes cross-check
// (tools/eval/lifetimes_check.py), clv_summary.csv.gz (every test
// customer's BG/NBD and Gamma-Gamma summary and segstream's predictions
// from it) and clv_fit.json (the fits on the history before the test
// cutoff).
func Write(dir string, res *train.Result, meta Meta) error {
	if res.Data.Test == nil {
		return fmt.Errorf("report: the protocol has no test cutoff")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d := res.Data
	yt := make([]int, len(d.Test.Examples)) // churn labels
	for i := range d.Test.Examples {
		yt[i] = d.Test.Examples[i].Churn
	}
	// Plots.
	var roc, pr, cal []Series
	var names, vnames []string
	var cms, vcms [][][]int
	for _, c := range res.Candidates {
		if c.Churn != nil {
			if c.Name != "majority class" {
				roc = append(roc, Series{Name: fmt.Sprintf("%s (%.3f)", c.Name, c.Churn.Test.AUC), Points: metrics.ROC(c.Churn.TestScore, yt)})
				pts, ap := metrics.PR(c.Churn.TestScore, yt)
				pr = append(pr, Series{Name: fmt.Sprintf("%s (AP %.3f)", c.Name, ap), Points: pts})
			}
			names = append(names, c.Name)
			cms = append(cms, c.Churn.Test.Confusion)
		}
		if c.Value != nil {
			vnames = append(vnames, c.Name)
			vcms = append(vcms, c.Value.Test.Confusion)
		}
	}
	if res.Eval != nil {
		for i, c := range res.Eval.Cal {
			var pts []metrics.ROCPoint
			for _, b := range c.Bins {
				pts = append(pts, metrics.ROCPoint{X: b.MeanPred, Y: b.FracPos})
			}
			cal = append(cal, Series{Name: fmt.Sprintf("%s (ECE %.3f)", c.Name, c.ECE), Points: pts, Dashed: i > 0})
		}
	}
	test := d.Test.Cutoff.Format(time.DateOnly)
	plots := []struct {
		file string
		make func() ([]byte, error)
	}{
		{"churn_roc.png", func() ([]byte, error) {
			return LineChart("Churn ROC, test cutoff "+test, "false positive rate", "true positive rate", roc, true)
		}},
		{"churn_pr.png", func() ([]byte, error) {
			return LineChart("Churn precision-recall, test cutoff "+test, "recall", "precision", pr, false)
		}},
		{"churn_calibration.png", func() ([]byte, error) {
			return LineChart("Churn reliability (10 bins), test cutoff "+test, "mean predicted P(churn)", "observed churn rate", cal, true)
		}},
		{"churn_confusion.png", func() ([]byte, error) {
			return ConfusionGrid("Churn confusion matrices (rows: true, columns: predicted), test "+test, names, cms, []string{"buys", "churns"})
		}},
		{"value_confusion.png", func() ([]byte, error) {
			return ConfusionGrid("Value-tier confusion matrices, test "+test, vnames, vcms, classifier.TierNames)
		}},
	}
	for _, p := range plots {
		b, err := p.make()
		if err != nil {
			return fmt.Errorf("plot %s: %w", p.file, err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), b, 0o644); err != nil {
			return err
		}
	}
	if err := writeCLVFiles(dir, res); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "REPORT.md"), []byte(reportMarkdown(res, meta)), 0o644)
}

// writeCLVFiles writes clv_summary.csv.gz and clv_fit.json (see Write).
func writeCLVFiles(dir string, res *train.Result) error {
	if res.Eval == nil {
		return nil
	}
	bg, gg := res.BGNBDTest, res.Eval.GammaGamma
	fit := map[string]any{
		"cutoff":      res.Data.Test.Cutoff.Format(time.DateOnly),
		"time_unit":   "weeks",
		"bgnbd":       map[string]any{"r": bg.R, "alpha": bg.Alpha, "a": bg.A, "b": bg.B, "ll": bg.LL, "n": bg.N},
		"gamma_gamma": map[string]any{"p": gg.P, "q": gg.Q, "gamma": gg.Gamma, "ll": gg.LL, "n": gg.N},
	}
	b, err := json.MarshalIndent(fit, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "clv_fit.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.ModTime = res.Data.Test.Cutoff // reproducible bytes
	cw := csv.NewWriter(zw)
	_ = cw.Write([]string{"customer", "x", "t_x", "T", "n", "m", "exp_purchases_90d", "exp_purchases_365d", "p_alive", "exp_spend_per_day", "actual_spend_90d"})
	h90, h365 := classifier.HorizonDays/7.0, 365/7.0
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }
	for i := range res.Data.Test.Examples {
		e := &res.Data.Test.Examples[i]
		o := e.Obs
		n := float64(e.View.RFM.PurchaseDays)
		m := 0.0
		if n > 0 {
			m = math.Max(e.View.RFM.Monetary, 0) / n
		}
		spend := 0.0
		if gg.Valid() {
			spend = gg.MeanSpend(n, m)
		}
		_ = cw.Write([]string{e.UserID, g(o.X), g(o.TX), g(o.T), g(n), g(m), g(bg.ExpectedPurchases(o.X, o.TX, o.T, h90)), g(bg.ExpectedPurchases(o.X, o.TX, o.T, h365)),
			g(bg.PAlive(o.X, o.TX, o.T)), g(spend), g(e.Spend)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "clv_summary.csv.gz"), buf.Bytes(), 0o644)
}

func f3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}

func f4(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", v)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// churnOf finds a candidate's churn figures by name.
func churnOf(r *train.Result, name string) *train.Scored {
	for _, c := range r.Candidates {
		if c.Name == name {
			return c.Churn
		}
	}
	return nil
}

// shippedName is the shipped model's candidate name.
func shippedName(r *train.Result) string {
	if r.TextWins {
		return "segstream (text)"
	}
	return "segstream (no text)"
}

// baselineNames are the churn baselines compared per cutoff.
var baselineNames = []string{"recency alone", "RFM logistic regression", "RFM logistic regression, raw inputs", "BG/NBD"}

func mean(xs []float64) float64 {
	var s float64
	n := 0
	for _, x := range xs {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

func reportMarkdown(res *train.Result, meta Meta) string {
	d := res.Data
	m := res.Model
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	var cut []string
	rows := 0
	for _, s := range d.Train {
		cut = append(cut, s.Cutoff.Format("2006-01-02"))
		rows += len(s.Examples)
	}
	testDay, valDay := d.Test.Cutoff.Format(time.DateOnly), d.Val.Cutoff.Format(time.DateOnly)
	tiers := "the value tier (derived from predicted value: the calibrated churn probability and a spend model fitted on the training cutoffs)"
	if m.ValueTier == nil {
		tiers = "the value tier (the value head's most probable class)"
		if len(m.Value.Offsets) != 0 {
			tiers = "the value-tier offsets"
		}
	}
	w("# segstream classifier evaluation\n\n")
	w("Regenerate with:\n\n```sh\n%s\n```\n\n", meta.Command)
	w("(%s wall time on 2 cores: the main run %s, of which fitting the heads without text, hyper-parameter grid included, %s; %d rolling backtests without text.) Everything in the test sections is measured on the **test cutoff %s**, which was used for nothing else: every hyper-parameter (L2, class weights, epochs by early stopping, each head's feature set), the churn calibration and threshold, %s, the at_risk threshold and the choice between the model with and without text were fixed on the **validation cutoff %s** or before it.\n\n",
		meta.Elapsed.Round(time.Second), res.TrainTime.Round(time.Second), res.NoTextFitTime.Round(100*time.Millisecond), len(meta.Backtests), testDay, tiers, valDay)

	w("## Protocol\n\n")
	srcs := strings.Join(m.Data.Sources, ", ")
	if srcs == "" {
		srcs = "the events given"
	}
	w("- Data: %s: %d events from %s to %s (read by the replay tool's readers: Online Retail invoices de-duplicated, cancellations as refunds, rows without a customer dropped; JSON lines decoded as the service decodes them).\n", srcs, d.Events, d.FirstEvent.Format(time.DateOnly), d.LastEvent.Format(time.DateOnly))
	w("- Cutoffs: %s. Unless given, they are chosen from the data's span (`train.AutoProtocol`): the test cutoff is the latest first of a month whose %d-day label window the data cover, the validation cutoff the latest first of a month whose window ends by the test cutoff, the training cutoffs every first of a month from %d days after the first event to the latest whose window ends by the validation cutoff (at least %d).\n", res.Protocol, classifier.HorizonDays, train.WarmupDays, train.MinTrainCutoffs)
	w("- Population at a cutoff: customers with at least one purchase before it. Profiles are folded with `featurestore.Profile.Apply` from the events before the cutoff only and read with `featurestore.NewView` as of the cutoff; features come from `classifier.Extractor.Features` on that view and the profile's exact purchase days (`classifier.HistoryOf`), the function the service uses (`Model.ScoreProfile`).\n")
	w("- Features (%s): %d view features (RFM, windows, tenure, order value, refunds, ratings, categories, the BG/NBD P(buy), two crosses) and %d from the purchase days. Each head chooses on validation between all of them and the view features alone (the churn head by the mean of its validation AUC over all customers and over the active ones, the at_risk population); the linear heads of the model without text average the weights of %d fits with consecutive seeds.\n", classifier.FeatureVersion, classifier.NumFeaturesV1, len(classifier.NumericFeatures)-classifier.NumFeaturesV1, train.AverageSeeds)
	w("- Labels: the %d days starting on the cutoff. Churn = no purchase in the window. Value tier = none (no purchase) / mid / high (top 20%% of that cutoff's spenders by gross spend in the window). Spend = gross purchase amount in the window.\n", classifier.HorizonDays)
	w("- Training cutoffs: %s (%d rows). Validation: %s (%d customers, churn rate %.3f). Test: %s (%d customers, churn rate %.3f).\n", strings.Join(cut, ", "), rows, valDay, len(d.Val.Examples), d.Val.ChurnRate(), testDay, len(d.Test.Examples), d.Test.ChurnRate())
	if len(meta.Backtests) > 0 {
		var bt []string
		for _, r := range meta.Backtests {
			bt = append(bt, r.Protocol.TestCutoff.Format(time.DateOnly))
		}
		w("- Rolling backtests (`train.Backtests`): test cutoffs %s, the latest firsts of a month whose label windows end by the test cutoff, each with its own validation cutoff and training cutoffs chosen by the same rule and its own fits (no text). Every figure below is given per cutoff and averaged over the backtests.\n", strings.Join(bt, ", "))
	}
	w("\n")

	w("## Churn: test cutoff %s\n\n", testDay)
	w("Thresholds were chosen on the validation cutoff to maximise macro-F1. Class \"churns\" = no purchase in the next %d days.\n\n", classifier.HorizonDays)
	w("| model | ROC AUC | avg precision | accuracy | P(buys) | R(buys) | F1(buys) | P(churns) | R(churns) | F1(churns) | macro-F1 | threshold | val AUC | val macro-F1 |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range res.Candidates {
		if c.Churn == nil {
			continue
		}
		r := c.Churn.Test
		auc, ap := f3(r.AUC), f3(r.AP)
		if c.Name == "majority class" {
			auc, ap = "0.500", "n/a"
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** | %.3f | %s | %s |\n", c.Name, auc, ap, f3(r.Accuracy),
			f3(r.PerClass[0].Precision), f3(r.PerClass[0].Recall), f3(r.PerClass[0].F1),
			f3(r.PerClass[1].Precision), f3(r.PerClass[1].Recall), f3(r.PerClass[1].F1), f3(r.MacroF1), c.Churn.Threshold,
			f3(c.Churn.Val.AUC), f3(c.Churn.Val.MacroF1))
	}
	w("\n![ROC](churn_roc.png) ![Precision-recall](churn_pr.png)\n\n![Confusion matrices](churn_confusion.png)\n\n")

	if ev := res.Eval; ev != nil {
		writeCalibration(w, res, meta)
		writeAtRisk(w, res, meta)
		writeCLV(w, res, meta)
	}

	w("## Value tier: test cutoff %s\n\n", testDay)
	w("| model | accuracy | P(none) | R(none) | F1(none) | P(mid) | R(mid) | F1(mid) | P(high) | R(high) | F1(high) | macro-F1 | val macro-F1 |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range res.Candidates {
		if c.Value == nil {
			continue
		}
		r := c.Value.Test
		w("| %s | %s |", c.Name, f3(r.Accuracy))
		for k := 0; k < 3; k++ {
			w(" %s | %s | %s |", f3(r.PerClass[k].Precision), f3(r.PerClass[k].Recall), f3(r.PerClass[k].F1))
		}
		w(" **%s** | %s |\n", f3(r.MacroF1), f3(c.Value.Val.MacroF1))
	}
	w("\n")
	if m.ValueTier != nil {
		w("The shipped tier is derived from predicted value (`classifier.ValueTierModel`): P(none) is the calibrated churn risk, and a buyer is high with a probability from a logistic regression, fitted on the training cutoffs' buyers, on log E[purchase days in the window | a purchase] (BG/NBD) and log E[spend per purchase day] (Gamma-Gamma); the tier is the most probable of (c, (1-c)(1-h), (1-c)h). The row \"segstream value head\" is the value head's own most probable class (`--value-tier=head`). ")
	}
	w("Recency alone and BG/NBD predict purchase probability, not spend, so they have no value-tier row. The RFM baselines are multinomial logistic regressions on recency, purchase days and spend, log-transformed or raw (standardised only), with class weights on or off chosen on the validation cutoff.\n\n![Value confusion matrices](value_confusion.png)\n\n")

	if len(meta.Backtests) > 0 {
		writeBacktests(w, res, meta)
	}

	w("## BG/NBD and Gamma-Gamma fits\n\n")
	bg := res.BGNBDTest
	w("BG/NBD, fitted by Nelder-Mead on all %d customers' history before %s, time in weeks, transactions = distinct purchase days (x = days − 1, t_x and T from the first purchase, exact event times): r = %.4f, alpha = %.4f, a = %.4f, b = %.4f, log-likelihood = %.1f. ", bg.N, testDay, bg.R, bg.Alpha, bg.A, bg.B, bg.LL)
	if ev := res.Eval; ev != nil && ev.GammaGamma.Valid() {
		g := ev.GammaGamma
		w("Gamma-Gamma on the same history (a transaction is a purchase day, its value the day's gross spend; %d customers): p = %.4f, q = %.4f, gamma = %.4f, log-likelihood = %.1f. ", g.N, g.P, g.Q, g.Gamma, g.LL)
	}
	w("The model file stores the fits on the history before the validation cutoff (BG/NBD r = %.4f, alpha = %.4f, a = %.4f, b = %.4f", m.BGNBD.R, m.BGNBD.Alpha, m.BGNBD.A, m.BGNBD.B)
	if g := m.GammaGamma; g != nil {
		w("; Gamma-Gamma p = %.4f, q = %.4f, gamma = %.4f", g.P, g.Q, g.Gamma)
	}
	w("): the BG/NBD P(≥1 purchase in %d days) is one of segstream's features (`bgnbd_logit_p_buy90`) and both give the customer-value scores. An independent implementation, the `lifetimes` package, fitted on the same per-customer summaries (`clv_summary.csv.gz`, written by this command): [lifetimes_check.md](lifetimes_check.md) (`tools/eval/lifetimes_check.py`).\n\n", classifier.HorizonDays)

	writeTargets(w, res, meta)

	w("## Does text help?\n\n")
	if res.WithText == nil {
		w("Not measured in this run: %s\n\n", meta.TextNote)
	} else {
		nv, tv := res.NoText.Metrics["validation"], res.WithText.Metrics["validation"]
		nt, tt := res.NoText.Metrics["test"], res.WithText.Metrics["test"]
		w("The text input is the profile's text embedding (%s, %d dimensions: the recent purchase descriptions of the profile's text ring joined as the encoder does for the service), centred and scaled, as %d more inputs of both heads.\n\n", res.WithText.Embedding.Encoder, res.WithText.Embedding.Dim, res.WithText.Embedding.Dim)
		w("| | churn AUC (val) | churn AUC (test) | churn macro-F1 (test) | value macro-F1 (val) | value macro-F1 (test) |\n|---|---|---|---|---|---|\n")
		w("| without text | %s | %s | %s | %s | %s |\n", f3(nv.Churn.AUC), f3(nt.Churn.AUC), f3(nt.Churn.MacroF1), f3(nv.Value.MacroF1), f3(nt.Value.MacroF1))
		w("| with text | %s | %s | %s | %s | %s |\n\n", f3(tv.Churn.AUC), f3(tt.Churn.AUC), f3(tt.Churn.MacroF1), f3(tv.Value.MacroF1), f3(tt.Value.MacroF1))
		dAUC := tt.Churn.AUC - nt.Churn.AUC
		dF1 := tt.Value.MacroF1 - nt.Value.MacroF1
		verdict := "Text helps"
		switch {
		case math.Abs(dAUC) < 0.005 && math.Abs(dF1) < 0.01:
			verdict = "Text makes no material difference"
		case dAUC < 0 && dF1 < 0:
			verdict = "Text hurts"
		case dAUC < 0 || dF1 < 0:
			verdict = "Text gives mixed results"
		}
		w("**%s** on the test cutoff (churn AUC %+.3f, value macro-F1 %+.3f). On validation the text model %s, so the shipped model is the one %s text.\n\n",
			verdict, dAUC, dF1, map[bool]string{true: "won", false: "did not win"}[res.TextWins], map[bool]string{true: "with", false: "without"}[res.TextWins])
	}
	if len(m.Themes) > 0 {
		w("## Interest themes\n\n%d themes from k-means (cosine) on the embeddings of the catalogue's distinct product descriptions, named by their most characteristic words:\n\n", len(m.Themes))
		w("| theme | descriptions |\n|---|---|\n")
		for _, t := range m.Themes {
			w("| `interest:%s` | %d |\n", t.Name, t.Size)
		}
		w("\n")
	}
	w("## Shipped model\n\n`%s` version %s, schema %s, %d numeric features", m.Name, m.Version, m.SchemaHash, len(m.Features))
	if m.Text != nil {
		w(" + %d text dimensions", m.Text.Dim)
	}
	w(". Churn head: %s, features %s, L2 %g, %d epochs (best %d), threshold %.3f (calibrated). at_risk band %.3f / %.3f, dwell %g days. Value head: %s, features %s, L2 %g, balanced=%v, offsets %v.",
		headKind(&m.Churn), m.Churn.FeatureSet, m.Churn.Train.L2, m.Churn.Fit.Epochs, m.Churn.Fit.BestEpoch, m.Churn.Threshold, m.Rules.AtRiskEnter, m.Rules.AtRiskExit, m.Rules.MinDwellDays,
		headKind(&m.Value), m.Value.FeatureSet, m.Value.Train.L2, m.Value.Train.Balanced, m.Value.Offsets)
	if c := m.Calibration; c != nil {
		w(" Calibration: A = %.4f, B = %.4f, %d seasonal reference cutoffs.", c.A, c.B, len(c.Season))
	}
	if r := m.AtRisk; r != nil {
		w(" at_risk ranking: BG/NBD weight %g, A = %.4f, B = %.4f.", r.W, r.A, r.B)
	}
	w("\n")
	return b.String()
}

type writer func(format string, a ...any)

func writeCalibration(w writer, res *train.Result, meta Meta) {
	ev := res.Eval
	m := res.Model
	w("## Calibration: test cutoff %s\n\n", ev.Cutoff.Format(time.DateOnly))
	if c := m.Calibration; c != nil {
		w("The churn head's log-odds z are calibrated on the validation cutoff %s by Platt scaling, A·z + B with A = %.4f and B = %.4f (maximum likelihood; the map is increasing)", c.FittedOn.Format(time.DateOnly), c.A, c.B)
		if len(c.Season) > 0 {
			w(", plus a seasonal intercept: at each first of a month in the year from %s (one year before validation) the shift that makes the mean calibrated probability equal that cutoff's churn rate, minus the shift at %s, interpolated linearly by the time of year of the date scored (`classifier.Calibration`). Offsets:", c.Season[0].Cutoff.Format(time.DateOnly), c.Season[0].Cutoff.Format(time.DateOnly))
			for _, s := range c.Season {
				w(" %s %+.3f", s.Cutoff.Format("Jan"), s.Offset)
			}
			w(". The reference cutoffs need %d days of history after the first event (earlier ones see every customer as new), so shorter histories get Platt scaling alone.\n\n", train.SeasonHistoryDays)
		} else {
			w(". The history does not have a year of reference cutoffs with %d days of history each before the validation cutoff, so there is no seasonal term.\n\n", train.SeasonHistoryDays)
		}
	} else {
		w("The churn probabilities are the head's own (`--calibration=none`).\n\n")
	}
	w("| churn probabilities | Brier score | ECE (10 bins) |\n|---|---|---|\n")
	for _, c := range ev.Cal {
		w("| %s | %s | **%s** |\n", c.Name, f4(c.Brier), f4(c.ECE))
	}
	w("\n![Reliability](churn_calibration.png)\n\n")
	w("Reliability of the calibrated probabilities (10 equal-width bins):\n\n| bin | customers | mean predicted | observed churn rate |\n|---|---|---|---|\n")
	for _, bn := range ev.Cal[0].Bins {
		w("| %.1f-%.1f | %d | %s | %s |\n", math.Floor(bn.MeanPred*10)/10, math.Floor(bn.MeanPred*10)/10+0.1, bn.N, f3(bn.MeanPred), f3(bn.FracPos))
	}
	w("\n")
}

func writeAtRisk(w writer, res *train.Result, meta Meta) {
	ev := res.Eval
	a := ev.AtRisk
	m := res.Model
	w("## at_risk: test cutoff %s\n\n", ev.Cutoff.Format(time.DateOnly))
	w("The segment is the definition in force (the built-in one is in `deploy/segments/taxonomy.yaml`), evaluated with `segments` for every customer as a first labelling at the cutoff, with the model's scores:\n\n```\nenter: %s\nexit:  %s\n```\n\n", ev.AtRiskEnter, ev.AtRiskExit)
	if r := a.Ranking; r != nil {
		w("`scores[\"at_risk_score\"]` is the at_risk ranking (`classifier.AtRiskRanking`): the churn head's calibrated log-odds plus %g × BG/NBD's log-odds of no purchase in the next %d days (the model's BG/NBD fit, the feature `bgnbd_logit_p_buy90` negated), Platt-scaled on the validation cutoff (A = %.4f, B = %.4f) and moved by the churn calibration's seasonal term. ", r.W, classifier.HorizonDays, r.A, r.B)
	} else {
		w("`scores[\"at_risk_score\"]` is the churn risk itself: the validation cutoff chose no BG/NBD weight for the at_risk ranking. ")
	}
	if len(a.Grid) > 0 {
		w("The BG/NBD weight was chosen on the validation cutoff by the precision at the top %.0f%% of its active customers (a tie goes to the smaller weight):", 100*train.AtRiskShare)
		for i, p := range a.Grid {
			sep := ","
			if i == 0 {
				sep = ""
			}
			w("%s %g: %s", sep, p.W, f3(p.Precision))
		}
		w(".\n\n")
	}
	w("`model[\"at_risk_enter\"]` = %.3f was tuned on the validation cutoff so that the segment flags %.0f%% of its active customers; `model[\"at_risk_exit\"]` = %.3f, the threshold that would flag %.1f%% (the hysteresis band, in shares of the population). **Active customers** are those with a purchase in the last %d days: the population the shares and the precision-at-k figures are measured over; precision = share of the flagged who buy nothing in the next %d days, lift = precision / the active customers' churn rate. BG/NBD and recency are ranked over all active customers.\n\n",
		m.Rules.AtRiskEnter, 100*train.AtRiskShare, m.Rules.AtRiskExit, 100*train.AtRiskShare*train.AtRiskExitShare, train.ActiveDays, classifier.HorizonDays)
	if c := m.Calibration; c != nil && len(c.Season) > 0 {
		if seg, err := classifier.NewSegmenterFor(m, nil); err == nil {
			p := seg.Params(ev.Cutoff)
			w("The band moves with the calibration's seasonal term (`Segmenter.Params`: the same offset %+.3f on the log-odds scale as the churn risk and the at_risk score), so the definition compares the score with what is high for the time of year: on %s it reads `model[\"at_risk_enter\"]` = %.3f and `model[\"at_risk_exit\"]` = %.3f. Without it the segment would swell in the months when every customer is less likely to buy and shrink in the busy ones.\n\n",
				c.SeasonOffset(ev.Cutoff), ev.Cutoff.Format(time.DateOnly), p["at_risk_enter"], p["at_risk_exit"])
		}
	}
	w("| customers | active | active churn rate | at_risk | share of active | precision (± standard error) | lift | BG/NBD precision at that size | recency alone at that size |\n|---|---|---|---|---|---|---|---|---|\n")
	w("| %d | %d | %s | %d | **%s** | **%s** (± %s) | %.2f | %s | %s |\n\n", a.Customers, a.Active, f3(a.ActiveChurn), a.Members, pct(a.Share), f3(a.Precision), f3(se(a.Precision, a.Members)), a.Lift, f3(a.BGNBD), f3(a.Recency))
	if out := a.Active - a.Eligible; out > 0 {
		w("Whatever the churn risk, the definition admits %d customers (%s of the active), whose churn rate is %s; the %d active customers it does not admit churn at %s. BG/NBD and recency rank all active customers, these included.\n\n",
			a.Eligible, pct(float64(a.Eligible)/math.Max(float64(a.Active), 1)), f3(a.EligibleChurn), out, f3(a.OtherActiveChurn))
	} else {
		w("Whatever the churn risk, the definition admits %d customers (every active customer: %s), whose churn rate is %s; BG/NBD and recency rank the same population.\n\n",
			a.Eligible, pct(float64(a.Eligible)/math.Max(float64(a.Active), 1)), f3(a.EligibleChurn))
	}
	w("Precision (lift) at the top of the active customers by the at_risk score (the ranking the segment thresholds), by the churn risk alone, by BG/NBD and by recency:\n\n| top | customers | segstream at_risk score | segstream churn risk | BG/NBD | recency alone |\n|---|---|---|---|---|---|\n")
	for _, t := range a.Top {
		w("| %.0f%% | %d | %s (%.2f) | %s | %s (%.2f) | %s (%.2f) |\n", 100*t.Frac, t.K, f3(t.Segstream), t.SegstreamLift, f3(t.Churn), f3(t.BGNBD), t.BGNBDLift, f3(t.Recency), t.RecencyLift)
	}
	w("\n")
}

// se is the binomial standard error of a share p of n.
func se(p float64, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return math.Sqrt(p * (1 - p) / float64(n))
}

func writeCLV(w writer, res *train.Result, meta Meta) {
	ev := res.Eval
	w("## Customer value: test cutoff %s\n\n", ev.Cutoff.Format(time.DateOnly))
	w("Scores `clv_90d` and `clv_365d` (`scores[\"clv_90d\"]` in a definition): expected gross spend over the next 90 and 365 days, BG/NBD's expected purchase days times Gamma-Gamma's expected spend per purchase day, with the calibrated churn head's P(a purchase in 90 days) in place of BG/NBD's own (`Model.spend`). Against the actual spend of every test customer in the 90 days from the cutoff:\n\n")
	w("| 90-day spend predicted by | MAE | Spearman | mean predicted | mean actual |\n|---|---|---|---|---|\n")
	for _, c := range ev.CLV {
		w("| %s | %.1f | %s | %.1f | %.1f |\n", c.Name, c.MAE, f3(c.Spearman), c.MeanPred, c.MeanActual)
	}
	w("\n\"BG/NBD + Gamma-Gamma alone, refitted at the cutoff\" fits both on all history before the test cutoff; \"the model's own fits\" uses the fits stored in the model file (history before the validation cutoff), as segstream does. Spend is in the order currency.\n\n")
}

func writeBacktests(w writer, res *train.Result, meta Meta) {
	bts := meta.Backtests
	w("## Rolling backtests\n\n")
	w("Each backtest is a separate run of the same command's protocol with an earlier test cutoff (no text). The test cutoff of the main run is shown for comparison; the averages are over the backtests only.\n\n")
	// churn AUC
	cols := append([]string{"segstream (no text)"}, baselineNames...)
	w("### Churn ROC AUC\n\n| test cutoff | validation | training cutoffs |")
	for _, c := range cols {
		w(" %s |", c)
	}
	w(" best baseline |\n|---|---|---|")
	for range cols {
		w("---|")
	}
	w("---|\n")
	avg := make([][]float64, len(cols)+1)
	for _, r := range bts {
		w("| %s | %s | %d |", r.Protocol.TestCutoff.Format(time.DateOnly), r.Protocol.ValCutoff.Format(time.DateOnly), len(r.Protocol.TrainCutoffs))
		best := math.NaN()
		for j, name := range cols {
			v := math.NaN()
			if c := churnOf(r, name); c != nil {
				v = c.Test.AUC
			}
			avg[j] = append(avg[j], v)
			if j > 0 && (math.IsNaN(best) || v > best) {
				best = v
			}
			w(" %s |", f3(v))
		}
		avg[len(cols)] = append(avg[len(cols)], best)
		w(" %s |\n", f3(best))
	}
	w("| **average** | | |")
	for j := range cols {
		w(" **%s** |", f4(mean(avg[j])))
	}
	w(" %s |\n", f4(mean(avg[len(cols)])))
	w("| test %s | %s | %d |", res.Protocol.TestCutoff.Format(time.DateOnly), res.Protocol.ValCutoff.Format(time.DateOnly), len(res.Protocol.TrainCutoffs))
	best := math.NaN()
	for j, name := range cols {
		v := math.NaN()
		if j == 0 {
			name = shippedName(res)
		}
		if c := churnOf(res, name); c != nil {
			v = c.Test.AUC
		}
		if j > 0 && (math.IsNaN(best) || v > best) {
			best = v
		}
		w(" %s |", f3(v))
	}
	w(" %s |\n\n", f3(best))

	// calibration
	w("### Calibration\n\n| test cutoff | seasonal term | Brier | ECE | ECE before calibration | BG/NBD ECE |\n|---|---|---|---|---|---|\n")
	var br, ece, raw, bge []float64
	for _, r := range bts {
		if r.Eval == nil {
			continue
		}
		c := r.Eval.Cal
		season := "no"
		if r.Model.Calibration != nil && len(r.Model.Calibration.Season) > 0 {
			season = "yes"
		}
		br, ece, raw, bge = append(br, c[0].Brier), append(ece, c[0].ECE), append(raw, c[1].ECE), append(bge, c[2].ECE)
		w("| %s | %s | %s | %s | %s | %s |\n", r.Protocol.TestCutoff.Format(time.DateOnly), season, f4(c[0].Brier), f4(c[0].ECE), f4(c[1].ECE), f4(c[2].ECE))
	}
	w("| **average** | | **%s** | **%s** | %s | %s |\n", f4(mean(br)), f4(mean(ece)), f4(mean(raw)), f4(mean(bge)))
	if ev := res.Eval; ev != nil {
		season := "no"
		if res.Model.Calibration != nil && len(res.Model.Calibration.Season) > 0 {
			season = "yes"
		}
		w("| test %s | %s | %s | %s | %s | %s |\n", ev.Cutoff.Format(time.DateOnly), season, f4(ev.Cal[0].Brier), f4(ev.Cal[0].ECE), f4(ev.Cal[1].ECE), f4(ev.Cal[2].ECE))
	}
	w("\n")

	// at_risk
	w("### at_risk\n\nEach backtest chose its at_risk ranking's BG/NBD weight on its own validation cutoff (the validation precision at the top %.0f%% of that cutoff's active customers is given with the weight chosen and with the churn risk alone); segstream's top-k figures are by the at_risk score.\n\n", 100*train.AtRiskShare)
	w("| test cutoff | BG/NBD weight (validation precision: chosen / churn risk alone) | active | admitted (churn rate) | active, not admitted (churn rate) | at_risk | share of active | precision (± s.e.) | lift | BG/NBD at that size | recency at that size | top 5%%: segstream / BG/NBD / recency | top 10%% | top 20%% |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var sh, pr, li, bgp, rp []float64
	top := make([][3][]float64, 3)
	line := func(label string, a train.AtRiskEval) {
		other := "n/a" // every active customer admitted
		if a.Active > a.Eligible {
			other = f3(a.OtherActiveChurn)
		}
		wt := "n/a"
		if len(a.Grid) > 0 {
			chosen := a.Grid[0]
			if a.Ranking != nil {
				for _, p := range a.Grid {
					if p.W == a.Ranking.W {
						chosen = p
					}
				}
			}
			wt = fmt.Sprintf("%g (%s / %s)", chosen.W, f3(chosen.Precision), f3(a.Grid[0].Precision))
		}
		w("| %s | %s | %d | %d (%s) | %d (%s) | %d | %s | %s (± %s) | %.2f | %s | %s |", label, wt, a.Active, a.Eligible, f3(a.EligibleChurn), a.Active-a.Eligible, other,
			a.Members, pct(a.Share), f3(a.Precision), f3(se(a.Precision, a.Members)), a.Lift, f3(a.BGNBD), f3(a.Recency))
		for _, t := range a.Top {
			w(" %s / %s / %s |", f3(t.Segstream), f3(t.BGNBD), f3(t.Recency))
		}
		w("\n")
	}
	for _, r := range bts {
		if r.Eval == nil {
			continue
		}
		a := r.Eval.AtRisk
		sh, pr, li, bgp, rp = append(sh, a.Share), append(pr, a.Precision), append(li, a.Lift), append(bgp, a.BGNBD), append(rp, a.Recency)
		for i, t := range a.Top {
			if i < 3 {
				top[i][0], top[i][1], top[i][2] = append(top[i][0], t.Segstream), append(top[i][1], t.BGNBD), append(top[i][2], t.Recency)
			}
		}
		line(r.Protocol.TestCutoff.Format(time.DateOnly), a)
	}
	w("| **average** | | | | | | **%s** | **%s** | %.2f | **%s** | %s |", pct(mean(sh)), f3(mean(pr)), mean(li), f3(mean(bgp)), f3(mean(rp)))
	for i := range top {
		w(" %s / %s / %s |", f3(mean(top[i][0])), f3(mean(top[i][1])), f3(mean(top[i][2])))
	}
	w("\n")
	if ev := res.Eval; ev != nil {
		line("test "+ev.Cutoff.Format(time.DateOnly), ev.AtRisk)
	}
	w("\n")

	// CLV
	if len(bts) > 0 && bts[0].Eval != nil && len(bts[0].Eval.CLV) > 0 {
		names := []string{}
		for _, c := range bts[0].Eval.CLV {
			names = append(names, c.Name)
		}
		w("### 90-day spend: MAE / Spearman\n\n| test cutoff | mean actual spend |")
		for _, n := range names {
			w(" %s |", n)
		}
		w("\n|---|---|")
		for range names {
			w("---|")
		}
		w("\n")
		maes, sps := make([][]float64, len(names)), make([][]float64, len(names))
		for _, r := range bts {
			if r.Eval == nil {
				continue
			}
			w("| %s | %.1f |", r.Protocol.TestCutoff.Format(time.DateOnly), r.Eval.CLV[0].MeanActual)
			for j, n := range names {
				for _, c := range r.Eval.CLV {
					if c.Name == n {
						maes[j], sps[j] = append(maes[j], c.MAE), append(sps[j], c.Spearman)
						w(" %.1f / %s |", c.MAE, f3(c.Spearman))
					}
				}
			}
			w("\n")
		}
		w("| **average** | |")
		for j := range names {
			w(" **%.1f / %s** |", mean(maes[j]), f3(mean(sps[j])))
		}
		w("\n")
		if ev := res.Eval; ev != nil {
			w("| test %s | %.1f |", ev.Cutoff.Format(time.DateOnly), ev.CLV[0].MeanActual)
			for _, n := range names {
				for _, c := range ev.CLV {
					if c.Name == n {
						w(" %.1f / %s |", c.MAE, f3(c.Spearman))
					}
				}
			}
			w("\n")
		}
		w("\n")
	}
}

func writeTargets(w writer, res *train.Result, meta Meta) {
	w("## Targets\n\n")
	best := churnOf(res, shippedName(res))
	if best == nil || res.Eval == nil {
		return
	}
	ok := func(b bool) string {
		if b {
			return "met"
		}
		return "**not met**"
	}
	bestBase := func(r *train.Result) float64 {
		v := math.NaN()
		for _, n := range baselineNames {
			if c := churnOf(r, n); c != nil && (math.IsNaN(v) || c.Test.AUC > v) {
				v = c.Test.AUC
			}
		}
		return v
	}
	ev := res.Eval
	a := ev.AtRisk
	w("Shipped model: %s.\n\n| target | value | status |\n|---|---|---|\n", shippedName(res))
	w("| at_risk flags at most %.0f%% of active customers (test) | %s | %s |\n", 100*TargetAtRiskShare, pct(a.Share), ok(a.Share <= TargetAtRiskShare))
	w("| at_risk precision above BG/NBD's at the same size (test) | %s vs %s | %s |\n", f3(a.Precision), f3(a.BGNBD), ok(a.Precision > a.BGNBD))
	if len(meta.Backtests) > 0 {
		var sp, bp, sh []float64
		var segAUC, baseAUC []float64
		for _, r := range meta.Backtests {
			if r.Eval != nil {
				sp, bp, sh = append(sp, r.Eval.AtRisk.Precision), append(bp, r.Eval.AtRisk.BGNBD), append(sh, r.Eval.AtRisk.Share)
			}
			if c := churnOf(r, "segstream (no text)"); c != nil {
				segAUC = append(segAUC, c.Test.AUC)
				baseAUC = append(baseAUC, bestBase(r))
			}
		}
		w("| at_risk flags at most %.0f%% of active customers (backtest average) | %s | %s |\n", 100*TargetAtRiskShare, pct(mean(sh)), ok(mean(sh) <= TargetAtRiskShare))
		w("| at_risk precision above BG/NBD's at the same size (backtest average) | %s vs %s | %s |\n", f3(mean(sp)), f3(mean(bp)), ok(mean(sp) > mean(bp)))
		w("| churn ROC AUC at or above the best baseline (backtest average of each cutoff's best) | %s vs %s | %s |\n", f4(mean(segAUC)), f4(mean(baseAUC)), ok(mean(segAUC) >= mean(baseAUC)))
	}
	w("| churn ROC AUC at or above the best baseline (test) | %s vs %s | %s |\n", f4(best.Test.AUC), f4(bestBase(res)), ok(best.Test.AUC >= bestBase(res)))
	w("| ECE of the churn probabilities at most %.2f (test) | %s | %s |\n", TargetECE, f4(ev.Cal[0].ECE), ok(ev.Cal[0].ECE <= TargetECE))
	var val *train.Candidate
	for i := range res.Candidates {
		if res.Candidates[i].Name == shippedName(res) {
			val = &res.Candidates[i]
		}
	}
	if val != nil && val.Value != nil {
		w("| churn ROC AUC ≥ %.2f (issue 4) | %s | %s |\n", TargetChurnAUC, f3(best.Test.AUC), ok(best.Test.AUC >= TargetChurnAUC))
		w("| value-tier macro-F1 ≥ %.2f (issue 4) | %s | %s |\n", TargetValueMacroF1, f3(val.Value.Test.MacroF1), ok(val.Value.Test.MacroF1 >= TargetValueMacroF1))
	}
	w("\n")
}

// headKind describes a head's scorer for the report.
func headKind(h *classifier.Head) string {
	k := "linear (softmax)"
	if h.GBDT != nil {
		k = fmt.Sprintf("boosted trees (depth %d, %d rounds)", h.GBDT.Config.Depth, len(h.GBDT.Trees))
	} else if h.Train.Seeds > 1 {
		k = fmt.Sprintf("linear (softmax, weights averaged over %d seeds)", h.Train.Seeds)
	}
	if h.Refit {
		k += ", refitted on the training and validation cutoffs"
	}
	return k
}
