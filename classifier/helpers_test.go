package classifier_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
)

// The serving tests score and label the model train.Run fits on the
// committed slice, with the views of its validation cutoff.

// sliceEvents reads the committed slice of the real Online Retail data.
func sliceEvents(tb testing.TB) []*events.Event { return testkit.RetailSlice(tb) }

var (
	sliceModelOnce sync.Once
	sliceResult    *train.Result
	sliceModelErr  error
)

// sliceRun trains on the committed slice (no text): the CI-sized run.
func sliceRun(t *testing.T) *train.Result {
	t.Helper()
	evs := sliceEvents(t)
	sliceModelOnce.Do(func() {
		sliceResult, sliceModelErr = train.Run(t.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}})
	})
	if sliceModelErr != nil {
		t.Fatal(sliceModelErr)
	}
	return sliceResult
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// withText returns a copy of m whose heads also take an 8-d embedding,
// with random weights and two themes.
func withText(m *classifier.Model) *classifier.Model {
	const dim = 8
	c := *m
	rng := rand.New(rand.NewPCG(5, 5))
	c.Embedding = &classifier.EmbeddingSpec{Encoder: "test", Dim: dim}
	c.Text = &classifier.TextSpec{Dim: dim, Mean: make([]float64, dim), Scale: 3}
	for i := range c.Text.Mean {
		c.Text.Mean[i] = 0.05 * rng.NormFloat64()
	}
	grow := func(s *classifier.Softmax) *classifier.Softmax {
		n := classifier.NewSoftmax(s.Classes, s.Dim+dim)
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
		c.Themes = append(c.Themes, classifier.Theme{Name: name, Centroid: cen})
	}
	c.SchemaHash = classifier.SchemaHash(classifier.NumericFeatures, dim)
	return &c
}
