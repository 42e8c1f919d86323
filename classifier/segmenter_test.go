package classifier_test

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/segments"
)

const defaultModel = "../models/default.json"

// segmenterProfile is a small synthetic customer: three purchases and a
// view, with a product text.
func segmenterProfile(t testing.TB) *featurestore.Profile {
	t.Helper()
	p := &featurestore.Profile{UserID: "u1"}
	t0 := time.Date(2011, 1, 10, 12, 0, 0, 0, time.UTC)
	for i, d := range []int{0, 21, 45} {
		ev := &events.Event{EventID: fmt.Sprint("p", i), Type: events.TypePurchase, UserID: "u1", TS: t0.AddDate(0, 0, d),
			OrderID: fmt.Sprint("o", i), Currency: "GBP", Items: []events.Item{{ProductID: "p1", Description: "RED CAKE STAND", Quantity: 3, UnitPrice: 7.5}}}
		p.Apply(ev, featurestore.Mark{}, featurestore.DefaultLimits)
	}
	ev := &events.Event{EventID: "v", Type: events.TypeView, UserID: "u1", TS: t0.AddDate(0, 0, 50), ProductID: "p2"}
	p.Apply(ev, featurestore.Mark{}, featurestore.DefaultLimits)
	return p
}

// round4 is the rounding of the label stage's adapter before Segmenter
// moved here (pipeline/adapters.go): label.Round must agree with it.
func round4(x float64) float64 {
	a := 0.5
	if x < 0 {
		a = -0.5
	}
	return float64(int64(x*1e4+a)) / 1e4
}

func TestSegmenterDefaultModel(t *testing.T) {
	seg, err := classifier.NewSegmenter(defaultModel, defaultDefs(t))
	if err != nil {
		t.Fatal(err)
	}
	m := seg.M
	if ref := seg.Model(); ref.Name != m.Name || ref.Version != m.Version || ref.Version == "" {
		t.Fatalf("model ref %+v, model %s %s", ref, m.Name, m.Version)
	}
	if m.Embedding == nil || len(m.Themes) == 0 {
		t.Fatal("the default model has no themes: the interest scores are not exercised")
	}
	p := segmenterProfile(t)
	asOf := time.Date(2011, 3, 15, 0, 0, 0, 0, time.UTC)
	v := featurestore.NewView(p, asOf)
	emb := slices.Clone(m.Themes[0].Centroid) // similarity 1 to the first theme

	d, err := seg.Label(p, v, seg.Own(emb), nil, asOf)
	if err != nil {
		t.Fatal(err)
	}

	// Score names and values: the model's scores, rounded.
	s := m.ScoreHistory(v, classifier.HistoryOf(p), emb)
	want := map[string]float64{label.ScoreChurnRisk: s.ChurnRisk, classifier.ScoreAtRisk: s.AtRisk}
	for i, name := range classifier.TierNames {
		want[label.ScoreValueTier(name)] = s.Tier[i]
	}
	for i, th := range m.Themes {
		want[label.ScoreInterest(th.Name)] = s.ThemeSim[i]
	}
	if m.GammaGamma == nil {
		t.Fatal("the default model has no spend model: the customer-value scores are not exercised")
	}
	want[classifier.ScoreCLV90d], want[classifier.ScoreCLV365d] = s.CLV90d, s.CLV365d
	if !(s.CLV90d > 0 && s.CLV365d > s.CLV90d) {
		t.Errorf("customer value %.2f (90 days), %.2f (365 days)", s.CLV90d, s.CLV365d)
	}
	if len(d.Scores) != len(want) {
		t.Fatalf("%d scores, want %d: %v", len(d.Scores), len(want), d.Scores)
	}
	for _, name := range []string{"churn_risk", "at_risk_score", "value_tier_none", "value_tier_mid", "value_tier_high", "clv_90d", "clv_365d", "interest:" + m.Themes[0].Name} {
		if _, ok := d.Scores[name]; !ok {
			t.Errorf("score %q missing: %v", name, d.Scores)
		}
	}
	for name, w := range want {
		got, ok := d.Scores[name]
		if !ok || got != label.Round(w) || got != round4(w) {
			t.Errorf("score %s = %v, want %v rounded", name, got, w)
		}
	}
	if d.Scores[label.ScoreInterest(m.Themes[0].Name)] != 1 {
		t.Errorf("similarity to the theme's own centroid %v", d.Scores[label.ScoreInterest(m.Themes[0].Name)])
	}

	// Segments and reasons: one lifecycle segment first, one value tier,
	// and a reason for each segment held.
	if !slices.Contains([]string{"new", "active", "dormant"}, d.Segments[0]) {
		t.Errorf("first segment %q is not a lifecycle segment", d.Segments[0])
	}
	tiers := 0
	for _, x := range d.Segments {
		if strings.HasSuffix(x, "_value") {
			tiers++
		}
	}
	if tiers != 1 {
		t.Errorf("%d value tiers in %v", tiers, d.Segments)
	}
	if !slices.Contains(d.Segments, classifier.InterestPrefix+m.Themes[0].Name) {
		t.Errorf("no interest in the nearest theme: %v", d.Segments)
	}
	for i, r := range d.Reasons {
		if r.Segment == "" || !slices.Contains(d.Segments, r.Segment) || r.Input == "" {
			t.Errorf("reason %+v does not name one of the segments %v", r, d.Segments)
		}
		if r.Value != round4(r.Value) || r.Contribution != round4(r.Contribution) {
			t.Errorf("reason %d %+v is not rounded", i, r)
		}
	}
	if !slices.ContainsFunc(d.Reasons, func(r label.Reason) bool { return r.Segment == d.Segments[0] }) {
		t.Errorf("the lifecycle segment %s has no reason", d.Segments[0])
	}
	var nums []float64
	for _, x := range d.Scores {
		nums = append(nums, x)
	}
	for _, r := range d.Reasons {
		nums = append(nums, r.Value, r.Contribution)
	}
	for _, x := range nums {
		if label.Round(x) != x {
			t.Errorf("%v has more than 4 decimals", x)
		}
	}

	// State: the segments' memberships, and fed back it keeps the
	// decision stable.
	st, err := segments.DecodeState(d.State)
	if err != nil || !st.Evaluated || !slices.Equal(st.Members(), sorted(d.Segments)) {
		t.Fatalf("state %s (%v): members %v, segments %v", d.State, err, st.Members(), d.Segments)
	}
	for _, later := range []time.Duration{0, time.Hour, 24 * time.Hour} {
		d2, err := seg.Label(p, featurestore.NewView(p, asOf.Add(later)), seg.Own(emb), d.State, asOf.Add(later))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d2.Segments, d.Segments) || !slices.Equal(d2.State, d.State) {
			t.Fatalf("+%s with the previous state: segments %v state %s, were %v %s", later, d2.Segments, d2.State, d.Segments, d.State)
		}
		if later == 0 && !reflect.DeepEqual(d2.Scores, d.Scores) {
			t.Fatalf("the same input scored differently:\n%+v\n%+v", d2, d)
		}
	}

	// Without an embedding there are no interest scores or segments: churn
	// risk, at_risk score, two customer values and the tiers.
	d3, err := seg.Label(p, v, nil, nil, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if len(d3.Scores) != 4+len(classifier.TierNames) || slices.ContainsFunc(d3.Segments, func(s string) bool { return strings.HasPrefix(s, classifier.InterestPrefix) }) {
		t.Fatalf("without an embedding: scores %v, segments %v", d3.Scores, d3.Segments)
	}

	if _, err := seg.Label(p, v, seg.Own(emb), []byte("{not json"), asOf); err == nil {
		t.Fatal("a corrupt state was accepted")
	}
}

func TestNewSegmenterMissingFile(t *testing.T) {
	if _, err := classifier.NewSegmenter(t.TempDir()+"/none.json", defaultDefs(t)); err == nil {
		t.Fatal("a missing model file was accepted")
	}
}

func defaultDefs(t testing.TB) *segments.Live {
	t.Helper()
	l, err := segments.NewDefaultLive(segments.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestAtRiskBandFollowsTheSeason: with a seasonal calibration the at_risk
// band the definitions read moves with the churn risk's seasonal term (on
// the log-odds scale), and is the tuned one at the validation cutoff.
func TestAtRiskBandFollowsTheSeason(t *testing.T) {
	m, err := classifier.Load(defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	if m.Calibration == nil || len(m.Calibration.Season) == 0 {
		t.Skip("the default model has no seasonal calibration")
	}
	seg, err := classifier.NewSegmenterFor(m, defaultDefs(t))
	if err != nil {
		t.Fatal(err)
	}
	logit := func(p float64) float64 { return math.Log(p / (1 - p)) }
	r := m.Rules
	at := seg.Params(m.Calibration.FittedOn)
	if math.Abs(at["at_risk_enter"]-r.AtRiskEnter) > 1e-3 || math.Abs(at["at_risk_exit"]-r.AtRiskExit) > 1e-3 {
		t.Fatalf("at the validation cutoff: %v, tuned %.4f / %.4f", at, r.AtRiskEnter, r.AtRiskExit)
	}
	for d := 0; d < 365; d += 10 {
		asOf := m.Calibration.FittedOn.AddDate(0, 0, d)
		p := seg.Params(asOf)
		off := m.Calibration.SeasonOffset(asOf)
		if math.Abs(logit(p["at_risk_enter"])-logit(r.AtRiskEnter)-off) > 1e-9 || p["at_risk_exit"] >= p["at_risk_enter"] {
			t.Fatalf("%s: band %.4f / %.4f, offset %.3f", asOf.Format(time.DateOnly), p["at_risk_enter"], p["at_risk_exit"], off)
		}
		if p["churn_threshold"] != m.Churn.Threshold {
			t.Fatal("the churn threshold moved")
		}
	}
}
