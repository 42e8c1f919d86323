package sentiment

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/lang"
)

// Source says what decided a review's sentiment in Annotate.
type Source uint8

// Sources. SourceNone: nothing did (not a review, or a review with
// neither a modelled language nor a rating); its sentiment stays as it was.
const (
	SourceNone   Source = iota
	SourceGiven         // the producer sent it; kept
	SourceModel         // the text model of the review's language
	SourceRating        // the star rating (no model for the language, or no text)
)

var sourceNames = [...]string{"none", "given", "model", "rating"}

// String is the source's name ("model", "rating", ...), fit for a metric label.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// DefaultThreshold is the P(negative) above which a review is negative.
const DefaultThreshold = 0.5

// Set holds one Model per language and decides review sentiments. It is
// immutable once built and safe for concurrent use.
type Set struct {
	models map[string]*Model
	// Threshold: P(negative) > Threshold is negative.
	threshold float64
	// neutral: P(negative) within (threshold-neutral, threshold+neutral]
	// is neutral, 0 none.
	neutral float64
}

// NewSet is a Set of the given models (language code → model) with
// threshold DefaultThreshold and no neutral band. A nil or empty map is a
// set without models: every review goes by its rating.
func NewSet(models map[string]*Model) *Set {
	s := &Set{models: map[string]*Model{}, threshold: DefaultThreshold}
	for l, m := range models {
		if m != nil {
			s.models[strings.ToLower(l)] = m
		}
	}
	return s
}

// LoadSet loads one model file per language code ({"zh":
// "models/sentiment-zh.bin"}) into a Set.
func LoadSet(files map[string]string) (*Set, error) {
	models := map[string]*Model{}
	for _, l := range slices.Sorted(maps.Keys(files)) {
		m, err := Load(files[l])
		if err != nil {
			return nil, fmt.Errorf("sentiment model for %q: %w", l, err)
		}
		if m.info.Lang != "" && !strings.EqualFold(m.info.Lang, l) {
			return nil, fmt.Errorf("sentiment model for %q: %s is a model for %q", l, files[l], m.info.Lang)
		}
		models[l] = m
	}
	return NewSet(models), nil
}

// WithThreshold returns a copy of s that calls a review negative when
// P(negative) > threshold + neutral, positive when P(negative) <=
// threshold - neutral and neutral in between (neutral 0: no neutral band).
func (s *Set) WithThreshold(threshold, neutral float64) (*Set, error) {
	if !(threshold > 0 && threshold < 1) || !(neutral >= 0) || threshold-neutral < 0 || threshold+neutral > 1 {
		return nil, fmt.Errorf("threshold %v, neutral band %v: want 0 < threshold < 1 and the band within [0, 1]", threshold, neutral)
	}
	c := *s
	c.threshold, c.neutral = threshold, neutral
	return &c, nil
}

// Model is the model for a language code, nil when the set has none.
func (s *Set) Model(lang string) *Model { return s.models[lang] }

// Languages are the language codes the set has models for, sorted.
func (s *Set) Languages() []string { return slices.Sorted(maps.Keys(s.models)) }

// Annotate sets the sentiment of a review event that has none: from the
// text model of its language (lang.Of(ev.Text, ev.Lang)) when the set has
// one and the text is not empty, else from the rating (1-2 negative, 3
// neutral, 4-5 positive; any other rating leaves it unknown). A sentiment
// the producer gave is kept, and events other than reviews are left alone.
// It returns what decided.
func (s *Set) Annotate(ev *events.Event) Source {
	if ev.Type != events.TypeReview {
		return SourceNone
	}
	if ev.Sentiment != events.SentimentUnknown {
		return SourceGiven
	}
	if strings.TrimSpace(ev.Text) != "" {
		if m := s.models[lang.Of(ev.Text, ev.Lang)]; m != nil {
			ev.Sentiment = s.Classify(m.Negative(ev.Text))
			return SourceModel
		}
	}
	if v := FromRating(ev.Rating); v != events.SentimentUnknown {
		ev.Sentiment = v
		return SourceRating
	}
	return SourceNone
}

// Classify maps P(negative) to a sentiment by the set's threshold and
// neutral band.
func (s *Set) Classify(pNegative float64) events.Sentiment {
	switch {
	case pNegative > s.threshold+s.neutral:
		return events.SentimentNegative
	case pNegative <= s.threshold-s.neutral:
		return events.SentimentPositive
	}
	return events.SentimentNeutral
}

// FromRating is a star rating's sentiment: 1-2 negative, 3 neutral, 4-5
// positive, anything else unknown.
func FromRating(rating int) events.Sentiment {
	switch {
	case rating >= 1 && rating <= 2:
		return events.SentimentNegative
	case rating == 3:
		return events.SentimentNeutral
	case rating >= 4 && rating <= 5:
		return events.SentimentPositive
	}
	return events.SentimentUnknown
}
