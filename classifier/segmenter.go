package classifier

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/segments"
)

// Segmenter serves a trained model and the segment definitions: it scores
// a profile (and its text embedding) and evaluates the definitions in
// force on the scores and the profile, into a label.Decision in contract
// form. It is safe for concurrent use; the definitions may change under
// it (segments.Live).
type Segmenter struct {
	M      *Model
	Defs   *segments.Live
	params map[string]float64
	rules  Rules
	// byDay caches Params by day of the year when the calibration has a
	// seasonal term (day -> map[string]float64).
	byDay sync.Map
}

// NewSegmenter loads a model file (see Load) to serve with defs.
func NewSegmenter(path string, defs *segments.Live) (*Segmenter, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	s, err := NewSegmenterFor(m, defs)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return s, nil
}

// NewSegmenterFor serves a loaded model with defs.
func NewSegmenterFor(m *Model, defs *segments.Live) (*Segmenter, error) {
	r := m.Rules.WithDefaults(m.Churn.Threshold)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &Segmenter{M: m, Defs: defs, rules: r, params: r.Params(m.Churn.Threshold)}, nil
}

// Params are the parameters the definitions read as model["..."] at asOf:
// Rules.Params, with at_risk_enter and at_risk_exit moved by the
// calibration's seasonal term (Calibration.SeasonOffset, on the log-odds
// scale). They were tuned on the validation cutoff, where the term is 0;
// moved with it, `churn_risk >= model["at_risk_enter"]` compares the risk
// with what is high for the time of year, so at_risk keeps about the size
// it was tuned to through the seasons instead of swelling in the months
// when every customer is less likely to buy. The maps are shared: do not
// modify them.
func (s *Segmenter) Params(asOf time.Time) map[string]float64 {
	c := s.M.Calibration
	if c == nil || len(c.Season) == 0 || asOf.IsZero() {
		return s.params
	}
	day := asOf.UTC().YearDay()
	if p, ok := s.byDay.Load(day); ok {
		return p.(map[string]float64)
	}
	off := c.SeasonOffset(asOf)
	p := make(map[string]float64, len(s.params))
	for k, v := range s.params {
		p[k] = v
	}
	shift := func(q float64) float64 {
		q = math.Min(math.Max(q, 1e-9), 1-1e-9)
		return 1 / (1 + math.Exp(-(math.Log(q/(1-q)) + off)))
	}
	p["at_risk_enter"], p["at_risk_exit"] = shift(s.rules.AtRiskEnter), shift(s.rules.AtRiskExit)
	v, _ := s.byDay.LoadOrStore(day, p)
	return v.(map[string]float64)
}

// Params are the model's tuned parameters as the definitions read them
// (`model["at_risk_enter"]`; Segmenter.Params moves the at_risk band with
// the season).
func (r Rules) Params(churnThreshold float64) map[string]float64 {
	return map[string]float64{
		"churn_threshold":  churnThreshold,
		"at_risk_enter":    r.AtRiskEnter,
		"at_risk_exit":     r.AtRiskExit,
		"tier_margin":      r.TierMargin,
		"interest_min_sim": r.InterestMinSim,
		"max_interests":    float64(r.MaxInterests),
		"new_days":         r.NewDays,
		"active_days":      r.ActiveDays,
		"min_dwell_days":   r.MinDwellDays,
	}
}

// Model names the model the decisions come from.
func (s *Segmenter) Model() label.ModelRef {
	return label.ModelRef{Name: s.M.Name, Version: s.M.Version}
}

// Input scores profile p (v is its view as of asOf, emb its text
// embedding or nil) into what a segment evaluation reads, with the
// document's scores (label.ScoreChurnRisk, label.ScoreValueTier for each
// of TierNames, label.ScoreInterest for each theme, and ScoreCLV90d and
// ScoreCLV365d for a model with a spend model; label.Rounded).
func (s *Segmenter) Input(p *featurestore.Profile, v featurestore.View, emb []float32, asOf time.Time) *segments.Input {
	sc := s.M.ScoreHistory(v, HistoryOf(p), emb) // exact purchase days, the view already computed
	in := &segments.Input{Profile: p, Now: asOf, ChurnRisk: sc.ChurnRisk, ValueTier: TierNames[sc.TierClass],
		ValueTierP: make(map[string]float64, 3), ValueLogP: make(map[string]float64, 3),
		Scores: make(map[string]float64, 6+len(sc.ThemeSim)), Model: s.Params(asOf)}
	in.Scores[label.ScoreChurnRisk] = label.Round(sc.ChurnRisk)
	if s.M.GammaGamma != nil {
		in.Scores[ScoreCLV90d] = label.Round(sc.CLV90d)
		in.Scores[ScoreCLV365d] = label.Round(sc.CLV365d)
	}
	for i, name := range TierNames {
		in.ValueTierP[name] = sc.Tier[i]
		lp := math.Log(math.Max(sc.Tier[i], 1e-300))
		if len(s.M.Value.Offsets) == 3 {
			lp += s.M.Value.Offsets[i]
		}
		in.ValueLogP[name] = lp
		in.Scores[label.ScoreValueTier(name)] = label.Round(sc.Tier[i])
	}
	if len(sc.ThemeSim) > 0 {
		in.Interests = make(map[string]float64, len(sc.ThemeSim))
		for i, sim := range sc.ThemeSim {
			if i < len(s.M.Themes) {
				in.Interests[s.M.Themes[i].Name] = sim
				in.Scores[label.ScoreInterest(s.M.Themes[i].Name)] = label.Round(sim)
			}
		}
	}
	in.Explain = func(head string) []label.Reason { return s.explain(sc, head) }
	return in
}

// explain lists the heads' top contributions towards a class.
func (s *Segmenter) explain(sc Scores, head string) []label.Reason {
	var cs []Contribution
	switch {
	case head == "churn":
		cs, _ = s.M.Contributions(sc, "churn", 1)
	case len(head) > 6 && head[:6] == "value:":
		k := -1
		for i, n := range TierNames {
			if n == head[6:] {
				k = i
			}
		}
		if k < 0 {
			return nil
		}
		cs, _ = s.M.Contributions(sc, "value", k)
	default:
		return nil
	}
	var out []label.Reason
	for _, c := range cs {
		if len(out) == s.rules.MaxReasons {
			break
		}
		if c.Contribution > 0 {
			out = append(out, label.Reason{Input: c.Input, Value: label.Round(c.Value), Contribution: label.Round(c.Contribution)})
		}
	}
	return out
}

// Label scores profile p and evaluates the definitions in force, given
// prev, the state of the previous decision (empty: none). Every score,
// value and contribution is label.Rounded.
func (s *Segmenter) Label(p *featurestore.Profile, v featurestore.View, emb []float32, prev []byte, asOf time.Time) (label.Decision, error) {
	in := s.Input(p, v, emb, asOf)
	res, err := s.Defs.Set().Evaluate(in, prev)
	if err != nil {
		return label.Decision{}, err
	}
	s.Defs.CountEvalErrors(res.Errors)
	return label.Decision{Segments: res.Segments, Scores: in.Scores, Reasons: res.Reasons,
		ExitReasons: res.ExitReasons, Versions: res.Versions, State: res.State, Reindex: res.Reindex}, nil
}
