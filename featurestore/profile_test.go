package featurestore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
)

var lim = DefaultLimits

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func purchase(id, ts string, items ...events.Item) *events.Event {
	return &events.Event{EventID: id, Type: events.TypePurchase, UserID: "u", TS: at(ts), OrderID: id, Currency: "GBP", Items: items}
}

func TestApplyWindowsAndLateEvents(t *testing.T) {
	p := &Profile{}
	it := events.Item{ProductID: "p", Description: "RED LAMP", Quantity: 2, UnitPrice: 1.5}
	p.Apply(purchase("a", "2011-03-10T10:00:00Z", it), Mark{}, lim)
	p.Apply(purchase("b", "2011-03-01T10:00:00Z", it), Mark{}, lim) // late, 9 days earlier
	p.Apply(purchase("c", "2010-01-01T10:00:00Z", it), Mark{}, lim) // very late: beyond retention
	p.Apply(&events.Event{EventID: "d", Type: events.TypeRefund, UserID: "u", TS: at("2011-03-09T00:00:00Z"), Items: []events.Item{{ProductID: "p", Quantity: 1, UnitPrice: 1.5}}}, Mark{}, lim)

	asOf := at("2011-03-10T23:00:00Z")
	if w := p.Window(asOf, 7); w.Counts[events.TypePurchase] != 1 || w.SpendCents != 300 || w.Counts[events.TypeRefund] != 1 || w.RefundCents != 150 {
		t.Errorf("7d window = %+v", w)
	}
	if w := p.Window(asOf, 30); w.Counts[events.TypePurchase] != 2 || w.SpendCents != 600 {
		t.Errorf("30d window = %+v", w)
	}
	if w := p.Window(asOf, 90); w.Counts[events.TypePurchase] != 2 {
		t.Errorf("90d window must not see the 2010 event: %+v", w)
	}
	if p.Orders() != 3 || p.SpendCents != 900 || p.RefundCents != 150 || p.UnitsBought != 6 {
		t.Errorf("all-time totals: orders=%d spend=%d refund=%d units=%d", p.Orders(), p.SpendCents, p.RefundCents, p.UnitsBought)
	}
	if p.FirstSeen != at("2010-01-01T10:00:00Z").Unix() || p.FirstPurchase != p.FirstSeen || p.LastPurchase != at("2011-03-10T10:00:00Z").Unix() {
		t.Errorf("first/last: %d %d %d", p.FirstSeen, p.FirstPurchase, p.LastPurchase)
	}
	if p.DistinctPurchaseDays() != 3 {
		t.Errorf("purchase days = %d", p.DistinctPurchaseDays())
	}
	// Time passes: a later event expires the old buckets.
	p.Apply(&events.Event{EventID: "e", Type: events.TypeView, UserID: "u", TS: at("2011-09-01T00:00:00Z"), ProductID: "p", Category: "lamps"}, Mark{}, lim)
	for _, b := range p.Buckets {
		if b.Day <= dayOf(p.LastSeen)-int32(lim.RetentionDays) {
			t.Errorf("expired bucket kept: day %d", b.Day)
		}
	}
	if len(p.Buckets) != 1 {
		t.Errorf("buckets = %d, want 1", len(p.Buckets))
	}
}

func TestApplyOffsetsAndDuplicateIDs(t *testing.T) {
	p := &Profile{}
	ev := func(id string) *events.Event {
		return &events.Event{EventID: id, Type: events.TypeView, UserID: "u", TS: at("2011-03-10T10:00:00Z"), ProductID: "p"}
	}
	if o := p.Apply(ev("1"), Mark{"t/0", 5}, lim); o != Applied {
		t.Fatal(o)
	}
	if o := p.Apply(ev("2"), Mark{"t/0", 5}, lim); o != SkippedOffset {
		t.Fatalf("same offset: %v", o)
	}
	if o := p.Apply(ev("2"), Mark{"t/0", 4}, lim); o != SkippedOffset {
		t.Fatalf("older offset: %v", o)
	}
	if o := p.Apply(ev("1"), Mark{"t/0", 9}, lim); o != SkippedDupID {
		t.Fatalf("retried event id at a new offset: %v", o)
	}
	if o := p.Apply(ev("3"), Mark{"t/1", 0}, lim); o != Applied {
		t.Fatalf("other partition: %v", o)
	}
	// the dedup window is bounded
	for i := 0; i < 100; i++ {
		p.Apply(ev(fmt.Sprint("x", i)), Mark{}, lim)
	}
	if len(p.RecentIDs) != lim.DedupWindow {
		t.Fatalf("dedup window grew to %d", len(p.RecentIDs))
	}
	if o := p.Apply(ev("x99"), Mark{}, lim); o != SkippedDupID {
		t.Fatalf("recent id not remembered: %v", o)
	}
	if o := p.Apply(ev("x0"), Mark{}, lim); o != Applied {
		t.Fatalf("id outside the window should apply: %v", o)
	}
}

func TestTextRing(t *testing.T) {
	p := &Profile{}
	add := func(id, ts, text string) {
		p.Apply(&events.Event{EventID: id, Type: events.TypeReview, UserID: "u", TS: at(ts), ProductID: "p", Rating: 4, Text: text}, Mark{}, lim)
	}
	add("1", "2011-01-01T00:00:00Z", "mail me at jane.doe@example.com or +44 20 7946 0958, card 4111 1111 1111 1111")
	if got := p.Texts[0].Text; got != "mail me at [email] or [phone], card [card]" {
		t.Fatalf("scrubbed text = %q", got)
	}
	h1 := p.TextHash
	add("2", "2011-01-03T00:00:00Z", "newest")
	add("3", "2011-01-02T00:00:00Z", "middle (late)")
	if p.Texts[0].Text != "newest" || p.Texts[1].Text != "middle (late)" {
		t.Fatalf("ring order: %+v", p.Texts)
	}
	if p.TextHash == h1 {
		t.Fatal("text hash did not change")
	}
	h2 := p.TextHash
	add("4", "2010-01-01T00:00:00Z", "newest") // older duplicate: no change
	if p.TextHash != h2 || len(p.Texts) != 3 {
		t.Fatalf("older duplicate text changed the ring")
	}
	for i := 0; i < 200; i++ {
		add(fmt.Sprint("f", i), "2011-02-01T00:00:00Z", strings.Repeat("é", 200)+fmt.Sprint(i))
	}
	total := 0
	for _, tx := range p.Texts {
		total += len(tx.Text)
		if len(tx.Text) > lim.TextEntryBytes {
			t.Fatalf("entry of %d bytes", len(tx.Text))
		}
	}
	if total > lim.TextRingBytes {
		t.Fatalf("ring holds %d bytes, cap %d", total, lim.TextRingBytes)
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"WHITE HANGING HEART T-LIGHT HOLDER", "WHITE HANGING HEART T-LIGHT HOLDER"},
		{"SET OF 12 15CM GLASS BALLS 85123A", "SET OF 12 15CM GLASS BALLS 85123A"},
		{"order 536365 arrived 2010-12-01", "order 536365 arrived 2010-12-01"},
		{"call 07700 900123 please", "call [phone] please"},
		{"call +1 (415) 555-2671", "call [phone]"},
		{"x@y.co", "[email]"},
		{"card 4111-1111-1111-1111 ok", "card [card] ok"},
		{"card 4111111111111111", "card [card]"},
	} {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTopCategoriesBounded(t *testing.T) {
	p := &Profile{}
	for i := 0; i < 50; i++ {
		for j := 0; j <= i%5; j++ {
			p.Apply(&events.Event{EventID: fmt.Sprint(i, "-", j), Type: events.TypeView, UserID: "u", TS: at("2011-01-01T00:00:00Z"), ProductID: "p", Category: fmt.Sprint("c", i%12)}, Mark{}, lim)
		}
	}
	if len(p.Categories) != lim.TopCategories {
		t.Fatalf("%d categories kept", len(p.Categories))
	}
	for i := 1; i < len(p.Categories); i++ {
		if p.Categories[i].Count > p.Categories[i-1].Count {
			t.Fatal("not sorted")
		}
	}
}

// randomProfile folds random events, exercising every field.
func randomProfile(r *rand.Rand, n int) *Profile { return randomProfileOf(r, n, true) }

// randomProfileOf builds a profile of n random events; withV2 adds what
// codec version 2 added (review sentiments, declared languages).
func randomProfileOf(r *rand.Rand, n int, withV2 bool) *Profile {
	p := &Profile{}
	base := at("2011-01-01T00:00:00Z")
	for i := 0; i < n; i++ {
		ts := base.Add(time.Duration(r.IntN(200*24)) * time.Hour)
		ev := &events.Event{EventID: fmt.Sprint(i), UserID: "user-é", TS: ts}
		switch r.IntN(5) {
		case 0:
			ev.Type, ev.ProductID, ev.Category = events.TypeView, "p", fmt.Sprint("cat", r.IntN(12))
		case 1:
			ev.Type, ev.Query = events.TypeSearch, fmt.Sprint("query ", r.IntN(50))
		case 2:
			ev.Type, ev.Items = events.TypePurchase, []events.Item{{ProductID: "p", Description: fmt.Sprint("ITEM ", r.IntN(40)), Category: "c", Quantity: int64(1 + r.IntN(5)), UnitPrice: float64(r.IntN(1000)) / 100}}
		case 3:
			ev.Type, ev.Items = events.TypeRefund, []events.Item{{ProductID: "p", Quantity: 1, UnitPrice: 1.25}}
		case 4:
			ev.Type, ev.Rating, ev.Text = events.TypeReview, 1+r.IntN(5), fmt.Sprint("review text ", r.IntN(30))
			if withV2 {
				ev.Sentiment = events.Sentiment(i % 4)
				ev.Lang = []string{"", "zh", "en"}[i%3]
			}
		}
		p.Apply(ev, Mark{Source: fmt.Sprint("t/", r.IntN(3)), Offset: int64(i)}, lim)
	}
	p.Rev = r.Uint64()
	return p
}

func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5, 50, 500} {
		p := randomProfile(r, n)
		b := Marshal(p)
		q, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !reflect.DeepEqual(normalize(p), normalize(q)) {
			t.Fatalf("n=%d: round trip differs\n%+v\n%+v", n, p, q)
		}
		if string(Marshal(q)) != string(b) {
			t.Fatalf("n=%d: encoding not deterministic", n)
		}
		sq, err := unmarshalShared(b)
		if err != nil || !reflect.DeepEqual(normalize(q), normalize(sq)) {
			t.Fatalf("n=%d: the shared decode differs (%v)", n, err)
		}
		t.Logf("events=%d record=%d bytes", n, len(b))
	}
}

// TestCodecReadsVersion1 decodes a record the version-1 codec wrote
// (testdata/profile_v1.bin: randomProfileOf(PCG(7, 8), 60, false) marshalled
// by the build before version 2): it reads as the same profile, without
// sentiments or languages, and is written again as version 2.
func TestCodecReadsVersion1(t *testing.T) {
	b, err := os.ReadFile("testdata/profile_v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if b[revBytes] != 1 {
		t.Fatalf("fixture has codec version %d, want 1", b[revBytes])
	}
	q, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	p := randomProfileOf(rand.New(rand.NewPCG(7, 8)), 60, false)
	if !reflect.DeepEqual(normalize(p), normalize(q)) {
		t.Fatalf("version-1 record reads differently\nwant %+v\ngot  %+v", p, q)
	}
	if len(q.Texts) == 0 || q.Counts[events.TypeReview] == 0 {
		t.Fatal("fixture has no texts or reviews: it tests nothing")
	}
	again := Marshal(q)
	if again[revBytes] != codecVersion {
		t.Fatalf("rewritten as version %d", again[revBytes])
	}
	if r, err := Unmarshal(again); err != nil || !reflect.DeepEqual(normalize(r), normalize(q)) {
		t.Fatalf("version-2 rewrite: %v", err)
	}
}

// TestReviewSentimentWindows counts scored and negative reviews per window;
// a review without a sentiment counts in neither, and the text keeps its
// declared language.
func TestReviewSentimentWindows(t *testing.T) {
	p := &Profile{}
	rv := func(id, ts string, s events.Sentiment, text, lang string) *events.Event {
		return &events.Event{EventID: id, Type: events.TypeReview, UserID: "u", TS: at(ts), ProductID: "p", Rating: 3, Text: text, Lang: lang, Sentiment: s}
	}
	p.Apply(rv("1", "2011-01-01T10:00:00Z", events.SentimentNegative, "太差了", "zh"), Mark{}, lim)
	p.Apply(rv("2", "2011-03-01T10:00:00Z", events.SentimentPositive, "很好", ""), Mark{}, lim)
	p.Apply(rv("3", "2011-03-20T10:00:00Z", events.SentimentNegative, "broke after a day", "en"), Mark{}, lim)
	p.Apply(rv("4", "2011-03-21T10:00:00Z", events.SentimentUnknown, "", ""), Mark{}, lim)
	asOf := at("2011-03-25T00:00:00Z")
	w30, w90 := p.Window(asOf, 30), p.Window(asOf, 90)
	if w30.ReviewsScored != 2 || w30.ReviewsNegative != 1 || w30.NegativeReviewShare() != 0.5 {
		t.Errorf("30 days: scored %d negative %d", w30.ReviewsScored, w30.ReviewsNegative)
	}
	if w90.ReviewsScored != 3 || w90.ReviewsNegative != 2 {
		t.Errorf("90 days: scored %d negative %d", w90.ReviewsScored, w90.ReviewsNegative)
	}
	if (Bucket{}).NegativeReviewShare() != 0 {
		t.Error("share without reviews")
	}
	q, err := Unmarshal(Marshal(p))
	if err != nil {
		t.Fatal(err)
	}
	if w := q.Window(asOf, 30); w.ReviewsScored != 2 || w.ReviewsNegative != 1 {
		t.Errorf("after the codec: %+v", w)
	}
	langs := map[string]string{}
	for _, e := range q.Texts {
		langs[e.Text] = e.Lang
	}
	if langs["broke after a day"] != "en" || langs["很好"] != "" {
		t.Errorf("languages %v", langs)
	}
}

// normalize maps empty slices to nil for comparison.
func normalize(p *Profile) *Profile {
	c := p.Clone()
	if len(c.Buckets) == 0 {
		c.Buckets = nil
	}
	if len(c.PurchaseDays) == 0 {
		c.PurchaseDays = nil
	}
	if len(c.Categories) == 0 {
		c.Categories = nil
	}
	if len(c.Texts) == 0 {
		c.Texts = nil
	}
	if len(c.Sources) == 0 {
		c.Sources = nil
	}
	if len(c.RecentIDs) == 0 {
		c.RecentIDs = nil
	}
	return c
}

func FuzzUnmarshal(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 3, 40} {
		f.Add(Marshal(randomProfile(r, n)))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(b)
		if err != nil {
			return
		}
		// whatever decodes re-encodes to a record that decodes the same
		q, err := Unmarshal(Marshal(p))
		if err != nil || !reflect.DeepEqual(normalize(p), normalize(q)) {
			t.Fatalf("re-encode differs: %v", err)
		}
	})
}

func BenchmarkApply(b *testing.B) {
	ev := purchase("x", "2011-03-10T10:00:00Z", events.Item{ProductID: "p", Description: "WHITE HANGING HEART T-LIGHT HOLDER", Quantity: 6, UnitPrice: 2.55})
	p := randomProfile(rand.New(rand.NewPCG(5, 6)), 100)
	ids := make([]string, 1024) // more than the dedup window: every event applies
	for i := range ids {
		ids[i] = fmt.Sprint("id-", i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ev.EventID = ids[i%len(ids)]
		if p.Apply(ev, Mark{}, lim) != Applied {
			b.Fatal("not applied")
		}
	}
}

func BenchmarkCodec(b *testing.B) {
	p := randomProfile(rand.New(rand.NewPCG(5, 6)), 100)
	rec := Marshal(p)
	b.Run("op=marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Marshal(p)
		}
	})
	b.Run("op=unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Unmarshal(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnmarshal decodes a 500-event profile with copied strings
// (Unmarshal) and with strings shared with the record (the store's reads).
func BenchmarkUnmarshal(b *testing.B) {
	rec := Marshal(randomProfile(rand.New(rand.NewPCG(3, 4)), 500))
	for _, bc := range []struct {
		name string
		fn   func([]byte) (*Profile, error)
	}{{"copy", Unmarshal}, {"shared", unmarshalShared}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.fn(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewView builds the view of a 500-event profile: once per
// evaluated user in the label stage.
func BenchmarkNewView(b *testing.B) {
	p := randomProfile(rand.New(rand.NewPCG(3, 4)), 500)
	asOf := time.Unix(p.LastSeen, 0).Add(24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		_ = NewView(p, asOf)
	}
}

func TestHex16(t *testing.T) {
	for _, x := range []uint64{0, 1, 0xabc, 1<<63 | 5, ^uint64(0)} {
		if got, want := hex16(x), fmt.Sprintf("%016x", x); got != want {
			t.Errorf("hex16(%d) = %s, want %s", x, got, want)
		}
	}
	for _, d := range append([]int{365}, WindowDays...) {
		if got, want := windowName(d), fmt.Sprintf("%dd", d); got != want {
			t.Errorf("windowName(%d) = %s, want %s", d, got, want)
		}
	}
}
