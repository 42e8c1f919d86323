package classifier

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/segstream/segstream/label"
)

// Value tiers: the classes of the value head, by spend in the label window.
const (
	TierNone = 0 // no purchase
	TierMid  = 1 // a purchase, below the top 20% of spenders
	TierHigh = 2 // top 20% of spenders
)

// TierNames name the value-head classes in the model file and reports.
var TierNames = []string{"none", "mid", "high"}

// Segment names (PRODUCT.md).
const (
	SegNew       = "new"
	SegActive    = "active"
	SegDormant   = "dormant"
	SegAtRisk    = "at_risk"
	SegHighValue = "high_value"
	SegMidValue  = "mid_value"
	SegLowValue  = "low_value"
	// InterestPrefix starts interest segments: "interest:<theme>".
	InterestPrefix = "interest:"
)

// TierSegments maps value-head classes (TierNone, TierMid, TierHigh) to
// their segments.
var TierSegments = [3]string{SegLowValue, SegMidValue, SegHighValue}

// Rules are the business rules around the heads. Zero fields take the
// defaults of DefaultRules (see WithDefaults).
type Rules struct {
	// NewDays: a user whose first event is less than this many days old is
	// `new`. Default 30.
	NewDays float64 `json:"new_days"`
	// ActiveDays: otherwise a user with an event in the last ActiveDays days
	// is `active`, else `dormant`. Default 90.
	ActiveDays float64 `json:"active_days"`
	// AtRiskEnter / AtRiskExit: hysteresis band on P(churn). A user enters
	// at_risk at or above Enter and leaves below Exit. Defaults: the churn
	// head's threshold plus / minus 0.05.
	AtRiskEnter float64 `json:"at_risk_enter"`
	AtRiskExit  float64 `json:"at_risk_exit"`
	// TierMargin: a user moves to another value tier only when its
	// offset-adjusted log-probability beats the current tier's by this much.
	// Default 0.2.
	TierMargin float64 `json:"tier_margin"`
	// MinDwellDays: after entering or leaving at_risk, or changing tier, a
	// user stays at least this long in event time. Default 7.
	MinDwellDays float64 `json:"min_dwell_days"`
	// MaxReasons is how many contributions each label lists. Default 3.
	MaxReasons int `json:"max_reasons"`
	// InterestMinSim is the least cosine similarity of the profile embedding
	// to a theme for `interest:<theme>`; MaxInterests caps how many. Defaults
	// 0.35 and 2.
	InterestMinSim float64 `json:"interest_min_sim"`
	MaxInterests   int     `json:"max_interests"`
}

// DefaultRules are the rule defaults (AtRisk* come from the model's threshold).
var DefaultRules = Rules{NewDays: 30, ActiveDays: 90, TierMargin: 0.2, MinDwellDays: 7, MaxReasons: 3, InterestMinSim: 0.35, MaxInterests: 2}

// WithDefaults fills zero fields; thr is the churn head's threshold.
func (r Rules) WithDefaults(thr float64) Rules {
	d := DefaultRules
	if r.NewDays > 0 {
		d.NewDays = r.NewDays
	}
	if r.ActiveDays > 0 {
		d.ActiveDays = r.ActiveDays
	}
	if r.TierMargin > 0 {
		d.TierMargin = r.TierMargin
	}
	if r.MinDwellDays > 0 {
		d.MinDwellDays = r.MinDwellDays
	}
	if r.MaxReasons > 0 {
		d.MaxReasons = r.MaxReasons
	}
	if r.InterestMinSim > 0 {
		d.InterestMinSim = r.InterestMinSim
	}
	if r.MaxInterests > 0 {
		d.MaxInterests = r.MaxInterests
	}
	d.AtRiskEnter, d.AtRiskExit = r.AtRiskEnter, r.AtRiskExit
	if d.AtRiskEnter == 0 {
		d.AtRiskEnter = math.Min(thr+0.05, 0.99)
	}
	if d.AtRiskExit == 0 {
		d.AtRiskExit = math.Max(thr-0.05, 0.01)
	}
	return d
}

// Validate checks the rules against each other.
func (r Rules) Validate() error {
	switch {
	case r.NewDays <= 0 || r.ActiveDays <= 0:
		return fmt.Errorf("rules: new_days and active_days must be positive")
	case r.AtRiskExit > r.AtRiskEnter:
		return fmt.Errorf("rules: at_risk_exit %.3f above at_risk_enter %.3f: the band would flap", r.AtRiskExit, r.AtRiskEnter)
	case r.AtRiskEnter <= 0 || r.AtRiskEnter >= 1:
		return fmt.Errorf("rules: at_risk_enter %.3f outside (0,1)", r.AtRiskEnter)
	case r.MinDwellDays < 0 || r.TierMargin < 0:
		return fmt.Errorf("rules: min_dwell_days and tier_margin must not be negative")
	}
	return nil
}

// State is what Decide remembers about a user between decisions (the
// service stores it next to the label document).
type State struct {
	Decided     bool      `json:"decided"`
	AtRisk      bool      `json:"at_risk"`
	AtRiskSince time.Time `json:"at_risk_since"` // event time of the last entry or exit
	Tier        int       `json:"tier"`
	TierSince   time.Time `json:"tier_since"`
}

// Labeler turns scores into segments with the model's rules. It is
// immutable and safe for concurrent use.
type Labeler struct {
	m     *Model
	rules Rules
}

// NewLabeler returns a labeler for m with rules r (zero fields: m.Rules,
// then defaults).
func NewLabeler(m *Model, r Rules) (*Labeler, error) {
	base := m.Rules
	if r.NewDays > 0 {
		base.NewDays = r.NewDays
	}
	if r.ActiveDays > 0 {
		base.ActiveDays = r.ActiveDays
	}
	if r.AtRiskEnter > 0 {
		base.AtRiskEnter = r.AtRiskEnter
	}
	if r.AtRiskExit > 0 {
		base.AtRiskExit = r.AtRiskExit
	}
	if r.TierMargin > 0 {
		base.TierMargin = r.TierMargin
	}
	if r.MinDwellDays > 0 {
		base.MinDwellDays = r.MinDwellDays
	}
	if r.MaxReasons > 0 {
		base.MaxReasons = r.MaxReasons
	}
	if r.InterestMinSim > 0 {
		base.InterestMinSim = r.InterestMinSim
	}
	if r.MaxInterests > 0 {
		base.MaxInterests = r.MaxInterests
	}
	rr := base.WithDefaults(m.Churn.Threshold)
	if err := rr.Validate(); err != nil {
		return nil, err
	}
	return &Labeler{m: m, rules: rr}, nil
}

// Rules returns the rules in force.
func (l *Labeler) Rules() Rules { return l.rules }

// Decide labels a user from scores s at event time asOf, given the state of
// the previous decision (zero State: none). It returns the segments
// (lifecycle first, then at_risk, the value tier and interests), the reasons
// (each naming its segment; for a rule, the value it tested and a
// contribution of 0; unrounded: Segmenter rounds them for the contract) and
// the new state. Time alone moves labels: with the same profile, a later
// asOf gives a higher recency and so can enter at_risk and dormant.
func (l *Labeler) Decide(prev State, s Scores, asOf time.Time) ([]string, []label.Reason, State) {
	r := l.rules
	dwell := time.Duration(r.MinDwellDays * 24 * float64(time.Hour))
	st := prev
	st.Decided = true
	var segs []string
	var reasons []label.Reason

	// lifecycle
	age := asOf.Sub(s.FirstSeen).Hours() / 24
	idle := asOf.Sub(s.LastSeen).Hours() / 24
	switch {
	case age < r.NewDays:
		segs = append(segs, SegNew)
		reasons = append(reasons, label.Reason{Segment: SegNew, Input: "days_since_first_event", Value: age})
	case idle <= r.ActiveDays:
		segs = append(segs, SegActive)
		reasons = append(reasons, label.Reason{Segment: SegActive, Input: "days_since_last_event", Value: idle})
	default:
		segs = append(segs, SegDormant)
		reasons = append(reasons, label.Reason{Segment: SegDormant, Input: "days_since_last_event", Value: idle})
	}

	// at_risk with hysteresis and dwell
	if !prev.Decided {
		st.AtRisk = s.ChurnRisk >= l.m.Churn.Threshold
		st.AtRiskSince = asOf
	} else {
		dwelt := !asOf.Before(prev.AtRiskSince.Add(dwell))
		switch {
		case prev.AtRisk && s.ChurnRisk < r.AtRiskExit && dwelt:
			st.AtRisk, st.AtRiskSince = false, asOf
		case !prev.AtRisk && s.ChurnRisk >= r.AtRiskEnter && dwelt:
			st.AtRisk, st.AtRiskSince = true, asOf
		}
	}
	if st.AtRisk {
		segs = append(segs, SegAtRisk)
		cs, _ := l.m.Contributions(s, "churn", 1)
		reasons = append(reasons, top(SegAtRisk, cs, r.MaxReasons, 1)...)
	}

	// value tier with a margin and dwell
	cand := s.TierClass
	if !prev.Decided {
		st.Tier, st.TierSince = cand, asOf
	} else if cand != prev.Tier && !asOf.Before(prev.TierSince.Add(dwell)) {
		lp := func(k int) float64 {
			v := math.Log(math.Max(s.Tier[k], 1e-300))
			if len(l.m.Value.Offsets) == 3 {
				v += l.m.Value.Offsets[k]
			}
			return v
		}
		if lp(cand)-lp(prev.Tier) >= r.TierMargin {
			st.Tier, st.TierSince = cand, asOf
		}
	}
	seg := TierSegments[st.Tier]
	segs = append(segs, seg)
	cs, _ := l.m.Contributions(s, "value", st.Tier)
	reasons = append(reasons, top(seg, cs, r.MaxReasons, 1)...)

	// interests
	if len(s.ThemeSim) > 0 {
		idx := make([]int, len(s.ThemeSim))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return s.ThemeSim[idx[a]] > s.ThemeSim[idx[b]] })
		for n, i := range idx {
			if n >= r.MaxInterests || s.ThemeSim[i] < r.InterestMinSim {
				break
			}
			name := InterestPrefix + l.m.Themes[i].Name
			segs = append(segs, name)
			reasons = append(reasons, label.Reason{Segment: name, Input: TextFeature, Value: s.ThemeSim[i]})
		}
	}
	return segs, reasons, st
}

// top keeps the n contributions that push towards the label (sign dir)
// most; if fewer push that way, the largest of the rest fill in.
func top(seg string, cs []Contribution, n int, dir float64) []label.Reason {
	var out []label.Reason
	for _, c := range cs {
		if len(out) == n {
			break
		}
		if c.Contribution*dir > 0 {
			out = append(out, label.Reason{Segment: seg, Input: c.Input, Value: c.Value, Contribution: c.Contribution})
		}
	}
	return out
}
