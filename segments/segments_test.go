package segments_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/segments"
)

var t0 = time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC)

// profile folds events through the real fold.
func profile(t *testing.T, evs ...*events.Event) *featurestore.Profile {
	t.Helper()
	p := &featurestore.Profile{UserID: "u1"}
	for i, e := range evs {
		e.UserID = "u1"
		if e.EventID == "" {
			e.EventID = "e" + string(rune('a'+i))
		}
		p.Apply(e, featurestore.Mark{Source: "t/0", Offset: int64(i)}, featurestore.Limits{}.WithDefaults())
	}
	return p
}

func purchase(ts time.Time, amount float64) *events.Event {
	return &events.Event{Type: events.TypePurchase, TS: ts, OrderID: ts.String(), Currency: "GBP",
		Items: []events.Item{{ProductID: "p", Description: "mug", Category: "kitchen", Quantity: 1, UnitPrice: amount}}}
}

func view(ts time.Time) *events.Event {
	return &events.Event{Type: events.TypeView, TS: ts, ProductID: "p", Category: "kitchen", Price: 1}
}

func input(p *featurestore.Profile, now time.Time) *segments.Input {
	return &segments.Input{Profile: p, Now: now, ChurnRisk: 0.7, ValueTier: "mid",
		ValueTierP: map[string]float64{"none": 0.2, "mid": 0.5, "high": 0.3},
		ValueLogP:  map[string]float64{"none": math.Log(0.2), "mid": math.Log(0.5), "high": math.Log(0.3)},
		Interests:  map[string]float64{"kitchen": 0.5, "garden": 0.4, "toys": 0.1},
		Scores:     map[string]float64{"churn_risk": 0.7, "at_risk_score": 0.7},
		Model:      map[string]float64{"churn_threshold": 0.5, "at_risk_enter": 0.55, "at_risk_exit": 0.45, "tier_margin": 0.2, "interest_min_sim": 0.35, "max_interests": 2},
	}
}

func compile(t *testing.T, yaml string) *segments.Set {
	t.Helper()
	defs, err := segments.ParseFile([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := segments.Compile(defs, segments.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDefaultsCompile(t *testing.T) {
	defs, err := segments.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	s, err := segments.Compile(defs, segments.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// a repeat buyer (two purchase days), the last 40 days ago: at_risk at 0.7
	p := profile(t, purchase(t0.Add(-100*24*time.Hour), 10), purchase(t0.Add(-40*24*time.Hour), 10), view(t0.Add(-time.Hour)))
	r, err := s.Evaluate(input(p, t0), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "active at_risk mid_value interest:kitchen interest:garden"
	if got := strings.Join(r.Segments, " "); got != want {
		t.Fatalf("segments %q, want %q", got, want)
	}
	if !r.Changed || len(r.Reasons) == 0 {
		t.Fatalf("first evaluation: changed %v reasons %v", r.Changed, r.Reasons)
	}
	t.Logf("reasons: %+v", r.Reasons)
}

func TestWindowsAndReasons(t *testing.T) {
	s := compile(t, `
segments:
  - name: big_spender
    enter: spend_in(30) >= 100.0 && count_in("view", 7) >= 1
`)
	p := profile(t, purchase(t0.Add(-10*24*time.Hour), 60), purchase(t0.Add(-20*24*time.Hour), 50), purchase(t0.Add(-40*24*time.Hour), 500), view(t0.Add(-time.Hour)))
	r, err := s.Evaluate(input(p, t0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Segments) != 1 || r.Segments[0] != "big_spender" {
		t.Fatalf("segments %v", r.Segments)
	}
	want := []label.Reason{{Segment: "big_spender", Input: "spend_in(30)", Value: 110}, {Segment: "big_spender", Input: `count_in("view", 7)`, Value: 1}}
	if len(r.Reasons) != 2 || r.Reasons[0] != want[0] || r.Reasons[1] != want[1] {
		t.Fatalf("reasons %+v, want %+v", r.Reasons, want)
	}
	// time alone: 25 days later only the 60 is in the window
	r2, err := s.Evaluate(input(p, t0.Add(15*24*time.Hour)), r.State)
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Segments) != 0 || !r2.Changed || len(r2.ExitReasons) != 2 || r2.ExitReasons[0].Value != 60 {
		t.Fatalf("after 15 days: %+v", r2)
	}
	if r2.Versions["big_spender"] == "" {
		t.Fatalf("no definition version on the exit: %+v", r2.Versions)
	}
}

// A state written by the built-in rules of earlier versions carries over:
// at_risk and the value tier keep their membership and since times.
func TestLegacyStateCarriesOver(t *testing.T) {
	old := []byte(`{"decided":true,"at_risk":true,"at_risk_since":"2011-05-28T00:00:00Z","tier":1,"tier_since":"2011-05-20T00:00:00Z"}`)
	st, err := segments.DecodeState(old)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Evaluated || !st.M["at_risk"].In || st.M["at_risk"].Since != time.Date(2011, 5, 28, 0, 0, 0, 0, time.UTC).Unix() || !st.M["mid_value"].In {
		t.Fatalf("legacy state read as %+v", st)
	}
	s := defaults(t)
	p := profile(t, purchase(t0.Add(-60*24*time.Hour), 10))
	in := input(p, t0)
	setRisk(in, 0.1) // below the exit, but at_risk entered 4 days ago: the dwell holds it
	r, err := s.Evaluate(in, old)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Segments, " ") != "active at_risk mid_value interest:kitchen interest:garden" {
		t.Fatalf("after a legacy state: %v", r.Segments)
	}
	if !r.Reindex {
		t.Error("a legacy state does not ask for the member index")
	}
	back, _ := segments.DecodeState(r.State)
	if back.M["at_risk"] != st.M["at_risk"] {
		t.Fatalf("at_risk since moved: %+v -> %+v", st.M["at_risk"], back.M["at_risk"])
	}
}
