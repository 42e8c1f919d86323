package label

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2011, 5, 1, 0, 0, 0, 0, time.UTC)
	model = ModelRef{Name: "m", Version: "v1"}
)

func decision(segs ...string) Decision {
	d := Decision{Segments: segs, Scores: map[string]float64{ScoreChurnRisk: 0.5}}
	for _, s := range segs {
		d.Reasons = append(d.Reasons, Reason{Segment: s, Input: "x_" + s, Value: 1, Contribution: 0.25})
	}
	return d
}

func kinds(cs []Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Change+":"+c.Segment+"@"+itoa(c.Version))
	}
	return strings.Join(out, " ")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestNext(t *testing.T) {
	tests := []struct {
		name        string
		prev        Record
		d           Decision
		wantVersion int64
		wantOut     Outcome
		wantChanges string
	}{
		{name: "first document is a version even without segments", d: decision(),
			wantVersion: 1, wantOut: Outcome{NewVersion: true}, wantChanges: ""},
		{name: "first document enters its segments", d: decision("new", "active"),
			wantVersion: 1, wantOut: Outcome{NewVersion: true}, wantChanges: "entered:active@1 entered:new@1"},
		{name: "same segments in another order: nothing", prev: rec(3, 3, "active", "new"), d: decision("new", "active"),
			wantVersion: 3, wantOut: Outcome{}, wantChanges: ""},
		{name: "state only: stored, same version", prev: rec(3, 3, "active"), d: withState(decision("active"), `{"x":1}`),
			wantVersion: 3, wantOut: Outcome{StateOnly: true}, wantChanges: ""},
		{name: "entry and exit, previous published", prev: rec(3, 3, "active"), d: decision("dormant"),
			wantVersion: 4, wantOut: Outcome{NewVersion: true}, wantChanges: "entered:dormant@4 exited:active@4"},
		{name: "unpublished changes are carried over", prev: withChanges(rec(4, 3, "dormant"), Change{Segment: "dormant", Change: Entered, Version: 4}),
			d: decision("dormant", "at_risk"), wantVersion: 5, wantOut: Outcome{NewVersion: true}, wantChanges: "entered:dormant@4 entered:at_risk@5"},
		{name: "published changes are not", prev: withChanges(rec(4, 4, "dormant"), Change{Segment: "dormant", Change: Entered, Version: 4}),
			d: decision("dormant", "at_risk"), wantVersion: 5, wantOut: Outcome{NewVersion: true}, wantChanges: "entered:at_risk@5"},
		{name: "after an erasure the user starts again", prev: Erase(rec(2, 2, "active")), d: decision("new"),
			wantVersion: 4, wantOut: Outcome{NewVersion: true}, wantChanges: "entered:new@4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := clone(tc.prev)
			next, out := Next(tc.prev, "u1", tc.d, t0, model)
			if !reflect.DeepEqual(tc.prev, before) {
				t.Fatal("Next modified its input record")
			}
			if out != tc.wantOut {
				t.Errorf("outcome %+v, want %+v", out, tc.wantOut)
			}
			if next.Version != tc.wantVersion {
				t.Errorf("version %d, want %d", next.Version, tc.wantVersion)
			}
			if !out.NewVersion {
				if next.Doc != tc.prev.Doc {
					t.Error("document replaced without a new version")
				}
				return
			}
			if got := kinds(next.Changes); got != tc.wantChanges {
				t.Errorf("changes %q, want %q", got, tc.wantChanges)
			}
			if next.Doc == nil || next.Doc.Version != next.Version || next.Doc.UserID != "u1" || !next.Doc.AsOf.Equal(t0) || next.Doc.Model != model {
				t.Fatalf("document %+v", next.Doc)
			}
			if next.Doc.Segments == nil {
				t.Error("segments must be a list, never null")
			}
			if next.Erased {
				t.Error("a labelled user is not erased")
			}
			for _, c := range next.Changes {
				if c.Version == next.Version && c.Change == Entered && len(c.Reasons) == 0 {
					t.Errorf("entry %s without its reasons", c.Segment)
				}
				if c.Version == next.Version && c.Reasons == nil {
					t.Errorf("change %s: reasons must be a list, never null", c.Segment)
				}
			}
		})
	}
}

func TestNextBoundsCarriedChanges(t *testing.T) {
	prev := rec(2000, 1, "a")
	for i := 0; i < MaxPendingChanges+5; i++ {
		prev.Changes = append(prev.Changes, Change{Segment: "a", Change: Entered, Version: int64(i)})
	}
	next, out := Next(prev, "u1", decision("b"), t0, model)
	if out.Dropped != 5 {
		t.Fatalf("dropped %d, want the 5 carried over the bound", out.Dropped)
	}
	if len(next.Changes) != MaxPendingChanges+2 || kinds(next.Changes[MaxPendingChanges:]) != "entered:b@2001 exited:a@2001" {
		t.Fatalf("%d changes kept, ending %s", len(next.Changes), kinds(next.Changes[MaxPendingChanges:]))
	}
	if next.Changes[0].Version != 5 {
		t.Fatalf("oldest kept is version %d, want 5: the oldest go first", next.Changes[0].Version)
	}
}

func TestEraseIsAVersionOfItsOwn(t *testing.T) {
	e := Erase(rec(5, 4, "active"))
	if e.Version != 6 || !e.Erased || e.Doc != nil || len(e.Changes) != 0 || e.Published != 4 || !e.Unpublished() {
		t.Fatalf("erase record %+v", e)
	}
}

func TestDiff(t *testing.T) {
	in, out := Diff([]string{"b", "a", "c"}, []string{"d", "c", "a0", "a"})
	if strings.Join(in, ",") != "a0,d" || strings.Join(out, ",") != "b" {
		t.Fatalf("entered %v exited %v", in, out)
	}
	if in, out := Diff(nil, nil); in != nil || out != nil {
		t.Fatalf("empty diff %v %v", in, out)
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0.12344, 0.1234}, {0.12345, 0.1235}, {-0.12345, -0.1235}, {2.00005, 2.0001}, {0, 0}} {
		if got := Round(tc.in); got != tc.want {
			t.Errorf("Round(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if ScoreValueTier("high") != "value_tier_high" || ScoreInterest("tea") != "interest:tea" {
		t.Error("score names changed: they are the contract")
	}
}

func rec(ver, published int64, segs ...string) Record {
	return Record{Version: ver, Published: published, Doc: &Doc{UserID: "u1", Version: ver, Segments: segs}}
}

func withChanges(r Record, cs ...Change) Record { r.Changes = cs; return r }

func withState(d Decision, st string) Decision { d.State = []byte(st); return d }

func clone(r Record) Record {
	c := r
	c.Changes = slices.Clone(r.Changes)
	c.State = slices.Clone(r.State)
	if r.Doc != nil {
		d := *r.Doc
		c.Doc = &d
	}
	return c
}
