package replay_test

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/replay"
)

func dataFile(t testing.TB, name string) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("data set missing: %v", err)
	}
	return p
}

// custTruth is what the test computes from the CSV on its own: integer
// arithmetic on the decimal strings, no code shared with the fold.
type custTruth struct {
	purchases, refunds map[string]bool
	spend, refund      int64 // cents
	units              int64
	first, last        time.Time
	days               map[string]bool
	rows               int
}

// decimal4 parses "2.55" into 25500 (hundredths of a cent... ×10^4).
func decimal4(t testing.TB, s string) int64 {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "0000")[:4]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad decimal %q", s)
	}
	v := w*10000 + f
	if neg {
		v = -v
	}
	return v
}

func TestProfilesMatchOnlineRetailCSV(t *testing.T) {
	if testing.Short() {
		t.Skip("replays the full 2010-2011 Online Retail file")
	}
	path := dataFile(t, "online_retail_2010_2011.csv.gz")
	london, _ := time.LoadLocation("Europe/London")

	// 1. Ground truth straight from the CSV.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(gz)
	if _, err := cr.Read(); err != nil {
		t.Fatal(err)
	}
	truth := map[string]*custTruth{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		inv, qtyS, dateS, priceS, cust := rec[0], rec[3], rec[4], rec[5], rec[6]
		if cust == "" {
			continue
		}
		c := truth[cust]
		if c == nil {
			c = &custTruth{purchases: map[string]bool{}, refunds: map[string]bool{}, days: map[string]bool{}}
			truth[cust] = c
		}
		c.rows++
		q, _ := strconv.ParseInt(qtyS, 10, 64)
		ts, err := time.ParseInLocation("2006-01-02 15:04:05", dateS, london)
		if err != nil {
			t.Fatal(err)
		}
		if c.first.IsZero() || ts.Before(c.first) {
			c.first = ts
		}
		if ts.After(c.last) {
			c.last = ts
		}
		// the line in cents, rounded half away from zero (the documented rule)
		line4 := q * decimal4(t, priceS)
		if line4 < 0 {
			line4 = -line4
		}
		lineCents := (line4 + 50) / 100
		if strings.HasPrefix(inv, "C") {
			c.refunds[inv] = true
			c.refund += lineCents
		} else {
			c.purchases[inv] = true
			c.spend += lineCents
			c.units += q
			c.days[ts.UTC().Format("2006-01-02")] = true
		}
	}

	// 2. Replay the file through the real broker and consumer into Redis.
	addr := testkit.Kafka(t, 6)
	rdb, prefix := testkit.Redis(t)
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, st, err := replay.ReadRetail([]string{path}, replay.RetailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := replay.Send(context.Background(), items, replay.SendConfig{
		Brokers: []string{addr},
		Topics:  map[events.Family]string{events.FamilyPurchase: "events.purchases", events.FamilyClickstream: "events.clickstream", events.FamilyReview: "events.reviews"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d events (%v skipped) in %s", snd.Sent, st.Skipped, snd.Elapsed)
	if st.Skipped["no_customer_id"] != 135080 {
		t.Errorf("rows without customer id: %d, want 135080", st.Skipped["no_customer_id"])
	}
	c, err := consumer.New(consumer.Config{Brokers: []string{addr}, GroupID: "truth", HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout: 2 * time.Second, RebalanceTimeout: 2 * time.Second, JoinGroupBackoff: 50 * time.Millisecond}, consumer.FoldFunc(func(ctx context.Context, recs []events.Record) (consumer.Folded, error) {
		_, err := store.Fold(ctx, recs)
		return consumer.Folded{}, err
	}), nil, nil, consumer.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// 3. Compare a sample of customers: 200 at random plus the 10 busiest.
	ids := make([]string, 0, len(truth))
	for id := range truth {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	r := rand.New(rand.NewPCG(42, 42))
	sample := map[string]bool{}
	for len(sample) < 200 {
		sample[ids[r.IntN(len(ids))]] = true
	}
	sort.Slice(ids, func(i, j int) bool { return truth[ids[i]].rows > truth[ids[j]].rows })
	for _, id := range ids[:10] {
		sample[id] = true
	}
	check := func(id string) error {
		want := truth[id]
		p, err := store.Get(context.Background(), id)
		if err != nil {
			return err
		}
		switch {
		case p.Orders() != uint64(len(want.purchases)):
			return fmt.Errorf("customer %s: %d orders, CSV has %d invoices", id, p.Orders(), len(want.purchases))
		case p.Counts[events.TypeRefund] != uint64(len(want.refunds)):
			return fmt.Errorf("customer %s: %d refunds, CSV has %d cancellations", id, p.Counts[events.TypeRefund], len(want.refunds))
		case p.SpendCents != want.spend || p.RefundCents != want.refund:
			return fmt.Errorf("customer %s: spend %d refund %d cents, CSV %d %d", id, p.SpendCents, p.RefundCents, want.spend, want.refund)
		case p.UnitsBought != want.units:
			return fmt.Errorf("customer %s: %d units, CSV %d", id, p.UnitsBought, want.units)
		case p.FirstSeen != want.first.Unix() || p.LastSeen != want.last.Unix():
			return fmt.Errorf("customer %s: seen %d..%d, CSV %d..%d", id, p.FirstSeen, p.LastSeen, want.first.Unix(), want.last.Unix())
		case p.DistinctPurchaseDays() != len(want.days):
			return fmt.Errorf("customer %s: %d purchase days, CSV %d", id, p.DistinctPurchaseDays(), len(want.days))
		}
		return nil
	}
	testkit.WaitFor(t, 60*time.Second, func() error {
		for id := range sample {
			if err := check(id); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("%d customers match the CSV", len(sample))
}
