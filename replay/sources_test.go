package replay

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/segstream/segstream/events"
)

// DataDir is ../shared/data relative to the repository root.
func dataDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "shared", "data")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("data sets not found at %s: %v", d, err)
	}
	return d
}

func TestReadRetailBothFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1M rows")
	}
	d := dataDir(t)
	items, st, err := ReadRetail([]string{filepath.Join(d, "online_retail_II_2009_2010.csv.gz"), filepath.Join(d, "online_retail_2010_2011.csv.gz")}, RetailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buyers := map[string]bool{}
	invoices := map[string]bool{}
	for i, it := range items {
		if i > 0 && it.TS.Before(items[i-1].TS) {
			t.Fatalf("items not in event-time order at %d", i)
		}
		if invoices[it.Event.OrderID] {
			t.Fatalf("invoice %s emitted twice", it.Event.OrderID)
		}
		invoices[it.Event.OrderID] = true
		if it.Event.Type == events.TypePurchase {
			buyers[it.Event.UserID] = true
		}
		if _, derr := events.Decode(it.Value, events.DefaultLimits, it.TS); derr != nil && derr.Reason != events.ReasonBadQuantity {
			t.Fatalf("replayed event %s does not decode: %v", it.Event.EventID, derr)
		}
	}
	t.Logf("rows=%d events=%d skipped=%v types=%v buyers=%d", st.Rows, st.Events, st.Skipped, st.ByType, len(buyers))
	if st.Rows != 525461+541909 {
		t.Errorf("rows = %d", st.Rows)
	}
	if len(buyers) != 5881 {
		t.Errorf("distinct buying customers = %d, want 5881 (README of the data)", len(buyers))
	}
}
