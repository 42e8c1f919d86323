package classifier

import (
	"fmt"
	"math"
)

// Value tiers: the classes of the value head, by spend in the label window.
const (
	TierNone = 0 // no purchase
	TierMid  = 1 // a purchase, below the top 20% of spenders
	TierHigh = 2 // top 20% of spenders
)

// TierNames name the value-head classes in the model file and reports.
var TierNames = []string{"none", "mid", "high"}

// InterestPrefix starts interest segments of the built-in taxonomy:
// "interest:<theme>".
const InterestPrefix = "interest:"

// Rules are the parameters tuned with a model that the segment
// definitions read as model["..."] (see Params; the built-in taxonomy in
// deploy/segments uses them). Zero fields take the defaults of
// DefaultRules (see WithDefaults).
type Rules struct {
	// NewDays: a user whose first event is less than this many days old is
	// `new`. Default 30.
	NewDays float64 `json:"new_days"`
	// ActiveDays: otherwise a user with an event in the last ActiveDays days
	// is `active`, else `dormant`. Default 90.
	ActiveDays float64 `json:"active_days"`
	// AtRiskEnter / AtRiskExit: hysteresis band on P(churn). A user enters
	// at_risk at or above Enter and leaves below Exit. Training tunes Enter
	// on the validation cutoff so that the at_risk definition flags a share
	// of the active customers (classifier/train.AtRiskShare) and Exit so
	// that it would flag 1.25 times that share (train.AtRiskExitShare). Defaults (a file without them): the churn head's
	// threshold plus / minus 0.05.
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
