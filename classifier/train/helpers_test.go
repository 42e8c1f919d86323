package train

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/replay"
)

// sliceEvents reads the committed slice of the real Online Retail data.
func sliceEvents(tb testing.TB) []*events.Event { return testkit.RetailSlice(tb) }

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
