package classifier_test

import (
	"math"
	"sort"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/replay"
)

// The built-in taxonomy as CEL definitions (deploy/segments) against the
// hard-coded rules it replaced (legacyDecide below, the code of
// classifier.Labeler.Decide before segments were data): both label the
// demo's data (half a year of Online Retail, folded in event order)
// the way the service does (after each event, and every due_step of
// clock time for users gone silent), with the default model, and the
// segment sizes are compared.
func TestDefaultDefinitionsReproduceBuiltInSizes(t *testing.T) {
	m, err := classifier.Load(defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := classifier.NewSegmenterFor(m, defaultDefs(t))
	if err != nil {
		t.Fatal(err)
	}
	rules := m.Rules.WithDefaults(m.Churn.Threshold)
	// the demo's data: the first half-year of the 2010-2011 Online Retail
	// file (the committed slices where ../shared is absent)
	evs := sliceEvents(t)
	if items, _, err := replay.ReadRetail([]string{testkit.RepoFile("../shared/data/online_retail_2010_2011.csv.gz")},
		replay.RetailOptions{Until: time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		evs = evs[:0:0]
		for _, it := range items {
			evs = append(evs, it.Event)
		}
	} else {
		t.Logf("the demo data is not here (%v): the committed slices instead", err)
	}
	lim := featurestore.DefaultLimits
	type user struct {
		p        *featurestore.Profile
		state    []byte
		legacy   legacyState
		lastEval time.Time
		newSegs  []string
		oldSegs  []string
	}
	users := map[string]*user{}
	eval := func(u *user, asOf time.Time) {
		if ls := time.Unix(u.p.LastSeen, 0).UTC(); asOf.Before(ls) {
			asOf = ls
		}
		v := featurestore.NewView(u.p, asOf)
		d, err := seg.Label(u.p, v, nil, u.state, asOf)
		if err != nil {
			t.Fatal(err)
		}
		u.state, u.newSegs = d.State, d.Segments
		sc := m.ScoreHistory(v, classifier.HistoryOf(u.p), nil)
		r := rules // the at_risk band as the definitions read it at asOf
		r.AtRiskEnter, r.AtRiskExit = seg.Params(asOf)["at_risk_enter"], seg.Params(asOf)["at_risk_exit"]
		u.oldSegs, u.legacy = legacyDecide(m, r, u.legacy, sc, v, asOf)
		u.lastEval = asOf
	}
	const dueStep = 7 * 24 * time.Hour
	var nextDue time.Time
	for i, e := range evs {
		u := users[e.UserID]
		if u == nil {
			u = &user{p: &featurestore.Profile{UserID: e.UserID}}
			users[e.UserID] = u
		}
		u.p.Apply(e, featurestore.Mark{Source: "t/0", Offset: int64(i)}, lim)
		clock := e.TS.UTC()
		eval(u, clock)
		if nextDue.IsZero() {
			nextDue = clock.Add(dueStep)
		}
		for !clock.Before(nextDue) { // the due queue: silent users looked at again
			for _, o := range users {
				if nextDue.Sub(o.lastEval) >= dueStep {
					eval(o, nextDue)
				}
			}
			nextDue = nextDue.Add(dueStep)
		}
	}
	oldN, newN := map[string]int{}, map[string]int{}
	agree := 0
	for _, u := range users {
		for _, s := range u.oldSegs {
			oldN[s]++
		}
		for _, s := range u.newSegs {
			newN[s]++
		}
		a, b := append([]string(nil), u.oldSegs...), append([]string(nil), u.newSegs...)
		sort.Strings(a)
		sort.Strings(b)
		if len(a) == len(b) {
			same := true
			for i := range a {
				same = same && a[i] == b[i]
			}
			if same {
				agree++
			}
		}
	}
	n := len(users)
	t.Logf("%d users, %d events; identical segment lists for %d (%.1f%%)", n, len(evs), agree, 100*float64(agree)/float64(n))
	for _, s := range []string{"new", "active", "dormant", "at_risk", "high_value", "mid_value", "low_value"} {
		diff := math.Abs(float64(newN[s]-oldN[s])) / float64(n)
		t.Logf("%-11s built-in %5d  definitions %5d  (difference %.2f%% of users)", s, oldN[s], newN[s], 100*diff)
		tol := 0.01
		if s == "new" || s == "active" || s == "dormant" {
			tol = 0 // the same rule on the same clock
		}
		if diff > tol {
			t.Errorf("%s: %d members with the definitions, %d with the built-in rules", s, newN[s], oldN[s])
		}
	}
}

// legacyState and legacyDecide are the built-in rules as they were
// (classifier.State and Labeler.Decide), without interests (no text here)
// and without reasons; at_risk is the rule of the current definition
// (issue 12: a buyer, one-time or repeat, with a purchase in the last 90
// days whose at_risk score, as the label document rounds it, is at or
// above the enter threshold, leaving when the purchase is older or below
// the exit threshold), written in Go.
type legacyState struct {
	Decided     bool
	AtRisk      bool
	AtRiskSince time.Time
	Tier        int
	TierSince   time.Time
}

func legacyDecide(m *classifier.Model, r classifier.Rules, prev legacyState, s classifier.Scores, v featurestore.View, asOf time.Time) ([]string, legacyState) {
	dwell := time.Duration(r.MinDwellDays * 24 * float64(time.Hour))
	st := prev
	st.Decided = true
	var segs []string
	age := asOf.Sub(s.FirstSeen).Hours() / 24
	idle := asOf.Sub(s.LastSeen).Hours() / 24
	switch {
	case age < r.NewDays:
		segs = append(segs, "new")
	case idle <= r.ActiveDays:
		segs = append(segs, "active")
	default:
		segs = append(segs, "dormant")
	}
	slipping := v.RFM.RecencyDays != nil && *v.RFM.RecencyDays <= 90
	risk := label.Round(s.AtRisk)
	enter := slipping && risk >= r.AtRiskEnter
	if !prev.Decided {
		st.AtRisk = enter
		st.AtRiskSince = asOf
	} else {
		dwelt := !asOf.Before(prev.AtRiskSince.Add(dwell))
		switch {
		case prev.AtRisk && (!slipping || risk < r.AtRiskExit) && dwelt:
			st.AtRisk, st.AtRiskSince = false, asOf
		case !prev.AtRisk && enter && dwelt:
			st.AtRisk, st.AtRiskSince = true, asOf
		}
	}
	if st.AtRisk {
		segs = append(segs, "at_risk")
	}
	cand := s.TierClass
	if !prev.Decided {
		st.Tier, st.TierSince = cand, asOf
	} else if cand != prev.Tier && !asOf.Before(prev.TierSince.Add(dwell)) {
		lp := func(k int) float64 {
			v := math.Log(math.Max(s.Tier[k], 1e-300))
			if len(m.Value.Offsets) == 3 {
				v += m.Value.Offsets[k]
			}
			return v
		}
		if lp(cand)-lp(prev.Tier) >= r.TierMargin {
			st.Tier, st.TierSince = cand, asOf
		}
	}
	segs = append(segs, []string{"low_value", "mid_value", "high_value"}[st.Tier])
	return segs, st
}
