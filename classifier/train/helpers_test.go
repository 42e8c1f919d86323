package train

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/replay"
)

var sliceFiles = []string{
	"../../testdata/classifier/retail_slice_2009_2010.csv.gz",
	"../../testdata/classifier/retail_slice_2010_2011.csv.gz",
}

var (
	sliceOnce sync.Once
	sliceEvs  []*events.Event
	sliceErr  error
)

// sliceEvents reads the committed slice of the real Online Retail data
// (every row of 120 randomly chosen customers from both files).
func sliceEvents(tb testing.TB) []*events.Event {
	tb.Helper()
	sliceOnce.Do(func() {
		items, _, err := replay.ReadRetail(sliceFiles, replay.RetailOptions{})
		if err != nil {
			sliceErr = err
			return
		}
		for _, it := range items {
			sliceEvs = append(sliceEvs, it.Event)
		}
	})
	if sliceErr != nil {
		tb.Fatal(sliceErr)
	}
	return sliceEvs
}

// fullEvents reads the full data sets from ../shared/data (next to the
// repository), or skips when they are not there (CI checkouts may not have
// them).
func fullEvents(tb testing.TB) []*events.Event {
	tb.Helper()
	files := []string{"../../../shared/data/online_retail_II_2009_2010.csv.gz", "../../../shared/data/online_retail_2010_2011.csv.gz"}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			tb.Skipf("%s not present: %v", filepath.Base(f), err)
		}
	}
	items, _, err := replay.ReadRetail(files, replay.RetailOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	evs := make([]*events.Event, len(items))
	for i, it := range items {
		evs[i] = it.Event
	}
	return evs
}

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
