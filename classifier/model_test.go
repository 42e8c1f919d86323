package classifier

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	sliceModelOnce sync.Once
	sliceResult    *Result
	sliceModelErr  error
)

// sliceRun trains on the committed slice (no text): the CI-sized run.
func sliceRun(t *testing.T) *Result {
	t.Helper()
	evs := sliceEvents(t)
	sliceModelOnce.Do(func() {
		sliceResult, sliceModelErr = Run(t.Context(), evs, Config{Seed: 3, L2Grid: []float64{1e-3}})
	})
	if sliceModelErr != nil {
		t.Fatal(sliceModelErr)
	}
	return sliceResult
}

func TestRunDeterministic(t *testing.T) {
	a := sliceRun(t)
	b, err := Run(t.Context(), sliceEvents(t), Config{Seed: 3, L2Grid: []float64{1e-3}})
	if err != nil {
		t.Fatal(err)
	}
	ea, _ := a.Model.Encode()
	eb, _ := b.Model.Encode()
	if string(ea) != string(eb) {
		t.Fatal("two runs with the same seed wrote different model files")
	}
	var names []string
	for _, c := range a.Candidates {
		names = append(names, c.Name)
	}
	want := "majority class|recency alone|RFM logistic regression|RFM logistic regression, raw inputs|BG/NBD|segstream (no text)"
	if got := strings.Join(names, "|"); got != want {
		t.Fatalf("candidates %s, want %s", got, want)
	}
}

func TestModelRoundTrip(t *testing.T) {
	res := sliceRun(t)
	path := filepath.Join(t.TempDir(), "m.json")
	if err := res.Model.Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version == "" || m.Version != res.Model.Version || m.SchemaHash != SchemaHash(NumericFeatures, 0) {
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
			return strings.Replace(s, `"feature_version": "`+FeatureVersion+`"`, `"feature_version": "features/v0"`, 1)
		}, true},
		{"schema hash", func(s string) string { return strings.Replace(s, res.Model.SchemaHash, "sha256:0000000000000000", 1) }, true},
		{"not a model", func(s string) string { return strings.Replace(s, ModelFormat, "something.else", 1) }, false},
		{"truncated", func(s string) string { return s[:len(s)/2] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.json")
			if err := os.WriteFile(path, []byte(tc.edit(string(good))), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := errors.Is(err, ErrSchemaMismatch); got != tc.schema {
				t.Fatalf("errors.Is(ErrSchemaMismatch) = %v: %v", got, err)
			}
			if !tc.schema && !errors.Is(err, ErrBadModel) {
				t.Fatalf("want ErrBadModel: %v", err)
			}
			if tc.schema {
				var se *SchemaError
				if !errors.As(err, &se) || se.Path != path || !strings.Contains(err.Error(), "segstream train") {
					t.Fatalf("unhelpful error: %v", err)
				}
			}
		})
	}
}

// withText returns a copy of m whose heads also take an 8-d embedding,
// with random weights and two themes.
func withText(m *Model) *Model {
	const dim = 8
	c := *m
	rng := rand.New(rand.NewPCG(5, 5))
	c.Embedding = &EmbeddingSpec{Encoder: "test", Dim: dim}
	c.Text = &TextSpec{Dim: dim, Mean: make([]float64, dim), Scale: 3}
	for i := range c.Text.Mean {
		c.Text.Mean[i] = 0.05 * rng.NormFloat64()
	}
	grow := func(s *Softmax) *Softmax {
		n := NewSoftmax(s.Classes, s.Dim+dim)
		for k := 0; k < s.Classes; k++ {
			row := n.Row(k)
			copy(row, s.Row(k)[:s.Dim])
			for j := s.Dim; j < s.Dim+dim; j++ {
				row[j] = rng.NormFloat64()
			}
			row[s.Dim+dim] = s.Row(k)[s.Dim]
		}
		return n
	}
	c.Churn.Softmax = grow(m.Churn.Softmax)
	c.Value.Softmax = grow(m.Value.Softmax)
	for i, name := range []string{"alpha", "beta"} {
		cen := make([]float32, dim)
		cen[i] = 1
		c.Themes = append(c.Themes, Theme{Name: name, Centroid: cen})
	}
	c.SchemaHash = SchemaHash(NumericFeatures, dim)
	return &c
}

func TestContributionsSumToLogit(t *testing.T) {
	res := sliceRun(t)
	mt := withText(res.Model)
	emb := []float32{0.1, 0.7, -0.2, 0.3, 0, 0.5, -0.1, 0.2}
	for _, tc := range []struct {
		name string
		m    *Model
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
				var z [3]float64
				tc.m.Value.valueLogits(s.input, z[:])
				for k := 0; k < 3; k++ {
					cs, b := tc.m.Contributions(s, "value", k)
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
					var text *Contribution
					for i := range cs {
						if strings.HasPrefix(cs[i].Input, TextFeature) {
							text = &cs[i]
						}
					}
					if text == nil || len(cs) != len(NumericFeatures)+1 {
						t.Fatalf("text not grouped as one input: %d contributions", len(cs))
					}
					if tc.emb != nil && text.Input != TextFeature+":beta" {
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
	if _, err := Decode(b); !errors.Is(err, ErrBadModel) {
		t.Fatalf("want ErrBadModel, got %v", err)
	}
	good, _ := withText(res.Model).Encode()
	if _, err := Decode(good); err != nil {
		t.Fatalf("a consistent text model was refused: %v", err)
	}
}

func BenchmarkScore(b *testing.B) {
	evs := sliceEvents(b)
	res, err := Run(b.Context(), evs, Config{Seed: 3, L2Grid: []float64{1e-3}})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *Model
		emb  []float32
	}{{"text=off", res.Model, nil}, {"text=8d", withText(res.Model), make([]float32, 8)}} {
		b.Run(tc.name, func(b *testing.B) {
			v := res.Data.Val.Examples[0].View
			l, _ := NewLabeler(tc.m, Rules{})
			b.ReportAllocs()
			for b.Loop() {
				s := tc.m.Score(v, tc.emb)
				l.Decide(State{}, s, v.AsOf.Add(time.Hour))
			}
		})
	}
}
