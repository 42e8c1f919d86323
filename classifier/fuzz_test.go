package classifier_test

import (
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/featurestore"
)

// FuzzDecode feeds arbitrary bytes to the model decoder. Invariants: it
// never panics; whatever it accepts can score a view and be labelled
// without panicking, with probabilities in [0, 1].
func FuzzDecode(f *testing.F) {
	evs := sliceEvents(f)
	res, err := train.Run(f.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := res.Model.Encode()
	f.Add(good)
	text, _ := withText(res.Model).Encode()
	f.Add(text)
	tr, err := train.Run(f.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}, TreeDepths: []int{2}, TreeMinGain: -1})
	if err != nil {
		f.Fatal(err)
	}
	trees, _ := tr.Model.Encode()
	f.Add(trees)
	f.Add([]byte(`{"format":"segstream.classifier","format_version":1}`))
	f.Add([]byte(`null`))
	v := res.Data.Val.Examples[0].View
	p := &featurestore.Profile{UserID: "u", FirstSeen: v.FirstSeen.Unix(), LastSeen: v.LastSeen.Unix()}
	defs := defaultDefs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := classifier.Decode(b)
		if err != nil {
			return
		}
		for _, emb := range [][]float32{nil, make([]float32, m.TextDim())} {
			s := m.Score(v, emb)
			if !(s.ChurnRisk >= 0 && s.ChurnRisk <= 1) && s.ChurnRisk == s.ChurnRisk {
				t.Fatalf("churn risk %v", s.ChurnRisk)
			}
			seg, err := classifier.NewSegmenterFor(m, defs)
			if err != nil {
				continue
			}
			if _, err := defs.Set().Evaluate(seg.Input(p, v, emb, v.AsOf.Add(time.Hour)), nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}
