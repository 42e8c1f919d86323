package classifier_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/featurestore"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/classifier")

const goldenFeatures = "../testdata/classifier/features_2011-03-01.golden.json"

type goldenRow struct {
	UserID   string             `json:"user_id"`
	Churn    int                `json:"churn"`
	Tier     string             `json:"tier"`
	Spend    float64            `json:"spend"`
	Obs      [3]float64         `json:"bgnbd_x_tx_T"`
	Features map[string]float64 `json:"features"`
}

func round9(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// TestFeaturesGolden pins the whole fold-to-features path on a real slice:
// replay's reader, featurestore's Profile.Apply and NewView as of the
// cutoff, the labels, and Extractor.Features.
func TestFeaturesGolden(t *testing.T) {
	evs := sliceEvents(t)
	c := time.Date(2011, 3, 1, 0, 0, 0, 0, time.UTC)
	sets, err := train.BuildSets(evs, []time.Time{c}, featurestore.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	ext := classifier.Extractor{BGNBD: &classifier.BGNBDParams{R: 0.638, Alpha: 9.02, A: 0.178, B: 2.92}}
	var rows []goldenRow
	for _, e := range sets[0].Examples {
		f := ext.Features(nil, e.View, e.History)
		r := goldenRow{UserID: e.UserID, Churn: e.Churn, Tier: classifier.TierNames[e.Tier], Spend: round9(e.Spend),
			Obs: [3]float64{round9(e.Obs.X), round9(e.Obs.TX), round9(e.Obs.T)}, Features: map[string]float64{}}
		for j, n := range classifier.NumericFeatures {
			r.Features[n] = round9(f[j])
		}
		rows = append(rows, r)
	}
	got, _ := json.MarshalIndent(rows, "", " ")
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(goldenFeatures, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d customers)", goldenFeatures, len(rows))
		return
	}
	want, err := os.ReadFile(goldenFeatures)
	if err != nil {
		t.Fatalf("%v (run go test ./classifier -run TestFeaturesGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		var w []goldenRow
		_ = json.Unmarshal(want, &w)
		for i := range min(len(w), len(rows)) {
			if w[i].UserID != rows[i].UserID {
				t.Fatalf("row %d: user %s, golden %s", i, rows[i].UserID, w[i].UserID)
			}
			for n, v := range rows[i].Features {
				if w[i].Features[n] != v {
					t.Errorf("user %s feature %s = %v, golden %v", rows[i].UserID, n, v, w[i].Features[n])
				}
			}
		}
		t.Fatalf("features differ from %s (%d rows, golden %d); if the change is intended, bump FeatureVersion and rerun with -update", goldenFeatures, len(rows), len(w))
	}
	if len(rows) < 30 {
		t.Fatalf("only %d customers in the slice population", len(rows))
	}
}
