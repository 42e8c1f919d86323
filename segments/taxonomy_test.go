package segments_test

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/segments"
)

// The built-in taxonomy as definitions keeps the rules it replaced:
// at_risk's band and dwell, the tier margin and dwell, one tier and one
// lifecycle segment at a time.

func defaults(t *testing.T) *segments.Set {
	t.Helper()
	defs, err := segments.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	s, err := segments.Compile(defs, segments.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withParams(in *segments.Input, kv ...any) *segments.Input {
	m := map[string]float64{}
	for k, v := range in.Model {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(float64)
	}
	in.Model = m
	return in
}

// setRisk sets the churn risk and the at_risk score (the score the
// built-in at_risk definition reads: the churn risk for a model without
// an at_risk ranking) to r.
func setRisk(in *segments.Input, r float64) {
	in.ChurnRisk = r
	in.Scores["churn_risk"], in.Scores["at_risk_score"] = r, r
}

func tiers(in *segments.Input, p [3]float64) {
	names := []string{"none", "mid", "high"}
	best := 0
	for i := range p {
		in.ValueTierP[names[i]] = p[i]
		in.ValueLogP[names[i]] = math.Log(p[i])
		if p[i] > p[best] {
			best = i
		}
	}
	in.ValueTier = names[best]
}

func TestTaxonomyAtRiskHysteresisAndDwell(t *testing.T) {
	s := defaults(t)
	// a repeat buyer who bought 20 days ago (recent: the definition needs it)
	p := profile(t, purchase(t0.Add(-80*24*time.Hour), 10), purchase(t0.Add(-20*24*time.Hour), 10))
	day := 24 * time.Hour
	steps := []struct {
		name   string
		at     time.Duration
		risk   float64
		atRisk bool
	}{
		{"first decision below enter: out", 0, 0.55, false},
		{"above enter: enters", 1 * day, 0.61, true},
		{"below exit but inside the dwell", 3 * day, 0.3, true},
		{"inside the band after the dwell: stays", 9 * day, 0.45, true},
		{"below exit after the dwell: leaves", 10 * day, 0.39, false},
		{"above the threshold but below enter: stays out", 20 * day, 0.58, false},
		{"above enter: enters", 21 * day, 0.61, true},
		{"flap back down within the dwell: stays", 22 * day, 0.1, true},
	}
	var state []byte
	for _, st := range steps {
		in := withParams(input(p, t0.Add(st.at)), "churn_threshold", 0.5, "at_risk_enter", 0.6, "at_risk_exit", 0.4)
		setRisk(in, st.risk)
		r, err := s.Evaluate(in, state)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(r.Segments, "at_risk"); got != st.atRisk {
			t.Fatalf("%s: at_risk = %v, segments %v", st.name, got, r.Segments)
		}
		state = r.State
	}
	// at risk 0.95: a recent buyer is worth an alert whether it bought on
	// one day or on several (one-time buyers churn the most: issue 12), a
	// buyer long gone is not, and a recent buyer below the band is not
	for _, c := range []struct {
		name   string
		p      *featurestore.Profile
		risk   float64
		atRisk bool
	}{
		{"one purchase day, 20 days ago", profile(t, purchase(t0.Add(-20*day), 10)), 0.95, true},
		{"one purchase day of high value, 60 days ago", profile(t, purchase(t0.Add(-60*day), 5000)), 0.95, true},
		{"one purchase day, 20 days ago, below enter", profile(t, purchase(t0.Add(-20*day), 10)), 0.55, false},
		{"repeat buyer, last purchase 100 days ago", profile(t, purchase(t0.Add(-200*day), 10), purchase(t0.Add(-100*day), 10)), 0.95, false},
		{"one purchase day, 100 days ago", profile(t, purchase(t0.Add(-100*day), 5000)), 0.95, false},
	} {
		in := withParams(input(c.p, t0), "at_risk_enter", 0.6, "at_risk_exit", 0.4)
		setRisk(in, c.risk)
		r, err := s.Evaluate(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(r.Segments, "at_risk"); got != c.atRisk {
			t.Errorf("%s at risk %.2f: at_risk = %v, segments %v", c.name, c.risk, got, r.Segments)
		}
	}
	// the band is on the at_risk score, not on the churn risk: the two
	// differ for a model whose at_risk ranking blends in BG/NBD
	recent := profile(t, purchase(t0.Add(-20*day), 10))
	for _, c := range []struct {
		churn, score float64
		atRisk       bool
	}{{0.95, 0.5, false}, {0.5, 0.95, true}} {
		in := withParams(input(recent, t0), "at_risk_enter", 0.6, "at_risk_exit", 0.4)
		in.ChurnRisk, in.Scores["churn_risk"], in.Scores["at_risk_score"] = c.churn, c.churn, c.score
		r, err := s.Evaluate(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(r.Segments, "at_risk"); got != c.atRisk {
			t.Errorf("churn risk %.2f, at_risk score %.2f: at_risk = %v, segments %v", c.churn, c.score, got, r.Segments)
		}
	}
	// a member leaves once its last purchase is more than 90 days old,
	// however high the risk (after the dwell)
	one := profile(t, purchase(t0.Add(-85*day), 10))
	in := withParams(input(one, t0), "at_risk_enter", 0.6, "at_risk_exit", 0.4)
	setRisk(in, 0.95)
	r, err := s.Evaluate(in, nil)
	if err != nil || !slices.Contains(r.Segments, "at_risk") {
		t.Fatalf("bought 85 days ago at 0.95: %v %v", r.Segments, err)
	}
	in = withParams(input(one, t0.Add(8*day)), "at_risk_enter", 0.6, "at_risk_exit", 0.4)
	setRisk(in, 0.95)
	if r, err = s.Evaluate(in, r.State); err != nil || slices.Contains(r.Segments, "at_risk") {
		t.Fatalf("bought 93 days ago at 0.95, after the dwell: %v %v", r.Segments, err)
	}
}

func TestTaxonomyTierMarginAndDwell(t *testing.T) {
	s := defaults(t)
	p := profile(t, purchase(t0.Add(-60*24*time.Hour), 10))
	eval := func(state []byte, at time.Duration, pr [3]float64) ([]string, []byte) {
		in := withParams(input(p, t0.Add(at)), "tier_margin", 0.5)
		tiers(in, pr)
		r, err := s.Evaluate(in, state)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, x := range r.Segments {
			if x == "low_value" || x == "mid_value" || x == "high_value" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d value tiers: %v", n, r.Segments)
		}
		return r.Segments, r.State
	}
	segs, st := eval(nil, 0, [3]float64{0.2, 0.7, 0.1})
	if !slices.Contains(segs, "mid_value") {
		t.Fatalf("first decision: %v", segs)
	}
	day := 24 * time.Hour
	if segs, _ := eval(st, 10*day, [3]float64{0.1, 0.44, 0.46}); !slices.Contains(segs, "mid_value") {
		t.Fatalf("moved on a margin below 0.5: %v", segs)
	}
	if segs, _ := eval(st, 3*day, [3]float64{0.05, 0.15, 0.8}); !slices.Contains(segs, "mid_value") {
		t.Fatalf("changed tier inside the dwell: %v", segs)
	}
	segs, st = eval(st, 8*day, [3]float64{0.05, 0.15, 0.8})
	if !slices.Contains(segs, "high_value") {
		t.Fatalf("did not move to high: %v", segs)
	}
	// and back only after a week in high
	if segs, _ := eval(st, 10*day, [3]float64{0.8, 0.15, 0.05}); !slices.Contains(segs, "high_value") {
		t.Fatalf("left high inside its dwell: %v", segs)
	}
	if segs, _ := eval(st, 16*day, [3]float64{0.8, 0.15, 0.05}); !slices.Contains(segs, "low_value") {
		t.Fatalf("did not move to low: %v", segs)
	}
}

func TestTaxonomyLifecycleAndInterests(t *testing.T) {
	s := defaults(t)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name        string
		first, last time.Duration
		want        string
	}{
		{"new", 5 * day, 1 * day, "new"},
		{"active", 100 * day, 89 * day, "active"},
		{"dormant", 100 * day, 91 * day, "dormant"},
	} {
		p := profile(t, view(t0.Add(-tc.first)), view(t0.Add(-tc.last)))
		r, err := s.Evaluate(input(p, t0), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Segments[0] != tc.want || slices.Contains(r.Segments[1:], "new") || slices.Contains(r.Segments[1:], "active") || slices.Contains(r.Segments[1:], "dormant") {
			t.Errorf("%s: %v", tc.name, r.Segments)
		}
	}
	// interests: the top two above the cut-off, highest first
	p := profile(t, view(t0.Add(-time.Hour)))
	in := input(p, t0)
	in.Interests = map[string]float64{"a": 0.36, "b": 0.9, "c": 0.5, "d": 0.1}
	r, _ := s.Evaluate(in, nil)
	if got := r.Segments[len(r.Segments)-2:]; got[0] != "interest:b" || got[1] != "interest:c" {
		t.Fatalf("interests %v", r.Segments)
	}
	// a theme the model no longer has leaves
	in2 := input(p, t0)
	in2.Interests = map[string]float64{"c": 0.5}
	r2, _ := s.Evaluate(in2, r.State)
	if slices.Contains(r2.Segments, "interest:b") || !slices.Contains(r2.Segments, "interest:c") {
		t.Fatalf("after b went: %v", r2.Segments)
	}
}

// The interests family equals the rule it replaced (the themes of
// similarity at least interest_min_sim, at most max_interests, highest
// first, ties by name) on random similarities.
func TestTaxonomyInterestsRandom(t *testing.T) {
	s := defaults(t)
	p := profile(t, view(t0.Add(-time.Hour)))
	r := rand.New(rand.NewSource(3))
	for it := 0; it < 2000; it++ {
		in := input(p, t0)
		in.Interests = map[string]float64{}
		for k := 0; k < r.Intn(20); k++ {
			in.Interests[fmt.Sprintf("t%02d", r.Intn(30))] = float64(r.Intn(100)) / 100
		}
		res, err := s.Evaluate(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, x := range res.Segments {
			if strings.HasPrefix(x, "interest:") {
				got = append(got, x)
			}
		}
		keys := make([]string, 0, len(in.Interests))
		for k := range in.Interests {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if in.Interests[keys[i]] != in.Interests[keys[j]] {
				return in.Interests[keys[i]] > in.Interests[keys[j]]
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			if len(want) == 2 || in.Interests[k] < 0.35 {
				break
			}
			want = append(want, "interest:"+k)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("interests %v: got %v, want %v", in.Interests, got, want)
		}
	}
}
