package train

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/segstream/segstream/classifier"
)

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
	want := "majority class|recency alone|RFM logistic regression|RFM logistic regression, raw inputs|BG/NBD|segstream (no text)|segstream value head (--value-tier=head)"
	if got := strings.Join(names, "|"); got != want {
		t.Fatalf("candidates %s, want %s", got, want)
	}
}

// TestRefit checks the opt-in refit: the same choices (hyper-parameters,
// threshold, offsets, validation figures) with new weights.
func TestRefit(t *testing.T) {
	base := sliceRun(t).Model
	res, err := Run(t.Context(), sliceEvents(t), Config{Seed: 3, L2Grid: []float64{1e-3}, Refit: true})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if !m.Churn.Refit || !m.Value.Refit || m.Data.RefitRows != m.Data.TrainRows+len(res.Data.Val.Examples) {
		t.Fatalf("refit %v/%v on %d rows", m.Churn.Refit, m.Value.Refit, m.Data.RefitRows)
	}
	if m.Churn.Threshold != base.Churn.Threshold || fmt.Sprint(m.Value.Offsets) != fmt.Sprint(base.Value.Offsets) ||
		m.Metrics["validation"].Churn.AUC != base.Metrics["validation"].Churn.AUC {
		t.Fatal("the refit changed a choice made on validation")
	}
	if slices.Equal(m.Churn.Softmax.W, base.Churn.Softmax.W) {
		t.Fatal("the refit did not change the weights")
	}
	for _, h := range []*classifier.Head{&m.Churn, &m.Value} {
		if h.FeatureSet == "v1" {
			for k := 0; k < h.Softmax.Classes; k++ {
				for _, w := range h.Softmax.Row(k)[classifier.NumFeaturesV1:len(classifier.NumericFeatures)] {
					if w != 0 {
						t.Fatal("a v1 head has weight on a history feature")
					}
				}
			}
		}
	}
}
