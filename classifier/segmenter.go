package classifier

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/segstream/segstream/classifier/internal/num"
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
	// themes are the theme sets of other encoder models (AddThemes).
	themes []*ThemeSet
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
// scale). They were tuned on the validation cutoff, where the term is 0,
// on the at_risk score (ScoreAtRisk), which carries the same term once
// (AtRiskRanking; the churn risk for a model without one); moved with it,
// `scores["at_risk_score"] >= model["at_risk_enter"]` compares the score
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

// Embedding is one of a profile's stored text embeddings: the vector of
// the texts of one language, by the encoder model named (its model
// version). A profile with texts in two languages has two.
type Embedding struct {
	Model  string
	Vector []float32
}

// AddThemes adds theme sets of other encoder models (ThemeSet, from
// classifier.theme_files) before the Segmenter is used: a profile's
// embedding by a set's encoder is compared with its themes, as the
// model's own themes are compared with the embedding by the model's
// encoder. A theme of the same name as another (the model's or an earlier
// set's) shares its interest: the higher similarity counts. A set of the
// model's own encoder is refused (its themes belong in the model).
func (s *Segmenter) AddThemes(sets ...*ThemeSet) error {
	for _, ts := range sets {
		if err := ts.Check(); err != nil {
			return err
		}
		if s.M.Embedding != nil && ts.Encoder == s.M.Embedding.Encoder {
			return fmt.Errorf("%w: themes of %s: that is the model's own encoder", ErrBadModel, ts.Encoder)
		}
		s.themes = append(s.themes, ts)
	}
	return nil
}

// ThemeSets are the sets AddThemes added.
func (s *Segmenter) ThemeSets() []*ThemeSet { return s.themes }

// Encoders are the encoder model versions whose embeddings the Segmenter
// reads: the model's (if it has text) and each theme set's.
func (s *Segmenter) Encoders() []string {
	var out []string
	if s.M.Embedding != nil {
		out = append(out, s.M.Embedding.Encoder)
	}
	for _, ts := range s.themes {
		out = append(out, ts.Encoder)
	}
	return out
}

// Own is v as the embedding by the model's own encoder (nil for a nil v or
// a model without text): what Label takes for a profile embedded only by it.
func (s *Segmenter) Own(v []float32) []Embedding {
	if v == nil || s.M.Embedding == nil {
		return nil
	}
	return []Embedding{{Model: s.M.Embedding.Encoder, Vector: v}}
}

func vectorOf(embs []Embedding, model string, dim int) []float32 {
	for _, e := range embs {
		if e.Model == model && len(e.Vector) == dim {
			return e.Vector
		}
	}
	return nil
}

// Model names the model the decisions come from.
func (s *Segmenter) Model() label.ModelRef {
	return label.ModelRef{Name: s.M.Name, Version: s.M.Version}
}

// Input scores profile p (v is its view as of asOf, emb its text
// embedding or nil) into what a segment evaluation reads, with the
// document's scores (label.ScoreChurnRisk, label.ScoreValueTier for each
// of TierNames, ScoreAtRisk, label.ScoreInterest for each theme, and
// ScoreCLV90d and ScoreCLV365d for a model with a spend model;
// label.Rounded).
func (s *Segmenter) Input(p *featurestore.Profile, v featurestore.View, emb []float32, asOf time.Time) *segments.Input {
	return s.input(p, v, emb, nil, asOf)
}

// InputOf is Input with the profile's embeddings by every encoder model:
// the model's own encoder's embedding is its text input and the similarity
// to its themes; the embedding of each theme set's encoder gives that set's
// interests. Embeddings of other models are ignored.
func (s *Segmenter) InputOf(p *featurestore.Profile, v featurestore.View, embs []Embedding, asOf time.Time) *segments.Input {
	var own []float32
	if s.M.Embedding != nil {
		own = vectorOf(embs, s.M.Embedding.Encoder, s.M.Embedding.Dim)
	}
	return s.input(p, v, own, embs, asOf)
}

func (s *Segmenter) input(p *featurestore.Profile, v featurestore.View, emb []float32, embs []Embedding, asOf time.Time) *segments.Input {
	sc := s.M.ScoreHistory(v, HistoryOf(p), emb) // exact purchase days, the view already computed
	in := &segments.Input{Profile: p, Now: asOf, ChurnRisk: sc.ChurnRisk, ValueTier: TierNames[sc.TierClass],
		ValueTierP: make(map[string]float64, 3), ValueLogP: make(map[string]float64, 3),
		Scores: make(map[string]float64, 6+len(sc.ThemeSim)), Model: s.Params(asOf)}
	in.Scores[label.ScoreChurnRisk] = label.Round(sc.ChurnRisk)
	in.Scores[ScoreAtRisk] = label.Round(sc.AtRisk)
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
	interest := func(name string, sim float64) {
		if in.Interests == nil {
			in.Interests = make(map[string]float64, len(sc.ThemeSim))
		}
		if old, ok := in.Interests[name]; ok && old >= sim {
			return
		}
		in.Interests[name] = sim
		in.Scores[label.ScoreInterest(name)] = label.Round(sim)
	}
	for i, sim := range sc.ThemeSim {
		if i < len(s.M.Themes) {
			interest(s.M.Themes[i].Name, sim)
		}
	}
	for _, ts := range s.themes {
		if vec := vectorOf(embs, ts.Encoder, ts.Dim); vec != nil {
			for _, t := range ts.Themes {
				interest(t.Name, num.Cosine32(vec, t.Centroid))
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

// Label scores profile p with its embeddings (see InputOf) and evaluates
// the definitions in force, given prev, the state of the previous decision
// (empty: none). Every score, value and contribution is label.Rounded.
func (s *Segmenter) Label(p *featurestore.Profile, v featurestore.View, embs []Embedding, prev []byte, asOf time.Time) (label.Decision, error) {
	in := s.InputOf(p, v, embs, asOf)
	res, err := s.Defs.Set().Evaluate(in, prev)
	if err != nil {
		return label.Decision{}, err
	}
	s.Defs.CountEvalErrors(res.Errors)
	return label.Decision{Segments: res.Segments, Scores: in.Scores, Reasons: res.Reasons,
		ExitReasons: res.ExitReasons, Versions: res.Versions, State: res.State, Reindex: res.Reindex}, nil
}
