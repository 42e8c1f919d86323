package label

import (
	"math"
	"time"
)

// ModelRef names the model that produced a label.
type ModelRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Reason is one input that contributed to a segment decision. For model
// heads Contribution is the input's share of the logit; for rules it is 0
// and Input names the rule's input; for interests it is the cosine
// similarity.
type Reason struct {
	Segment      string  `json:"segment,omitempty"`
	Input        string  `json:"input"`
	Value        float64 `json:"value"`
	Contribution float64 `json:"contribution"`
}

// Doc is the value on segments.labels: a user's current labels.
type Doc struct {
	UserID   string             `json:"user_id"`
	Version  int64              `json:"version"` // per user, strictly increasing
	AsOf     time.Time          `json:"as_of"`   // event time the labels reflect
	Segments []string           `json:"segments"`
	Scores   map[string]float64 `json:"scores"`
	Model    ModelRef           `json:"model"`
	Reasons  []Reason           `json:"reasons"`
}

// Change is one message on segments.changes: a segment entered or exited,
// with the version of the definition that decided it and why (the
// values of the inputs its rule read; for a model-backed segment, the
// model's contributions too).
type Change struct {
	UserID     string    `json:"user_id"`
	Segment    string    `json:"segment"`
	Change     string    `json:"change"` // Entered | Exited
	Version    int64     `json:"version"`
	At         time.Time `json:"at"`
	Definition string    `json:"definition_version,omitempty"`
	Reasons    []Reason  `json:"reasons"`
}

// HistoryEntry is one label version in a user's history: the segments
// held after it and the changes that led to it (none for a first document
// that holds nothing).
type HistoryEntry struct {
	Version  int64           `json:"version"`
	At       time.Time       `json:"at"` // event time, as Doc.AsOf
	Segments []string        `json:"segments"`
	Changes  []HistoryChange `json:"changes"`
}

// HistoryChange is a Change within a HistoryEntry (the user, version and
// time are the entry's).
type HistoryChange struct {
	Segment    string   `json:"segment"`
	Change     string   `json:"change"`
	Definition string   `json:"definition_version,omitempty"`
	Reasons    []Reason `json:"reasons"`
}

// HistoryOf is the history entry of a record's current version: its
// document's segments and the changes of that version (not those carried
// over from earlier unpublished versions). Nil for a record without a
// document.
func HistoryOf(r Record) *HistoryEntry {
	if r.Doc == nil {
		return nil
	}
	e := &HistoryEntry{Version: r.Version, At: r.Doc.AsOf, Segments: r.Doc.Segments, Changes: []HistoryChange{}}
	for _, c := range r.Changes {
		if c.Version == r.Version {
			e.Changes = append(e.Changes, HistoryChange{Segment: c.Segment, Change: c.Change, Definition: c.Definition, Reasons: c.Reasons})
		}
	}
	return e
}

// Change kinds.
const (
	Entered = "entered"
	Exited  = "exited"
)

// Publication is what one label version sends: the document, or a
// tombstone when Erased, and the segment changes that lead to it.
type Publication struct {
	UserID  string
	Label   *Doc // nil with Erased
	Erased  bool
	Changes []Change
}

// Decision is one labelling of a user by a segmenter. Scores and Reasons
// are in contract form (names from the Score* helpers, values Rounded);
// each Reason names its Segment. Reasons explain the segments held,
// ExitReasons those left; Versions name the definition version of each
// segment entered or exited. State is the segmenter's own memory between
// decisions (hysteresis, dwell), opaque to everything else. Reindex says
// the previous state was written by an earlier version, from before the
// member index: the label stage adds the user to the index of each
// segment it holds.
type Decision struct {
	Segments    []string
	Scores      map[string]float64
	Reasons     []Reason
	ExitReasons []Reason
	Versions    map[string]string
	State       []byte
	Reindex     bool
}

// Score names.
const (
	// ScoreChurnRisk is the churn head's P(no purchase in the next 90 days).
	ScoreChurnRisk = "churn_risk"
	scoreTier      = "value_tier_"
	scoreInterest  = "interest:"
)

// ScoreValueTier names the probability of a value tier ("none", "mid",
// "high"): value_tier_<tier>.
func ScoreValueTier(tier string) string { return scoreTier + tier }

// ScoreInterest names the similarity of the profile text to a theme:
// interest:<theme>.
func ScoreInterest(theme string) string { return scoreInterest + theme }

// Round gives scores, values and contributions four decimals (half away
// from zero), the precision of every number in a label document.
func Round(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return math.Trunc(x*1e4+math.Copysign(0.5, x)) / 1e4
}
