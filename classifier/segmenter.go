package classifier

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
)

// Segmenter serves a trained model and its rules: it turns a profile (and
// its text embedding) into a label.Decision in contract form. It is
// immutable and safe for concurrent use.
type Segmenter struct {
	M *Model
	L *Labeler
}

// NewSegmenter loads a model file (see Load) and builds its labeler with
// the rules saved in the model.
func NewSegmenter(path string) (*Segmenter, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	l, err := NewLabeler(m, m.Rules)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return &Segmenter{M: m, L: l}, nil
}

// Model names the model the decisions come from.
func (s *Segmenter) Model() label.ModelRef {
	return label.ModelRef{Name: s.M.Name, Version: s.M.Version}
}

// Label scores profile p (v is its view as of asOf, emb its text embedding
// or nil) and decides its segments given prev, the State of the previous
// decision (empty: none). Scores are named label.ScoreChurnRisk,
// label.ScoreValueTier for each of TierNames and label.ScoreInterest for
// each theme; every score, value and contribution is label.Rounded; the
// returned State is the JSON of the new classifier State.
func (s *Segmenter) Label(p *featurestore.Profile, v featurestore.View, emb []float32, prev []byte, asOf time.Time) (label.Decision, error) {
	var st State
	if len(prev) > 0 {
		if err := json.Unmarshal(prev, &st); err != nil {
			return label.Decision{}, fmt.Errorf("label state: %w", err)
		}
	}
	sc := s.M.ScoreHistory(v, HistoryOf(p), emb) // exact purchase days, the view already computed
	segs, rs, next := s.L.Decide(st, sc, asOf)
	d := label.Decision{Segments: segs, Scores: map[string]float64{label.ScoreChurnRisk: label.Round(sc.ChurnRisk)}}
	for i, name := range TierNames {
		d.Scores[label.ScoreValueTier(name)] = label.Round(sc.Tier[i])
	}
	for i, sim := range sc.ThemeSim {
		if i < len(s.M.Themes) {
			d.Scores[label.ScoreInterest(s.M.Themes[i].Name)] = label.Round(sim)
		}
	}
	for _, r := range rs {
		d.Reasons = append(d.Reasons, label.Reason{Segment: r.Segment, Input: r.Input, Value: label.Round(r.Value), Contribution: label.Round(r.Contribution)})
	}
	b, err := json.Marshal(next)
	if err != nil {
		return label.Decision{}, err
	}
	d.State = b
	return d, nil
}
