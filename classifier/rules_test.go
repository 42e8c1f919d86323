package classifier_test

import (
	"slices"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
)

func TestDecideHysteresisAndDwell(t *testing.T) {
	res := sliceRun(t)
	m := *res.Model
	m.Churn.Threshold = 0.5
	m.Rules = classifier.Rules{}
	l, err := classifier.NewLabeler(&m, classifier.Rules{AtRiskEnter: 0.6, AtRiskExit: 0.4, MinDwellDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	base := m.Score(res.Data.Val.Examples[0].View, nil)
	t0 := base.AsOf
	day := 24 * time.Hour
	steps := []struct {
		name   string
		at     time.Duration
		risk   float64
		atRisk bool
	}{
		{"first decision uses the threshold", 0, 0.55, true},
		{"below exit but inside the dwell", 2 * day, 0.3, true},
		{"inside the band after the dwell: stays", 8 * day, 0.45, true},
		{"below exit after the dwell: leaves", 9 * day, 0.39, false},
		{"above the threshold but below enter: stays out", 20 * day, 0.58, false},
		{"above enter: enters", 21 * day, 0.61, true},
		{"flap back down within the dwell: stays", 22 * day, 0.1, true},
	}
	var st classifier.State
	for _, s := range steps {
		sc := base
		sc.ChurnRisk = s.risk
		segs, reasons, next := l.Decide(st, sc, t0.Add(s.at))
		if got := slices.Contains(segs, classifier.SegAtRisk); got != s.atRisk {
			t.Fatalf("%s: at_risk = %v, segments %v", s.name, got, segs)
		}
		if s.atRisk {
			n := 0
			for _, r := range reasons {
				if r.Segment == classifier.SegAtRisk {
					n++
					if r.Contribution <= 0 {
						t.Fatalf("%s: reason %+v does not push towards churn", s.name, r)
					}
				}
			}
			if n == 0 {
				t.Fatalf("%s: at_risk without reasons", s.name)
			}
		}
		st = next
	}
}

func TestDecideTierMarginAndDwell(t *testing.T) {
	res := sliceRun(t)
	m := *res.Model
	m.Value.Offsets = []float64{0, 0, 0}
	l, err := classifier.NewLabeler(&m, classifier.Rules{TierMargin: 0.5, MinDwellDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	sc := m.Score(res.Data.Val.Examples[0].View, nil)
	t0 := sc.AsOf
	set := func(p [3]float64) classifier.Scores {
		s := sc
		s.Tier = p
		s.TierClass = classifier.Argmax(p[:])
		return s
	}
	_, _, st := l.Decide(classifier.State{}, set([3]float64{0.2, 0.7, 0.1}), t0)
	if st.Tier != classifier.TierMid {
		t.Fatalf("tier %d", st.Tier)
	}
	// high barely wins: below the margin, stays mid.
	segs, _, st2 := l.Decide(st, set([3]float64{0.1, 0.44, 0.46}), t0.Add(10*24*time.Hour))
	if st2.Tier != classifier.TierMid || !slices.Contains(segs, classifier.SegMidValue) {
		t.Fatalf("moved on a %v margin: %v", 0.46/0.44, segs)
	}
	// high wins clearly but within the dwell of the last change: stays.
	_, _, st3 := l.Decide(st, set([3]float64{0.05, 0.15, 0.8}), t0.Add(3*24*time.Hour))
	if st3.Tier != classifier.TierMid {
		t.Fatal("changed tier inside the dwell")
	}
	segs, _, st4 := l.Decide(st, set([3]float64{0.05, 0.15, 0.8}), t0.Add(8*24*time.Hour))
	if st4.Tier != classifier.TierHigh || !slices.Contains(segs, classifier.SegHighValue) {
		t.Fatalf("did not move to high: %v", segs)
	}
}

// TestSilenceMovesLabels: the same profile read later (time alone) becomes
// dormant and at_risk.
func TestSilenceMovesLabels(t *testing.T) {
	res := sliceRun(t)
	l, err := classifier.NewLabeler(res.Model, classifier.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	var ex *train.Example
	for i := range res.Data.Val.Examples {
		e := &res.Data.Val.Examples[i]
		if r := e.View.RFM.RecencyDays; r != nil && *r < 20 && e.View.TenureDays > 60 {
			ex = e
			break
		}
	}
	if ex == nil {
		t.Skip("no recent buyer in the slice")
	}
	v := ex.View
	s0 := res.Model.Score(v, nil)
	segs0, _, st := l.Decide(classifier.State{}, s0, v.AsOf)
	if !slices.Contains(segs0, classifier.SegActive) {
		t.Fatalf("recent buyer not active: %v", segs0)
	}
	// Re-read the same profile 200 days later.
	later := v.AsOf.Add(200 * 24 * time.Hour)
	v2 := v
	v2.AsOf = later
	v2.TenureDays += 200
	r := *v.RFM.RecencyDays + 200
	v2.RFM.RecencyDays = &r
	s1 := res.Model.Score(v2, nil)
	if s1.ChurnRisk <= s0.ChurnRisk {
		t.Fatalf("churn risk did not rise with silence: %.3f -> %.3f", s0.ChurnRisk, s1.ChurnRisk)
	}
	segs1, _, _ := l.Decide(st, s1, later)
	if !slices.Contains(segs1, classifier.SegDormant) || !slices.Contains(segs1, classifier.SegAtRisk) {
		t.Fatalf("after 200 silent days: %v (risk %.3f)", segs1, s1.ChurnRisk)
	}
}

func TestLifecycleThresholds(t *testing.T) {
	res := sliceRun(t)
	l, err := classifier.NewLabeler(res.Model, classifier.Rules{NewDays: 10, ActiveDays: 20})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Model.Score(res.Data.Val.Examples[0].View, nil)
	now := time.Date(2011, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		first, last time.Duration
		want        string
	}{
		{"new", 5 * 24 * time.Hour, 1 * 24 * time.Hour, classifier.SegNew},
		{"active", 100 * 24 * time.Hour, 19 * 24 * time.Hour, classifier.SegActive},
		{"dormant", 100 * 24 * time.Hour, 21 * 24 * time.Hour, classifier.SegDormant},
	} {
		s.FirstSeen, s.LastSeen = now.Add(-tc.first), now.Add(-tc.last)
		segs, _, _ := l.Decide(classifier.State{}, s, now)
		if segs[0] != tc.want {
			t.Errorf("%s: %v", tc.name, segs)
		}
	}
	if _, err := classifier.NewLabeler(res.Model, classifier.Rules{AtRiskEnter: 0.3, AtRiskExit: 0.6}); err == nil {
		t.Error("an inverted hysteresis band was accepted")
	}
}
