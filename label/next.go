package label

import (
	"slices"
	"sort"
	"time"
)

// MaxPendingChanges bounds the unpublished changes kept per user (while
// Kafka is unreachable); past it the oldest are dropped and counted.
const MaxPendingChanges = 1000

// Record is a user's stored label state: the current version and its
// document, the changes that lead to it (kept until published), the
// segmenter's state, the erased marker and the highest version Kafka
// acknowledged.
type Record struct {
	Version   int64
	Doc       *Doc
	Changes   []Change
	State     []byte
	Erased    bool
	Published int64
}

// Unpublished tells whether the record holds a version the publisher has
// not sent yet.
func (r *Record) Unpublished() bool { return r.Version > r.Published }

// Outcome says what Next decided.
type Outcome struct {
	// NewVersion: the segments changed (or this is the first document): a
	// new version to store and publish.
	NewVersion bool
	// StateOnly: only the segmenter's state changed: store it, same
	// version, nothing to publish.
	StateOnly bool
	// Dropped counts carried-over changes dropped past MaxPendingChanges.
	Dropped int
}

// Store tells whether anything must be written.
func (o Outcome) Store() bool { return o.NewVersion || o.StateOnly }

// Next applies a decision for user at event time asOf to its record and
// returns the record to store (the input is not modified) and what
// changed. See the package doc for the rules.
func Next(prev Record, user string, d Decision, asOf time.Time, model ModelRef) (Record, Outcome) {
	var old []string
	if prev.Doc != nil {
		old = prev.Doc.Segments
	}
	entered, exited := Diff(old, d.Segments)
	out := Outcome{NewVersion: prev.Doc == nil || len(entered)+len(exited) > 0}
	next := prev
	next.State = d.State
	next.Erased = false
	if !out.NewVersion {
		out.StateOnly = string(d.State) != string(prev.State)
		return next, out
	}
	next.Version = prev.Version + 1
	segs := d.Segments
	if segs == nil {
		segs = []string{}
	}
	next.Doc = &Doc{UserID: user, Version: next.Version, AsOf: asOf, Segments: segs, Scores: d.Scores, Model: model, Reasons: d.Reasons}
	var changes []Change
	if prev.Unpublished() {
		changes = append(changes, prev.Changes...)
		if over := len(changes) - MaxPendingChanges; over > 0 {
			changes = changes[over:]
			out.Dropped = over
		}
	}
	for _, s := range entered {
		changes = append(changes, Change{UserID: user, Segment: s, Change: Entered, Version: next.Version, At: asOf, Definition: d.Versions[s], Reasons: ReasonsFor(d.Reasons, s)})
	}
	for _, s := range exited {
		changes = append(changes, Change{UserID: user, Segment: s, Change: Exited, Version: next.Version, At: asOf, Definition: d.Versions[s], Reasons: ReasonsFor(d.ExitReasons, s)})
	}
	next.Changes = changes
	return next, out
}

// Erase returns the record of an erased user: a version of its own, no
// document, no changes.
func Erase(prev Record) Record {
	return Record{Version: prev.Version + 1, Erased: true, Published: prev.Published, Changes: []Change{}}
}

// Diff lists the segments in cur and not in old (entered) and in old and
// not in cur (exited), each sorted.
func Diff(old, cur []string) (entered, exited []string) {
	for _, s := range cur {
		if !slices.Contains(old, s) {
			entered = append(entered, s)
		}
	}
	for _, s := range old {
		if !slices.Contains(cur, s) {
			exited = append(exited, s)
		}
	}
	sort.Strings(entered)
	sort.Strings(exited)
	return entered, exited
}

// ReasonsFor picks the reasons of one segment (never nil).
func ReasonsFor(rs []Reason, seg string) []Reason {
	out := []Reason{}
	for _, r := range rs {
		if r.Segment == seg {
			out = append(out, r)
		}
	}
	return out
}
