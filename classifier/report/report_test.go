package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/replay"
)

// TestWrite writes the report of a run on the committed slice: REPORT.md
// with every section and the five plots as PNGs.
func TestWrite(t *testing.T) {
	items, _, err := replay.ReadRetail([]string{
		"../../testdata/classifier/retail_slice_2009_2010.csv.gz",
		"../../testdata/classifier/retail_slice_2010_2011.csv.gz",
	}, replay.RetailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]*events.Event, len(items))
	for i, it := range items {
		evs[i] = it.Event
	}
	res, err := train.Run(t.Context(), evs, train.Config{Seed: 3, L2Grid: []float64{1e-3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.Model.Encode(); err != nil { // sets the version the report names
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, res, Meta{Command: "segstream eval", TextNote: "off in the test."}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"# segstream classifier evaluation", "## Protocol", "## Churn: test cutoff", "## Calibration: test cutoff", "## at_risk: test cutoff",
		"## Customer value: test cutoff", "## Value tier", "## BG/NBD and Gamma-Gamma fits",
		"## Targets", "Not measured in this run: off in the test.", "## Shipped model", "| segstream (no text) |", "| BG/NBD |", res.Model.Version,
		"ECE", "Brier", "| segstream (churn head + BG/NBD + Gamma-Gamma) |", "`scores[\"at_risk_score\"]` is ", "enter: days_since_last_purchase <= 90.0 && scores[\"at_risk_score\"] >= model[\"at_risk_enter\"]"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("REPORT.md lacks %q", s)
		}
	}
	for _, f := range []string{"clv_summary.csv.gz", "clv_fit.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	for _, f := range []string{"churn_roc.png", "churn_pr.png", "churn_calibration.png", "churn_confusion.png", "value_confusion.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", f, err)
		}
	}
	res.Data.Test = nil
	if err := Write(t.TempDir(), res, Meta{}); err == nil {
		t.Error("a result without a test cutoff was written")
	}
}
