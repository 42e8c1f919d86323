package train

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/metrics"
)

// Eval holds the figures of the shipped model on one test cutoff beyond
// the heads' classification metrics: customer value, the at_risk segment
// and calibration.
type Eval struct {
	Cutoff time.Time
	// GammaGamma is the spend model fitted on all history before the
	// cutoff (the baseline "BG/NBD + Gamma-Gamma" uses it with the BG/NBD
	// fit of the same history).
	GammaGamma classifier.GammaGammaParams
	CLV        []CLVEval
	AtRisk     AtRiskEval
	// Cal are the calibration figures of the churn probabilities: the
	// shipped model's calibrated ones, its head's own, and BG/NBD's.
	Cal []CalEval
	// AtRiskEnter and AtRiskExit are the at_risk definition evaluated
	// (its CEL expressions).
	AtRiskEnter, AtRiskExit string
}

// CLVEval compares predicted with actual gross spend in the 90 days from
// the cutoff, over every customer of the cutoff.
type CLVEval struct {
	Name                 string
	MAE, Spearman        float64
	MeanPred, MeanActual float64
}

// CalEval is the calibration of one model's churn probabilities.
type CalEval struct {
	Name       string
	Brier, ECE float64
	Bins       []metrics.CalBin // 10 equal-width bins
}

// AtRiskEval is the at_risk segment on a cutoff: the definition in force
// (Config.Segments) evaluated for every customer as a first labelling at
// the cutoff, against the customers' churn (no purchase in the window).
type AtRiskEval struct {
	Customers int
	// Active are the customers with a purchase in the last ActiveDays
	// days, ActiveChurn their churn rate (the base rate of the lift).
	Active      int
	ActiveChurn float64
	// Eligible are the customers the definition admits whatever their
	// churn risk (its membership with model["at_risk_enter"] and
	// model["at_risk_exit"] at 0), EligibleChurn their churn rate, and
	// OtherActiveChurn the churn rate of the active customers it does not
	// admit.
	Eligible                        int
	EligibleChurn, OtherActiveChurn float64
	// Members is the size of at_risk, MembersActive how many of them are
	// active; Share = Members / Active.
	Members, MembersActive int
	Share                  float64
	// Precision is the churn rate of the members, Lift = Precision /
	// ActiveChurn; BGNBD and Recency are the precision of the Members
	// active customers with the highest BG/NBD churn probability and the
	// longest recency.
	Precision, Lift float64
	BGNBD, Recency  float64
	// Top are the precisions of the highest-risk 5%, 10% and 20% of active
	// customers by the model's at_risk score, its churn risk, BG/NBD and
	// recency.
	Top []TopK
	// Ranking is the model's at_risk ranking (nil: the churn risk) and
	// Grid the validation precision of each BG/NBD weight it was chosen
	// from (fitAtRiskRanking).
	Ranking *classifier.AtRiskRanking
	Grid    []AtRiskPoint
}

// TopK is the precision at the top Frac of active customers by risk:
// Segstream by the at_risk score, Churn by the churn risk alone.
type TopK struct {
	Frac                             float64
	K                                int
	Segstream, Churn, BGNBD, Recency float64
	SegstreamLift, BGNBDLift         float64
	RecencyLift                      float64
}

// atRiskMembers evaluates the at_risk definition for every example of set
// (which must hold profiles) with m's scores; with open, every customer
// the definition admits whatever the churn risk (model["at_risk_enter"]
// and model["at_risk_exit"] set to 0). risk are the at_risk scores
// (classifier.ScoreAtRisk, as the definition reads them: rounded), what
// the band is tuned on.
func atRiskMembers(m *classifier.Model, set *Set, embs map[string][]float32, cfg Config, open bool) (in []bool, risk []float64, err error) {
	if _, ok := cfg.Segments.Lookup("at_risk"); !ok {
		return nil, nil, fmt.Errorf("the segment definitions have no at_risk")
	}
	seg, err := classifier.NewSegmenterFor(m, nil)
	if err != nil {
		return nil, nil, err
	}
	in = make([]bool, len(set.Examples))
	risk = make([]float64, len(set.Examples))
	for i := range set.Examples {
		e := &set.Examples[i]
		if e.Profile == nil {
			return nil, nil, fmt.Errorf("cutoff %s: no profiles kept", set.Cutoff.Format(time.DateOnly))
		}
		inp := seg.Input(e.Profile, e.View, embOf(embs, e, cfg.profileText), set.Cutoff)
		risk[i] = inp.Scores[classifier.ScoreAtRisk]
		if open {
			mp := make(map[string]float64, len(inp.Model))
			for k, v := range inp.Model {
				mp[k] = v
			}
			mp["at_risk_enter"], mp["at_risk_exit"] = 0, 0
			inp.Model = mp
		}
		r, err := cfg.Segments.Evaluate(inp, nil)
		if err != nil {
			return nil, nil, err
		}
		in[i] = slices.Contains(r.Segments, "at_risk")
	}
	return in, risk, nil
}

// AtRiskExitShare: the at_risk exit threshold is the churn risk above
// which this many times AtRiskShare of the active customers would be
// flagged, so the hysteresis band is set in shares of the population (a
// member leaves once out of the top 12.5% when 10% are flagged).
const AtRiskExitShare = 1.25

// atRiskThreshold tunes the at_risk thresholds on set (see tuneAtRisk and
// AtRiskExitShare) and returns them with the members the enter threshold
// flags there and the active customers.
func atRiskThreshold(m *classifier.Model, set *Set, embs map[string][]float32, cfg Config) (enter, exit float64, members, active int) {
	eligible, risk, err := atRiskMembers(m, set, embs, cfg, true)
	if err != nil {
		logf(cfg.Log, "at_risk: %v; threshold not tuned\n", err)
		return 0, 0, 0, 0
	}
	for i := range set.Examples {
		if isActive(&set.Examples[i]) {
			active++
		}
	}
	enter = tuneAtRisk(risk, eligible, active, cfg.AtRiskShare)
	exit = math.Min(tuneAtRisk(risk, eligible, active, math.Min(cfg.AtRiskShare*AtRiskExitShare, 0.99)), enter)
	for i, ok := range eligible {
		if ok && risk[i] >= enter {
			members++
		}
	}
	return enter, exit, members, active
}

// bgnbdChurn is 1 - BG/NBD P(a purchase in the window) of each example.
func bgnbdChurn(p classifier.BGNBDParams, exs []Example) []float64 {
	s := make([]float64, len(exs))
	for i := range exs {
		o := exs[i].Obs
		s[i] = 1 - p.PBuy(o.X, o.TX, o.T, classifier.HorizonDays/7.0)
	}
	return s
}

// evaluate computes Eval for model m on set (the test cutoff): bg is the
// BG/NBD fit on the history before it.
func evaluate(m *classifier.Model, d *Data, set *Set, bg classifier.BGNBDParams, embs map[string][]float32, cfg Config) (*Eval, error) {
	exs := set.Examples
	ev := &Eval{Cutoff: set.Cutoff, GammaGamma: FitGammaGamma(ggObsOf(exs))}
	if def, ok := cfg.Segments.Lookup("at_risk"); ok {
		ev.AtRiskEnter, ev.AtRiskExit = def.Enter, def.Exit
	}
	y := labels(exs, true)
	n := len(exs)
	seg, headP := make([]float64, n), make([]float64, n)
	clv, actual, last90, bgclv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	h90 := classifier.HorizonDays / 7.0
	for i := range exs {
		e := &exs[i]
		s := m.ScoreHistory(e.View, e.History, embOf(embs, e, cfg.profileText))
		seg[i], headP[i] = s.ChurnRisk, sigmoid(s.ChurnHeadLogit)
		clv[i], actual[i] = s.CLV90d, e.Spend
		last90[i] = math.Max(e.View.Windows["90d"].Spend, 0)
		if ev.GammaGamma.Valid() {
			g := ggObs(e)
			o := e.Obs
			bgclv[i] = bg.ExpectedPurchases(o.X, o.TX, o.T, h90) * ev.GammaGamma.MeanSpend(g.X, g.M)
		}
	}
	bgc := bgnbdChurn(bg, exs)
	cal := func(name string, p []float64) CalEval {
		return CalEval{Name: name, Brier: metrics.Brier(p, y), ECE: metrics.ECE(p, y, 10), Bins: metrics.Calibration(p, y, 10)}
	}
	ev.Cal = []CalEval{cal("segstream, calibrated", seg), cal("segstream head, before calibration", headP), cal("BG/NBD", bgc)}
	mean := func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v
		}
		return s / float64(max(len(x), 1))
	}
	row := func(name string, p []float64) CLVEval {
		return CLVEval{Name: name, MAE: metrics.MAE(p, actual), Spearman: metrics.Spearman(p, actual), MeanPred: mean(p), MeanActual: mean(actual)}
	}
	if m.GammaGamma != nil {
		ev.CLV = append(ev.CLV, row("segstream (churn head + BG/NBD + Gamma-Gamma)", clv))
		own := make([]float64, n) // the same spend model with BG/NBD's own P(buy)
		for i := range exs {
			s := m.ScoreHistory(exs[i].View, exs[i].History, nil)
			x, tx, T := classifier.BGNBDObsFromView(exs[i].View)
			if exs[i].View.RFM.PurchaseDays > 0 {
				own[i] = m.BGNBD.ExpectedPurchases(x, tx, T, h90) * s.SpendPerDay
			}
		}
		ev.CLV = append(ev.CLV, row("BG/NBD + Gamma-Gamma, the model's own fits", own))
	}
	if ev.GammaGamma.Valid() {
		ev.CLV = append(ev.CLV, row("BG/NBD + Gamma-Gamma alone, refitted at the cutoff", bgclv))
	}
	ev.CLV = append(ev.CLV, row("last 90 days' spend again", last90))

	// at_risk
	members, risk, err := atRiskMembers(m, set, embs, cfg, false)
	if err != nil {
		return nil, err
	}
	open, _, err := atRiskMembers(m, set, embs, cfg, true)
	if err != nil {
		return nil, err
	}
	a := &ev.AtRisk
	a.Customers = n
	var act []int
	for i := range exs {
		if isActive(&exs[i]) {
			act = append(act, i)
		}
	}
	a.Active = len(act)
	sub := func(x []float64) []float64 {
		o := make([]float64, len(act))
		for j, i := range act {
			o[j] = x[i]
		}
		return o
	}
	ya := make([]int, len(act))
	var churned int
	for j, i := range act {
		ya[j] = y[i]
		churned += y[i]
	}
	a.ActiveChurn = float64(churned) / float64(max(len(act), 1))
	var ec, oc, on int
	for i, ok := range open {
		switch {
		case ok:
			a.Eligible++
			ec += y[i]
		case isActive(&exs[i]):
			on++
			oc += y[i]
		}
	}
	a.EligibleChurn = float64(ec) / float64(max(a.Eligible, 1))
	a.OtherActiveChurn = float64(oc) / float64(max(on, 1))
	var hit int
	for i, ok := range members {
		if ok {
			a.Members++
			hit += y[i]
			if isActive(&exs[i]) {
				a.MembersActive++
			}
		}
	}
	rec := make([]float64, n)
	for i := range exs {
		if r := exs[i].View.RFM.RecencyDays; r != nil {
			rec[i] = *r
		}
	}
	ra, ca, ba, rca := sub(risk), sub(seg), sub(bgc), sub(rec)
	lift := func(p float64) float64 { return p / math.Max(a.ActiveChurn, 1e-12) }
	if a.Members > 0 {
		a.Share = float64(a.Members) / float64(max(a.Active, 1))
		a.Precision = float64(hit) / float64(a.Members)
		a.Lift = lift(a.Precision)
		a.BGNBD = metrics.PrecisionAtK(ba, ya, a.Members)
		a.Recency = metrics.PrecisionAtK(rca, ya, a.Members)
	}
	for _, f := range []float64{0.05, 0.10, 0.20} {
		k := int(math.Round(f * float64(a.Active)))
		t := TopK{Frac: f, K: k, Segstream: metrics.PrecisionAtK(ra, ya, k), Churn: metrics.PrecisionAtK(ca, ya, k), BGNBD: metrics.PrecisionAtK(ba, ya, k), Recency: metrics.PrecisionAtK(rca, ya, k)}
		t.SegstreamLift, t.BGNBDLift, t.RecencyLift = lift(t.Segstream), lift(t.BGNBD), lift(t.Recency)
		a.Top = append(a.Top, t)
	}
	a.Ranking = m.AtRisk
	a.Grid, _, _, _ = atRiskGrid(m, &d.Val, embs, cfg)
	return ev, nil
}
