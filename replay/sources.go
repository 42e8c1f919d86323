// Package replay turns data files into input events: the UCI Online Retail
// files (both column layouts), the REES46 clickstream sample, and JSON lines
// in the event format. Sources yield events in event-time order; the Kafka
// sender (send.go) publishes them as fast as possible or at a speed factor,
// with a progress bar and a summary.
//
// The same readers feed `segstream replay`, the tests that check profiles
// against the CSV, and training (which folds history with the featurestore
// code itself).
package replay

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Online Retail times are UK local time

	"github.com/segstream/segstream/events"
)

// Item is one event ready to send: the topic family, key and encoded value.
// Event is set for sources that build events (CSV); JSON-lines items carry
// the raw line and a nil Event.
type Item struct {
	Family events.Family
	Key    string
	Value  []byte
	TS     time.Time // event time, zero when unknown (unparseable JSON line)
	Event  *events.Event
}

// Stats counts what a source read and skipped.
type Stats struct {
	Rows            int            // data rows (or lines) read
	Events          int            // events produced
	Skipped         map[string]int // rows not turned into events, by reason
	ByType          map[string]int // events by type
	FirstTS, LastTS time.Time
}

func newStats() Stats { return Stats{Skipped: map[string]int{}, ByType: map[string]int{}} }

func (s *Stats) add(it *Item) {
	s.Events++
	if it.Event != nil {
		s.ByType[it.Event.Type.String()]++
	}
	if !it.TS.IsZero() {
		if s.FirstTS.IsZero() || it.TS.Before(s.FirstTS) {
			s.FirstTS = it.TS
		}
		if it.TS.After(s.LastTS) {
			s.LastTS = it.TS
		}
	}
}

// Format names a source format.
type Format string

// Source formats.
const (
	FormatRetail Format = "retail" // UCI Online Retail / Online Retail II CSV (.csv or .csv.gz)
	FormatREES46 Format = "rees46" // REES46 clickstream CSV
	FormatJSONL  Format = "jsonl"  // one event (JSON) per line
)

// DetectFormat guesses the format from a file's header line.
func DetectFormat(path string) (Format, error) {
	r, closeFn, err := open(path, nil)
	if err != nil {
		return "", err
	}
	defer closeFn()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	line = strings.TrimPrefix(strings.TrimSpace(line), "\ufeff")
	switch {
	case strings.HasPrefix(line, "{"):
		return FormatJSONL, nil
	case strings.Contains(line, "StockCode") && strings.Contains(line, "InvoiceDate"):
		return FormatRetail, nil
	case strings.HasPrefix(line, "event_time,event_type"):
		return FormatREES46, nil
	}
	return "", fmt.Errorf("%s: unknown format (header %q); expected Online Retail CSV, REES46 CSV or JSON lines", path, clipStr(line, 80))
}

func clipStr(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// countingReader counts compressed bytes read, for progress.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n != nil {
		*c.n += int64(n)
	}
	return n, err
}

// open opens a plain or gzip file; read counts the bytes read from disk.
func open(path string, read *int64) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening data file: %w", err)
	}
	var r io.Reader = countingReader{r: bufio.NewReaderSize(f, 1<<16), n: read}
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			_ = f.Close() // read-only: nothing to lose
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		r = gz
	}
	return r, func() { _ = f.Close() }, nil // read-only: nothing to lose
}

var london = mustLoc("Europe/London")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// RetailOptions tune the Online Retail reader.
type RetailOptions struct {
	// Until, when set, drops invoices at or after this time (point-in-time
	// folds for training).
	Until time.Time
	// Read, when set, is incremented with the bytes read from disk.
	Read *int64
}

type invoice struct {
	no    string
	cust  string
	ts    time.Time
	items []events.Item
	order int
}

// ReadRetail reads one or more Online Retail files in the order given and
// returns their purchase and refund events in event-time order. Invoices
// already seen in an earlier file are skipped (the two UCI files overlap on
// 2010-12-01..09); cancellations (invoice numbers starting with C) become
// refunds with positive quantities; rows without a customer id are skipped
// and counted. Rows of one invoice need not be contiguous.
func ReadRetail(paths []string, opt RetailOptions) ([]Item, Stats, error) {
	st := newStats()
	seen := map[string]bool{}
	var all []*invoice
	seq := 0
	for _, path := range paths {
		fileInv, err := readRetailFile(path, opt, seen, &st, &seq)
		if err != nil {
			return nil, st, err
		}
		for no := range fileInv {
			seen[no] = true
		}
		for _, inv := range fileInv {
			all = append(all, inv)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].ts.Equal(all[j].ts) {
			return all[i].ts.Before(all[j].ts)
		}
		return all[i].order < all[j].order
	})
	items := make([]Item, 0, len(all))
	for _, inv := range all {
		ev := &events.Event{
			EventID:  "retail-" + inv.no,
			Type:     events.TypePurchase,
			UserID:   inv.cust,
			TS:       inv.ts,
			OrderID:  inv.no,
			Currency: "GBP",
			Items:    inv.items,
		}
		if strings.HasPrefix(inv.no, "C") {
			ev.Type = events.TypeRefund
		}
		v, err := events.Encode(ev)
		if err != nil {
			return nil, st, err
		}
		it := Item{Family: events.FamilyPurchase, Key: ev.UserID, Value: v, TS: ev.TS, Event: ev}
		st.add(&it)
		items = append(items, it)
	}
	return items, st, nil
}

func readRetailFile(path string, opt RetailOptions, seenBefore map[string]bool, st *Stats, orderSeq *int) (map[string]*invoice, error) {
	r, closeFn, err := open(path, opt.Read)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(h, "\ufeff")] = i
	}
	pick := func(names ...string) (int, error) {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%s: no column %s in header %v", path, strings.Join(names, " or "), header)
	}
	var ci [7]int
	for i, names := range [][]string{{"Invoice", "InvoiceNo"}, {"StockCode"}, {"Description"}, {"Quantity"}, {"InvoiceDate"}, {"Price", "UnitPrice"}, {"Customer ID", "CustomerID"}} {
		if ci[i], err = pick(names...); err != nil {
			return nil, err
		}
	}
	invs := map[string]*invoice{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		st.Rows++
		no := rec[ci[0]]
		if seenBefore[no] {
			st.Skipped["overlap_duplicate_invoice"]++
			continue
		}
		cust := strings.TrimSuffix(strings.TrimSpace(rec[ci[6]]), ".0")
		if cust == "" {
			st.Skipped["no_customer_id"]++
			continue
		}
		qty, err1 := strconv.ParseInt(rec[ci[3]], 10, 64)
		price, err2 := strconv.ParseFloat(rec[ci[5]], 64)
		ts, err3 := time.ParseInLocation("2006-01-02 15:04:05", rec[ci[4]], london)
		if err3 != nil {
			ts, err3 = time.ParseInLocation("2006-01-02 15:04", rec[ci[4]], london)
		}
		if err1 != nil || err2 != nil || err3 != nil {
			st.Skipped["unparseable_row"]++
			continue
		}
		if !opt.Until.IsZero() && !ts.Before(opt.Until) {
			st.Skipped["after_cutoff"]++
			continue
		}
		if qty < 0 {
			qty = -qty // cancellations carry negative quantities; the refund says so
		}
		if qty == 0 {
			st.Skipped["zero_quantity"]++
			continue
		}
		inv := invs[no]
		if inv == nil {
			*orderSeq++
			inv = &invoice{no: no, cust: cust, ts: ts.UTC(), order: *orderSeq}
			invs[no] = inv
		}
		inv.items = append(inv.items, events.Item{
			ProductID:   rec[ci[1]],
			Description: rec[ci[2]],
			Quantity:    qty,
			UnitPrice:   price,
		})
	}
	return invs, nil
}

// ReadREES46 reads the REES46 clickstream CSV: view → view, cart →
// add_to_cart, remove_from_cart → remove_from_cart, purchase → a purchase of
// one item.
func ReadREES46(path string, read *int64) ([]Item, Stats, error) {
	st := newStats()
	r, closeFn, err := open(path, read)
	if err != nil {
		return nil, st, err
	}
	defer closeFn()
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, st, fmt.Errorf("%s: reading header: %w", path, err)
	}
	if len(header) < 9 || header[0] != "event_time" {
		return nil, st, fmt.Errorf("%s: not a REES46 file (header %v)", path, header)
	}
	var items []Item
	line := 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, st, fmt.Errorf("%s: %w", path, err)
		}
		line++
		st.Rows++
		ts, err := time.Parse("2006-01-02 15:04:05 MST", rec[0])
		price, perr := strconv.ParseFloat(rec[6], 64)
		if err != nil || perr != nil || rec[7] == "" {
			st.Skipped["unparseable_row"]++
			continue
		}
		ev := &events.Event{
			EventID:   "rees46-" + filepath.Base(path) + "-" + strconv.Itoa(line),
			UserID:    rec[7],
			TS:        ts.UTC(),
			ProductID: rec[2],
			Category:  rec[4],
			Price:     price,
			SessionID: rec[8],
		}
		fam := events.FamilyClickstream
		switch rec[1] {
		case "view":
			ev.Type = events.TypeView
		case "cart":
			ev.Type = events.TypeAddToCart
		case "remove_from_cart":
			ev.Type = events.TypeRemoveFromCart
		case "purchase":
			fam = events.FamilyPurchase
			ev.Type = events.TypePurchase
			ev.OrderID = "rees46-order-" + strconv.Itoa(line)
			ev.Currency = "USD"
			desc := strings.TrimSpace(rec[5] + " " + strings.ReplaceAll(rec[4], ".", " "))
			ev.Items = []events.Item{{ProductID: rec[2], Description: desc, Category: rec[4], Quantity: 1, UnitPrice: price}}
			ev.ProductID, ev.Category, ev.Price, ev.SessionID = "", "", 0, ""
		default:
			st.Skipped["unknown_event_type"]++
			continue
		}
		v, err := events.Encode(ev)
		if err != nil {
			return nil, st, err
		}
		it := Item{Family: fam, Key: ev.UserID, Value: v, TS: ev.TS, Event: ev}
		st.add(&it)
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].TS.Before(items[j].TS) })
	return items, st, nil
}

// ReadJSONL reads one event per line. Lines are passed through unchanged
// (bad ones included: the consumer routes them to the DLQ with a reason);
// the key and topic come from user_id and type when they can be read, and
// the clickstream topic otherwise.
func ReadJSONL(path string, read *int64) ([]Item, Stats, error) {
	st := newStats()
	r, closeFn, err := open(path, read)
	if err != nil {
		return nil, st, err
	}
	defer closeFn()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var items []Item
	for sc.Scan() {
		raw := sc.Bytes()
		st.Rows++
		if len(strings.TrimSpace(string(raw))) == 0 {
			st.Skipped["blank_line"]++
			continue
		}
		var head struct {
			Type   any    `json:"type"`
			UserID any    `json:"user_id"`
			TS     string `json:"ts"`
		}
		it := Item{Family: events.FamilyClickstream, Value: append([]byte(nil), raw...)}
		if json.Unmarshal(raw, &head) == nil {
			if s, ok := head.Type.(string); ok {
				if f := events.ParseType(s).Family(); f != events.FamilyUnknown {
					it.Family = f
				}
			}
			if s, ok := head.UserID.(string); ok {
				it.Key = s
			}
			it.TS, _ = time.Parse(time.RFC3339Nano, head.TS)
		}
		st.add(&it)
		if ev, derr := events.Decode(raw, events.DefaultLimits, time.Now()); derr == nil {
			st.ByType[ev.Type.String()]++
		} else {
			st.ByType["invalid:"+string(derr.Reason)]++
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, st, fmt.Errorf("%s: %w", path, err)
	}
	return items, st, nil
}
