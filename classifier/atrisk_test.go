package classifier_test

import (
	"math"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/label"
)

// TestAtRiskRankingLogit: the blend on a hand-computed case, and the
// churn log-odds without a ranking.
func TestAtRiskRankingLogit(t *testing.T) {
	r := &classifier.AtRiskRanking{W: 2, A: 0.5, B: 1}
	// 0.5·(1 + 2·(-0.25)) + 1 + 0.3
	if got := r.Logit(1, -0.25, 0.3); math.Abs(got-1.55) > 1e-15 {
		t.Fatalf("blend %v, want 1.55", got)
	}
	var none *classifier.AtRiskRanking
	if got := none.Logit(1, -0.25, 0.3); got != 1.3 {
		t.Fatalf("no ranking: %v, want the churn log-odds 1.3", got)
	}
}

// TestAtRiskScore: a model's at_risk score is the churn risk without a
// ranking or with weight 0, and A·(c + W·b) + B + season with one, where
// c is the calibrated churn log-odds without the seasonal term and b
// BG/NBD's log-odds of no purchase, computed here from the model's
// BG/NBD fit; the Segmenter puts it in the label document, and the
// at_risk band moves by the same seasonal offset as the score.
func TestAtRiskScore(t *testing.T) {
	res := sliceRun(t)
	m := *res.Model
	if m.Calibration == nil || !(m.BGNBD.R > 0) {
		t.Fatal("the slice model has no calibration or BG/NBD fit: the blend is not exercised")
	}
	cal := *m.Calibration
	cal.Season = []classifier.SeasonPoint{{Cutoff: date(2010, 3, 1), Offset: 0}, {Cutoff: date(2010, 9, 1), Offset: -0.6}}
	m.Calibration = &cal
	asOfs := []time.Time{date(2011, 3, 1), date(2011, 6, 15), date(2011, 9, 1)}
	checked := 0
	for _, e := range res.Data.Val.Examples {
		if e.View.RFM.PurchaseDays < 2 {
			continue
		}
		x, tx, T := classifier.BGNBDObsFromView(e.View)
		p := m.BGNBD.PBuy(x, tx, T, classifier.HorizonDays/7.0)
		b := math.Log((1 - p) / p)
		for _, asOf := range asOfs {
			v := e.View
			v.AsOf = asOf // the season is read from the view's time
			m.AtRisk = nil
			s0 := m.ScoreHistory(v, e.History, nil)
			if s0.AtRisk != s0.ChurnRisk || s0.AtRiskLogit != s0.ChurnLogit {
				t.Fatalf("no ranking: at_risk %v, churn risk %v", s0.AtRisk, s0.ChurnRisk)
			}
			m.AtRisk = &classifier.AtRiskRanking{W: 0, A: 1, B: 0}
			if s := m.ScoreHistory(v, e.History, nil); s.AtRisk != s0.ChurnRisk {
				t.Fatalf("weight 0: at_risk %v, churn risk %v", s.AtRisk, s0.ChurnRisk)
			}
			m.AtRisk = &classifier.AtRiskRanking{W: 0.5, A: 1.2, B: -0.3}
			s := m.ScoreHistory(v, e.History, nil)
			c := cal.A*s.ChurnHeadLogit + cal.B
			want := 1.2*(c+0.5*b) - 0.3 + cal.SeasonOffset(asOf)
			if math.Abs(s.AtRiskLogit-want) > 1e-9 || math.Abs(s.AtRisk-1/(1+math.Exp(-want))) > 1e-12 {
				t.Fatalf("%s: at_risk log-odds %v, want %v", e.UserID, s.AtRiskLogit, want)
			}
			if s.ChurnRisk != s0.ChurnRisk {
				t.Fatal("the ranking moved the churn risk")
			}
		}
		checked++
		if checked == 20 {
			break
		}
	}
	if checked == 0 {
		t.Fatal("no repeat buyer in the validation set")
	}

	// the Segmenter: the score in the document, and the band shifted by
	// the offset the score carries
	m.AtRisk = &classifier.AtRiskRanking{W: 0.5, A: 1.2, B: -0.3}
	seg, err := classifier.NewSegmenterFor(&m, defaultDefs(t))
	if err != nil {
		t.Fatal(err)
	}
	logit := func(p float64) float64 { return math.Log(p / (1 - p)) }
	val := res.Data.Val.Cutoff
	n := 0
	for _, e := range res.Data.Val.Examples {
		if e.Profile == nil || e.View.RFM.PurchaseDays < 1 {
			continue
		}
		in := seg.Input(e.Profile, e.View, nil, val)
		s := m.ScoreHistory(e.View, classifier.HistoryOf(e.Profile), nil)
		if got, ok := in.Scores[classifier.ScoreAtRisk]; !ok || got != label.Round(s.AtRisk) {
			t.Fatalf("%s: document's at_risk score %v (present %v), model's %v", e.UserID, got, ok, s.AtRisk)
		}
		// the score's margin over the band, on the log-odds scale, does
		// not depend on the season: the offset the score carries is the
		// one the band moves by
		for _, asOf := range append(asOfs, val) {
			v := e.View
			v.AsOf = asOf
			sa := m.ScoreHistory(v, classifier.HistoryOf(e.Profile), nil)
			c, b := m.AtRiskInputs(&sa)
			want := 1.2*(c+0.5*b) - 0.3 - logit(m.Rules.AtRiskEnter)
			if d := logit(sa.AtRisk) - logit(seg.Params(asOf)["at_risk_enter"]); math.Abs(d-want) > 1e-6 {
				t.Fatalf("%s on %s: margin over the band %v, want %v", e.UserID, asOf.Format(time.DateOnly), d, want)
			}
		}
		if n++; n == 20 {
			break
		}
	}
	if n == 0 {
		t.Fatal("no validation profile")
	}
}

// TestAtRiskRankingFormat: a ranking needs format 3 and an increasing,
// finite map; a format-2 file (without one) still loads, its at_risk
// score the churn risk.
func TestAtRiskRankingFormat(t *testing.T) {
	m := *sliceRun(t).Model
	m.AtRisk = &classifier.AtRiskRanking{W: 1, A: 0.9, B: 0.1}
	if err := m.Check(); err != nil {
		t.Fatalf("a valid ranking refused: %v", err)
	}
	for _, r := range []classifier.AtRiskRanking{{W: 1, A: 0, B: 0}, {W: -1, A: 1}, {W: 1, A: 1, B: math.NaN()}, {W: math.Inf(1), A: 1}} {
		m.AtRisk = &r
		if err := m.Check(); err == nil {
			t.Errorf("ranking %+v accepted", r)
		}
	}
	m.AtRisk = &classifier.AtRiskRanking{W: 1, A: 0.9, B: 0.1}
	m.FormatVersion = 2
	if err := m.Check(); err == nil {
		t.Error("format 2 with an at_risk ranking accepted")
	}
	m.AtRisk = nil
	if s := scoredAfterReload(t, &m, "format 2"); s.AtRisk != s.ChurnRisk {
		t.Fatalf("format 2: at_risk score %v, churn risk %v", s.AtRisk, s.ChurnRisk)
	}
}
