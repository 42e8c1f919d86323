package service_test

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/secure"
	"github.com/segstream/segstream/segments"
)

func retailFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "shared", "data", "online_retail_2010_2011.csv.gz")
}

// invoiceCounts reads the raw Online Retail file, not through segstream:
// per customer, the distinct invoices before cutoff that are purchases
// and those that are cancellations (invoice numbers starting with C);
// rows without a customer id or with a zero quantity are not events.
func invoiceCounts(t *testing.T, cutoff string) (purchases, refunds map[string]int) {
	t.Helper()
	f, err := os.Open(retailFile())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(gz)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	purchases, refunds = map[string]int{}, map[string]int{}
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
		no, qty, date, cust := row[0], row[3], row[4], strings.TrimSuffix(strings.TrimSpace(row[6]), ".0")
		if cust == "" || qty == "0" || date >= cutoff || seen[no] {
			continue
		}
		seen[no] = true
		if strings.HasPrefix(no, "C") {
			refunds[cust]++
		} else {
			purchases[cust]++
		}
	}
	return purchases, refunds
}

func members(t *testing.T, rdb *redis.Client, prefix, segment string) []string {
	t.Helper()
	m, err := rdb.ZRange(context.Background(), keyspace.NewKeys(prefix).Members(segment), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func usersWhere(p, r map[string]int, cond func(p, r int) bool) []string {
	all := map[string]bool{}
	for u := range p {
		all[u] = true
	}
	for u := range r {
		all[u] = true
	}
	var out []string
	for u := range all {
		if cond(p[u], r[u]) {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// changesOf reads segments.changes with kcat and keeps one segment's.
func changesOf(t *testing.T, addr, segment string) (entered, exited map[string]label.Change) {
	t.Helper()
	entered, exited = map[string]label.Change{}, map[string]label.Change{}
	for _, l := range kcatRead(t, addr, "segments.changes") {
		parts := strings.SplitN(l, "\t", 3)
		var c label.Change
		if err := json.Unmarshal([]byte(parts[2]), &c); err != nil {
			t.Fatal(err)
		}
		if c.Segment != segment {
			continue
		}
		if c.Change == label.Entered {
			entered[c.UserID] = c
		} else {
			exited[c.UserID] = c
		}
	}
	return entered, exited
}

func define(t *testing.T, addr string, yaml string) segments.Definition {
	t.Helper()
	defs, err := segments.ParseFile([]byte(yaml), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := segments.Publish(context.Background(), []string{addr}, secure.Kafka{}, "segments.definitions", defs, nil); err != nil {
		t.Fatal(err)
	}
	return defs[0]
}

// Definitions changed on the topic while the service runs: a new one is
// backfilled over every profile (its members equal a direct computation
// from the raw data file), a change publishes the exits, a bad one is
// refused and the previous one stays live, a tombstone removes it; every
// change read back with kcat carries the definition's version and the
// values its rule read.
func TestSegmentDefinitionsOnTheTopic(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.Kafka(t, 3)
	rdb, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "segdefs", "SEGSTREAM_LABELS_ENCODE=false")
	const cutoff = "2010-12-08"
	items, _, err := replay.ReadRetail([]string{retailFile()}, replay.RetailOptions{Until: time.Date(2010, 12, 8, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, it := range items {
		users[it.Event.UserID] = true
		sendEvents(t, addr, it.Event)
	}
	waitAllLabelled(t, s, users)
	if dlq := testkit.ReadTopicIfAny(t, addr, "events.dlq"); len(dlq) != 0 {
		t.Fatalf("%d events went to the DLQ: the direct computation assumes none", len(dlq))
	}
	purchases, refunds := invoiceCounts(t, cutoff)
	if len(usersWhere(purchases, refunds, func(p, r int) bool { return true })) != len(users) {
		t.Fatalf("the raw file has %d customers before %s, the replay sent %d", len(purchases), cutoff, len(users))
	}

	waitMembers := func(seg string, want []string) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, func() error {
			got := members(t, rdb, prefix, seg)
			if q := queued(s); q != 0 || strings.Join(got, ",") != strings.Join(want, ",") {
				return errors.New(seg + ": " + strconv.Itoa(len(got)) + " members, want " + strconv.Itoa(len(want)) + "; queued " + strconv.FormatInt(q, 10))
			}
			return nil
		})
	}

	// 1. a new definition, with a composition on it
	v1 := define(t, addr, `
segments:
  - name: repeat_buyer
    enter: count("purchase") >= 2
`)
	define(t, addr, `
segments:
  - name: repeat_refunder
    enter: segment("repeat_buyer") && count("refund") >= 1
`)
	want1 := usersWhere(purchases, refunds, func(p, r int) bool { return p >= 2 })
	waitMembers("repeat_buyer", want1)
	waitMembers("repeat_refunder", usersWhere(purchases, refunds, func(p, r int) bool { return p >= 2 && r >= 1 }))
	if len(want1) < 20 {
		t.Fatalf("only %d repeat buyers: the test needs more", len(want1))
	}
	if n := metric(t, s.Registry, "segstream_labels_backfill_users_total"); n < float64(2*len(users)) {
		t.Errorf("backfill queued %v users, want at least %d (two definitions)", n, 2*len(users))
	}
	entered, _ := changesOf(t, addr, "repeat_buyer")
	if len(entered) != len(want1) {
		t.Fatalf("%d entries on segments.changes, want %d", len(entered), len(want1))
	}
	for _, u := range want1 {
		c := entered[u]
		if c.Definition != v1.Version || len(c.Reasons) == 0 || c.Reasons[0].Input != `count("purchase")` || c.Reasons[0].Value != float64(purchases[u]) {
			t.Fatalf("entry of %s: %+v (want version %s and count(\"purchase\") = %d)", u, c, v1.Version, purchases[u])
		}
	}

	// 2. a changed definition: those below the new bar exit
	v2 := define(t, addr, `
segments:
  - name: repeat_buyer
    enter: count("purchase") >= 3
`)
	want2 := usersWhere(purchases, refunds, func(p, r int) bool { return p >= 3 })
	waitMembers("repeat_buyer", want2)
	_, exited := changesOf(t, addr, "repeat_buyer")
	if len(exited) != len(want1)-len(want2) {
		t.Fatalf("%d exits, want %d", len(exited), len(want1)-len(want2))
	}
	for u, c := range exited {
		if c.Definition != v2.Version || purchases[u] != 2 || len(c.Reasons) == 0 || c.Reasons[0].Value != 2 {
			t.Fatalf("exit of %s (%d purchases): %+v", u, purchases[u], c)
		}
	}

	// 3. a bad definition is refused; the previous version stays live
	refused := metric(t, s.Registry, "segstream_segments_refused_total")
	w := testkit.Writer(addr, "segments.definitions")
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte("repeat_buyer"),
		Value: []byte("name: repeat_buyer\nenter: count(\"purchase\") >= \"3\"\n")}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	testkit.WaitFor(t, 30*time.Second, func() error {
		if metric(t, s.Registry, "segstream_segments_refused_total") <= refused {
			return errors.New("not refused yet")
		}
		return nil
	})
	if d, ok := s.Segments.Set().Lookup("repeat_buyer"); !ok || d.Version != v2.Version {
		t.Fatalf("after a refused change repeat_buyer is %+v, want version %s", d, v2.Version)
	}
	waitMembers("repeat_buyer", want2)

	// 4. a tombstone removes the segment: every member exits (its
	// dependent goes with it: deleting it alone would be refused)
	if err := segments.Publish(context.Background(), []string{addr}, secure.Kafka{}, "segments.definitions", nil, []string{"repeat_refunder", "repeat_buyer"}); err != nil {
		t.Fatal(err)
	}
	waitMembers("repeat_buyer", nil)
	_, exited = changesOf(t, addr, "repeat_buyer")
	if len(exited) != len(want1) {
		t.Fatalf("%d exits after the tombstone, want %d", len(exited), len(want1))
	}
	if _, ok := s.Segments.Set().Lookup("repeat_buyer"); ok {
		t.Fatal("repeat_buyer still defined after its tombstone")
	}
}

// A user labelled by an earlier version (its state from the built-in
// rules, no member index) is in the index of every segment it holds once
// the new version has looked at it (the start-up backfill does).
func TestUpgradedRecordJoinsTheMemberIndex(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.Kafka(t, 1)
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := &events.Event{EventID: "o1", Type: events.TypePurchase, UserID: "old", TS: ts, OrderID: "o1", Currency: "GBP",
		Items: []events.Item{{ProductID: "p", Description: "JUMBO BAG RED RETROSPOT", Quantity: 10, UnitPrice: 1.95}}}
	if _, err := store.Fold(ctx, []events.Record{{Event: ev, Source: "old/0", Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	k := keyspace.NewKeys(prefix)
	rdb.Del(ctx, k.Changes()) // labelled long ago, nothing pending
	legacy := `{"decided":true,"at_risk":true,"at_risk_since":"2011-03-01T10:00:00Z","tier":0,"tier_since":"2011-03-01T10:00:00Z"}`
	if err := rdb.HSet(ctx, k.Label("old"), "ver", "1", "published", "1", "state", legacy,
		"doc", `{"user_id":"old","version":1,"segments":["new","at_risk","low_value"]}`).Err(); err != nil {
		t.Fatal(err)
	}
	s := startService(t, addr, prefix, "upgrade", "SEGSTREAM_LABELS_ENCODE=false")
	testkit.WaitFor(t, 60*time.Second, func() error {
		d, _, err := s.Labels.Label(ctx, "old")
		if err != nil {
			return fmt.Errorf("no label: %w", err)
		}
		if d == nil {
			return errors.New("no label yet")
		}
		for _, seg := range d.Segments {
			if !has(members(t, rdb, prefix, seg), "old") {
				return fmt.Errorf("old holds %v, not in the index of %s yet", d.Segments, seg)
			}
		}
		return nil
	})
}
