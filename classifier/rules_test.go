package classifier_test

import (
	"slices"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/featurestore"
)

// TestSilenceMovesLabels: the same profile read later (time alone) becomes
// dormant, with a higher churn risk, and is not at_risk: the alert list is
// for customers who are slipping, not for those long gone.
func TestSilenceMovesLabels(t *testing.T) {
	res := sliceRun(t)
	seg, err := classifier.NewSegmenterFor(res.Model, defaultDefs(t))
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
	p := &featurestore.Profile{UserID: v.UserID, FirstSeen: v.FirstSeen.Unix(), LastSeen: v.LastSeen.Unix()}
	s0 := res.Model.Score(v, nil)
	d0, err := seg.Label(p, v, nil, nil, v.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	segs0 := d0.Segments
	if !slices.Contains(segs0, "active") {
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
	d1, err := seg.Label(p, v2, nil, d0.State, later)
	if err != nil {
		t.Fatal(err)
	}
	segs1 := d1.Segments
	if !slices.Contains(segs1, "dormant") || slices.Contains(segs1, "at_risk") {
		t.Fatalf("after 200 silent days: %v (risk %.3f)", segs1, s1.ChurnRisk)
	}
}

func TestInvertedBandRefused(t *testing.T) {
	res := sliceRun(t)
	m := *res.Model
	m.Rules = classifier.Rules{AtRiskEnter: 0.3, AtRiskExit: 0.6}
	if _, err := classifier.NewSegmenterFor(&m, defaultDefs(t)); err == nil {
		t.Error("an inverted hysteresis band was accepted")
	}
}
