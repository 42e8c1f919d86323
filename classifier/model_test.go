package classifier_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/featurestore"
)

func TestModelRoundTrip(t *testing.T) {
	res := sliceRun(t)
	path := filepath.Join(t.TempDir(), "m.json")
	if err := res.Model.Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := classifier.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version == "" || m.Version != res.Model.Version || m.SchemaHash != classifier.SchemaHash(classifier.NumericFeatures, 0) {
		t.Fatalf("version %q / %q, schema %s", m.Version, res.Model.Version, m.SchemaHash)
	}
	if !m.Data.ValCutoff.Equal(res.Model.Data.ValCutoff) || m.Metrics["validation"].Churn.AUC != res.Model.Metrics["validation"].Churn.AUC {
		t.Fatal("data range or metrics lost")
	}
	for _, e := range res.Data.Val.Examples {
		a, b := res.Model.Score(e.View, nil), m.Score(e.View, nil)
		if a.ChurnRisk != b.ChurnRisk || a.Tier != b.Tier || a.TierClass != b.TierClass {
			t.Fatalf("user %s: scores differ after the round trip: %+v vs %+v", e.UserID, a, b)
		}
	}
}

func TestModelRefusesMismatch(t *testing.T) {
	res := sliceRun(t)
	good, err := res.Model.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(string) string
		schema bool
	}{
		{"renamed feature", func(s string) string { return strings.Replace(s, `"log_recency_days"`, `"log_recency_hours"`, 1) }, true},
		{"older feature code", func(s string) string {
			return strings.Replace(s, `"feature_version": "`+classifier.FeatureVersion+`"`, `"feature_version": "features/v0"`, 1)
		}, true},
		{"schema hash", func(s string) string { return strings.Replace(s, res.Model.SchemaHash, "sha256:0000000000000000", 1) }, true},
		{"not a model", func(s string) string { return strings.Replace(s, classifier.ModelFormat, "something.else", 1) }, false},
		{"truncated", func(s string) string { return s[:len(s)/2] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.json")
			if err := os.WriteFile(path, []byte(tc.edit(string(good))), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := classifier.Load(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := errors.Is(err, classifier.ErrSchemaMismatch); got != tc.schema {
				t.Fatalf("errors.Is(ErrSchemaMismatch) = %v: %v", got, err)
			}
			if !tc.schema && !errors.Is(err, classifier.ErrBadModel) {
				t.Fatalf("want ErrBadModel: %v", err)
			}
			if tc.schema {
				var se *classifier.SchemaError
				if !errors.As(err, &se) || se.Path != path || !strings.Contains(err.Error(), "segstream train") {
					t.Fatalf("unhelpful error: %v", err)
				}
			}
		})
	}
}

func TestContributionsSumToLogit(t *testing.T) {
	res := sliceRun(t)
	mt := withText(res.Model)
	emb := []float32{0.1, 0.7, -0.2, 0.3, 0, 0.5, -0.1, 0.2}
	for _, tc := range []struct {
		name string
		m    *classifier.Model
		emb  []float32
	}{{"numeric", res.Model, nil}, {"with text", mt, emb}, {"text model, no embedding", mt, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range res.Data.Val.Examples[:20] {
				s := tc.m.Score(e.View, tc.emb)
				cs, b := tc.m.Contributions(s, "churn", 1)
				sum := b
				for _, c := range cs {
					sum += c.Contribution
				}
				if math.Abs(sum-s.ChurnLogit) > 1e-9 {
					t.Fatalf("churn: contributions sum to %.12f, logit %.12f", sum, s.ChurnLogit)
				}
				if math.Abs(1/(1+math.Exp(-s.ChurnLogit))-s.ChurnRisk) > 1e-12 {
					t.Fatal("churn risk is not the logistic of the logit")
				}
				// the value head's own decomposition (the shipped tier is
				// derived from predicted value: TestTierFromValue)
				head := *tc.m
				head.ValueTier = nil
				z := classifier.ValueLogits(&head, s)
				for k := 0; k < 3; k++ {
					cs, b := head.Contributions(s, "value", k)
					sum := b
					for _, c := range cs {
						sum += c.Contribution
					}
					want := z[k] - (z[0]+z[1]+z[2])/3
					if math.Abs(sum-want) > 1e-9 {
						t.Fatalf("value class %d: contributions sum to %.12f, centred logit %.12f", k, sum, want)
					}
				}
				if tc.m.Text != nil {
					var text *classifier.Contribution
					for i := range cs {
						if strings.HasPrefix(cs[i].Input, classifier.TextFeature) {
							text = &cs[i]
						}
					}
					if text == nil || len(cs) != len(classifier.NumericFeatures)+1 {
						t.Fatalf("text not grouped as one input: %d contributions", len(cs))
					}
					if tc.emb != nil && text.Input != classifier.TextFeature+":beta" {
						t.Fatalf("text input named %q, want the nearest theme beta", text.Input)
					}
					if tc.emb == nil && text.Contribution != 0 {
						t.Fatal("a missing embedding contributed")
					}
				}
			}
		})
	}
}

func TestModelRefusesBadTextShape(t *testing.T) {
	res := sliceRun(t)
	mt := withText(res.Model)
	mt.Text.Mean = mt.Text.Mean[:3]
	b, err := mt.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := classifier.Decode(b); !errors.Is(err, classifier.ErrBadModel) {
		t.Fatalf("want ErrBadModel, got %v", err)
	}
	good, _ := withText(res.Model).Encode()
	if _, err := classifier.Decode(good); err != nil {
		t.Fatalf("a consistent text model was refused: %v", err)
	}
}

func BenchmarkScore(b *testing.B) {
	evs := sliceEvents(b)
	res, err := train.Run(b.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *classifier.Model
		emb  []float32
	}{{"text=off", res.Model, nil}, {"text=8d", withText(res.Model), make([]float32, 8)}} {
		b.Run(tc.name, func(b *testing.B) {
			v := res.Data.Val.Examples[0].View
			seg, err := classifier.NewSegmenterFor(tc.m, defaultDefs(b))
			if err != nil {
				b.Fatal(err)
			}
			p := &featurestore.Profile{UserID: "u", FirstSeen: v.FirstSeen.Unix(), LastSeen: v.LastSeen.Unix()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := seg.Label(p, v, seg.Own(tc.emb), nil, v.AsOf.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// scoredAfterReload encodes m, decodes it as a model file is loaded (what
// names the format in the failure) and scores the slice run's first
// validation example with it.
func scoredAfterReload(t *testing.T, m *classifier.Model, what string) classifier.Scores {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := classifier.Decode(b)
	if err != nil {
		t.Fatalf("%s refused: %v", what, err)
	}
	e := sliceRun(t).Data.Val.Examples[0]
	return loaded.ScoreHistory(e.View, e.History, nil)
}

// TestReadsFormat1: a model file of format 1 (before the calibration, the
// spend model and the value tier from predicted value) still loads and
// scores with its head's own probabilities and tiers; format 1 with the
// new fields is refused.
func TestReadsFormat1(t *testing.T) {
	old := *sliceRun(t).Model
	old.FormatVersion, old.Calibration, old.GammaGamma, old.ValueTier, old.AtRisk = 1, nil, nil, nil, nil
	s := scoredAfterReload(t, &old, "format 1")
	if s.ChurnLogit != s.ChurnHeadLogit || s.CLV90d != 0 || s.CLV365d != 0 {
		t.Fatalf("format 1 scores: %+v", s)
	}
	bad := *sliceRun(t).Model
	bad.FormatVersion = 1
	b, err := bad.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := classifier.Decode(b); err == nil {
		t.Fatal("format 1 with a calibration was read")
	}
	bad.FormatVersion = classifier.ModelFormatVersion + 1
	if b, err = bad.Encode(); err != nil {
		t.Fatal(err)
	}
	if _, err := classifier.Decode(b); err == nil {
		t.Fatal("a newer format was read")
	}
}
