package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/producer"
)

// Encoder adapts *encoder.Encoder to the label stage.
type Encoder struct{ *encoder.Encoder }

var _ TextEncoder = Encoder{}

// ProfileText builds the profile's text within the model's token limit.
func (e Encoder) ProfileText(texts []string) string {
	return encoder.ProfileText(texts, e.MaxTokens(), e.Tokenizer())
}

// Encode embeds texts (empty texts give nil rows).
func (e Encoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	return e.Encoder.Encode(ctx, texts)
}

// ClassifierSegmenter adapts the trained model and its rules.
type ClassifierSegmenter struct {
	M *classifier.Model
	L *classifier.Labeler
}

var _ Segmenter = (*ClassifierSegmenter)(nil)

// NewClassifierSegmenter loads a model file and builds its labeler with the
// rules saved in the model.
func NewClassifierSegmenter(path string) (*ClassifierSegmenter, error) {
	m, err := classifier.Load(path)
	if err != nil {
		return nil, err
	}
	l, err := classifier.NewLabeler(m, m.Rules)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return &ClassifierSegmenter{M: m, L: l}, nil
}

// Model names the model.
func (c *ClassifierSegmenter) Model() producer.ModelRef {
	return producer.ModelRef{Name: c.M.Name, Version: c.M.Version}
}

// Label scores and decides.
func (c *ClassifierSegmenter) Label(p *featurestore.Profile, v featurestore.View, emb []float32, prev json.RawMessage, asOf time.Time) (Decision, error) {
	var st classifier.State
	if len(prev) > 0 {
		if err := json.Unmarshal(prev, &st); err != nil {
			return Decision{}, fmt.Errorf("label state: %w", err)
		}
	}
	s := c.M.ScoreHistory(v, classifier.HistoryOf(p), emb) // exact purchase days, the view already computed
	segs, rs, next := c.L.Decide(st, s, asOf)
	d := Decision{Segments: segs, Scores: map[string]float64{"churn_risk": round4(s.ChurnRisk)}}
	for i, name := range classifier.TierNames {
		d.Scores["value_tier_"+name] = round4(s.Tier[i])
	}
	for i, sim := range s.ThemeSim {
		if i < len(c.M.Themes) {
			d.Scores["interest:"+c.M.Themes[i].Name] = round4(sim)
		}
	}
	for _, r := range rs {
		d.Reasons = append(d.Reasons, producer.Reason{Segment: r.Segment, Input: r.Input, Value: round4(r.Value), Contribution: round4(r.Contribution)})
	}
	b, err := json.Marshal(next)
	if err != nil {
		return Decision{}, err
	}
	d.State = b
	return d, nil
}

func round4(x float64) float64 {
	return float64(int64(x*1e4+copysign(0.5, x))) / 1e4
}

func copysign(a, x float64) float64 {
	if x < 0 {
		return -a
	}
	return a
}
