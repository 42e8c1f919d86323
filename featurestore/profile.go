package featurestore

import (
	"sort"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/segstream/segstream/events"
)

// Limits bound the size of one profile. Zero fields take the defaults in
// DefaultLimits; the same limits must be used by every writer of a key
// prefix (they shape what is kept, not how it is encoded).
type Limits struct {
	// RetentionDays is how many days of daily buckets are kept behind the
	// newest event; windows longer than this cannot be answered. Default 90.
	RetentionDays int `yaml:"retention_days"`
	// TextRingBytes caps the bytes of all texts kept in the ring. Default 1024.
	TextRingBytes int `yaml:"text_ring_bytes"`
	// TextEntryBytes caps one text (cut on a rune boundary). Default 256.
	TextEntryBytes int `yaml:"text_entry_bytes"`
	// TopCategories is how many categories are tracked (space-saving). Default 8.
	TopCategories int `yaml:"top_categories"`
	// DedupWindow is how many recent event ids per user are remembered to
	// drop producer-retry duplicates that arrive at new offsets. Default 32.
	DedupWindow int `yaml:"dedup_window"`
	// MaxPurchaseDays is how many distinct purchase days are kept exactly;
	// older ones are only counted. Default 400.
	MaxPurchaseDays int `yaml:"max_purchase_days"`
}

// DefaultLimits are the profile limits used for zero fields of Limits.
var DefaultLimits = Limits{RetentionDays: 90, TextRingBytes: 1024, TextEntryBytes: 256, TopCategories: 8, DedupWindow: 32, MaxPurchaseDays: 400}

// WithDefaults returns l with zero fields taken from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.RetentionDays > 0 {
		d.RetentionDays = l.RetentionDays
	}
	if l.TextRingBytes > 0 {
		d.TextRingBytes = l.TextRingBytes
	}
	if l.TextEntryBytes > 0 {
		d.TextEntryBytes = l.TextEntryBytes
	}
	if l.TopCategories > 0 {
		d.TopCategories = l.TopCategories
	}
	if l.DedupWindow > 0 {
		d.DedupWindow = l.DedupWindow
	}
	if l.MaxPurchaseDays > 0 {
		d.MaxPurchaseDays = l.MaxPurchaseDays
	}
	return d
}

// Bucket holds one UTC day of activity.
type Bucket struct {
	Day         int32                   // days since 1970-01-01 (UTC)
	Counts      [events.NumTypes]uint32 // events per type that day
	SpendCents  int64                   // purchase amounts that day
	RefundCents int64                   // refund amounts that day
	// ReviewsScored counts that day's reviews with a known sentiment
	// (events.Event.Sentiment), ReviewsNegative those of them negative.
	ReviewsScored   uint32
	ReviewsNegative uint32
}

// CategoryCount is one entry of the top-categories summary.
type CategoryCount struct {
	Category string
	Count    uint64
	// Err is the space-saving overestimate bound: the true count is in
	// [Count-Err, Count].
	Err uint64
}

// TextKind says where a text in the ring came from.
type TextKind uint8

// Text kinds.
const (
	TextPurchase TextKind = 1 // an item description of a purchase
	TextReview   TextKind = 2 // a review text
	TextSearch   TextKind = 3 // a search query
)

func (k TextKind) String() string {
	switch k {
	case TextPurchase:
		return "purchase"
	case TextReview:
		return "review"
	case TextSearch:
		return "search"
	}
	return "unknown"
}

// TextEntry is one scrubbed text in the ring.
type TextEntry struct {
	TS   int64 // event time, unix seconds
	Kind TextKind
	Text string
	// Lang is the language the producer declared for the text (a review's
	// `lang`); empty: the encoder detects it from the script.
	Lang string
}

// SourceMark is the highest offset of one input partition applied to this
// profile. Because every event of a user on a partition lands on the same
// profile in offset order, an event at or below the mark was already
// applied: this is what makes redelivery after a rebalance or crash
// harmless, atomically with the profile write itself.
type SourceMark struct {
	Source string // "topic/partition"
	Offset int64
}

// Profile is the rolling per-user state folded from events. All times are
// event times in unix seconds (UTC). The zero Profile is an empty profile.
type Profile struct {
	UserID string
	// Rev is the compare-and-set revision of the stored record; it changes on
	// every successful write.
	Rev uint64

	FirstSeen int64
	LastSeen  int64
	Counts    [events.NumTypes]uint64 // all-time events per type
	Buckets   []Bucket                // ascending Day, within RetentionDays of LastSeen

	SpendCents    int64 // gross purchases
	RefundCents   int64 // refunded amount
	UnitsBought   int64
	FirstPurchase int64 // 0 if never
	LastPurchase  int64 // 0 if never
	// PurchaseDays are the distinct UTC days with a purchase, ascending;
	// PurchaseDaysDropped counts older days no longer listed.
	PurchaseDays        []int32
	PurchaseDaysDropped uint32

	RatingCount uint32
	RatingSum   uint32

	Categories []CategoryCount // top categories, descending Count
	Texts      []TextEntry     // newest first, bounded by Limits.TextRingBytes
	TextHash   uint64          // hash of Texts' contents in order; 0 when empty

	Sources   []SourceMark
	RecentIDs []uint64 // ring of xxhash64(event_id)
	RecentPos uint16   // next slot of RecentIDs to overwrite once full

	// ErasedAt is set (unix seconds, wall clock) when the user was erased:
	// the record is then a tombstone that keeps only the user id, and every
	// later event for the user is dropped, so a replay or a late event cannot
	// bring the user back.
	ErasedAt int64
}

// Mark identifies where an event was read: source "topic/partition" and
// offset. A zero Mark (empty Source) disables offset skipping, as when
// folding history for training.
type Mark struct {
	Source string
	Offset int64
}

// MarkOf is the mark of a record: where it was read from.
func MarkOf(r events.Record) Mark { return Mark{Source: r.Source, Offset: r.Offset} }

// Outcome says what Apply did with an event.
type Outcome uint8

// Outcomes of Apply.
const (
	Applied       Outcome = iota
	SkippedOffset         // at or below the partition mark: already applied
	SkippedDupID          // event_id seen recently: producer retry
	SkippedErased         // the user was erased
)

const secondsPerDay = 86400

func dayOf(unix int64) int32 {
	if unix >= 0 {
		return int32(unix / secondsPerDay)
	}
	return int32((unix - secondsPerDay + 1) / secondsPerDay)
}

// Apply folds one event into the profile. It is deterministic: the same
// events applied in the same order give the same profile. scrub is applied
// to every text before it is kept.
func (p *Profile) Apply(ev *events.Event, m Mark, lim Limits) Outcome {
	if p.ErasedAt != 0 {
		return SkippedErased
	}
	if m.Source != "" {
		for i := range p.Sources {
			if p.Sources[i].Source == m.Source {
				if m.Offset <= p.Sources[i].Offset {
					return SkippedOffset
				}
				p.Sources[i].Offset = m.Offset
				goto marked
			}
		}
		p.Sources = append(p.Sources, SourceMark(m))
	}
marked:
	idh := xxhash.Sum64String(ev.EventID)
	for _, h := range p.RecentIDs {
		if h == idh {
			return SkippedDupID
		}
	}
	if len(p.RecentIDs) < lim.DedupWindow {
		p.RecentIDs = append(p.RecentIDs, idh)
	} else if len(p.RecentIDs) > 0 {
		p.RecentIDs[int(p.RecentPos)%len(p.RecentIDs)] = idh
		p.RecentPos = uint16((int(p.RecentPos) + 1) % len(p.RecentIDs))
	}

	if p.UserID == "" {
		p.UserID = ev.UserID
	}
	ts := ev.TS.Unix()
	if p.FirstSeen == 0 || ts < p.FirstSeen {
		p.FirstSeen = ts
	}
	if ts > p.LastSeen {
		p.LastSeen = ts
	}
	p.Counts[ev.Type]++

	var amount int64
	switch ev.Type {
	case events.TypePurchase, events.TypeRefund:
		amount = ev.Amount()
	}
	if b := p.bucket(dayOf(ts), lim); b != nil {
		b.Counts[ev.Type]++
		switch ev.Type {
		case events.TypePurchase:
			b.SpendCents += amount
		case events.TypeRefund:
			b.RefundCents += amount
		case events.TypeReview:
			if ev.Sentiment != events.SentimentUnknown {
				b.ReviewsScored++
				if ev.Sentiment == events.SentimentNegative {
					b.ReviewsNegative++
				}
			}
		}
	}
	p.pruneBuckets(lim)

	switch ev.Type {
	case events.TypeView, events.TypeAddToCart, events.TypeRemoveFromCart:
		p.addCategory(ev.Category, lim)
	case events.TypeSearch:
		p.addText(ts, TextSearch, ev.Query, "", lim)
	case events.TypePurchase:
		p.SpendCents += amount
		if p.FirstPurchase == 0 || ts < p.FirstPurchase {
			p.FirstPurchase = ts
		}
		if ts > p.LastPurchase {
			p.LastPurchase = ts
		}
		p.addPurchaseDay(dayOf(ts), lim)
		for i := range ev.Items {
			it := &ev.Items[i]
			p.UnitsBought += it.Quantity
			p.addCategory(it.Category, lim)
			p.addText(ts, TextPurchase, it.Description, "", lim)
		}
	case events.TypeRefund:
		p.RefundCents += amount
	case events.TypeReview:
		p.RatingCount++
		p.RatingSum += uint32(ev.Rating)
		p.addText(ts, TextReview, ev.Text, clipLang(ev.Lang), lim)
	}
	return Applied
}

// bucket returns the bucket for day, creating it, or nil when the day is
// already outside the retention horizon (a very late event: it still counts
// in the all-time totals).
func (p *Profile) bucket(day int32, lim Limits) *Bucket {
	if day <= dayOf(p.LastSeen)-int32(lim.RetentionDays) {
		return nil
	}
	i := sort.Search(len(p.Buckets), func(i int) bool { return p.Buckets[i].Day >= day })
	if i < len(p.Buckets) && p.Buckets[i].Day == day {
		return &p.Buckets[i]
	}
	p.Buckets = append(p.Buckets, Bucket{})
	copy(p.Buckets[i+1:], p.Buckets[i:])
	p.Buckets[i] = Bucket{Day: day}
	return &p.Buckets[i]
}

// pruneBuckets expires buckets that no window can reach any more.
func (p *Profile) pruneBuckets(lim Limits) {
	horizon := dayOf(p.LastSeen) - int32(lim.RetentionDays)
	n := 0
	for n < len(p.Buckets) && p.Buckets[n].Day <= horizon {
		n++
	}
	if n > 0 {
		p.Buckets = append(p.Buckets[:0], p.Buckets[n:]...)
	}
}

func (p *Profile) addPurchaseDay(day int32, lim Limits) {
	i := sort.Search(len(p.PurchaseDays), func(i int) bool { return p.PurchaseDays[i] >= day })
	if i < len(p.PurchaseDays) && p.PurchaseDays[i] == day {
		return
	}
	if i == 0 && p.PurchaseDaysDropped > 0 && len(p.PurchaseDays) >= lim.MaxPurchaseDays {
		// Older than everything kept and the list is full: it may or may not
		// be a dropped day; count it as new (documented approximation).
		p.PurchaseDaysDropped++
		return
	}
	p.PurchaseDays = append(p.PurchaseDays, 0)
	copy(p.PurchaseDays[i+1:], p.PurchaseDays[i:])
	p.PurchaseDays[i] = day
	for len(p.PurchaseDays) > lim.MaxPurchaseDays {
		p.PurchaseDays = p.PurchaseDays[1:]
		p.PurchaseDaysDropped++
	}
}

// addCategory keeps the top categories with the space-saving algorithm
// (Metwally et al.): bounded memory, exact while fewer than TopCategories
// distinct categories were seen.
func (p *Profile) addCategory(cat string, lim Limits) {
	if cat == "" {
		return
	}
	for i := range p.Categories {
		if p.Categories[i].Category == cat {
			p.Categories[i].Count++
			p.sortCategories()
			return
		}
	}
	if len(p.Categories) < lim.TopCategories {
		p.Categories = append(p.Categories, CategoryCount{Category: cat, Count: 1})
		p.sortCategories()
		return
	}
	last := &p.Categories[len(p.Categories)-1]
	*last = CategoryCount{Category: cat, Count: last.Count + 1, Err: last.Count}
	p.sortCategories()
}

func (p *Profile) sortCategories() {
	sort.SliceStable(p.Categories, func(i, j int) bool {
		a, b := p.Categories[i], p.Categories[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Category < b.Category
	})
}

// addText scrubs and inserts a text, newest first. A text already in the
// ring moves to its newer time instead of being kept twice.
func (p *Profile) addText(ts int64, kind TextKind, text, lang string, lim Limits) {
	text = truncateUTF8(Scrub(normalizeSpace(text)), lim.TextEntryBytes)
	if text == "" {
		return
	}
	for i := range p.Texts {
		if p.Texts[i].Text == text && p.Texts[i].Lang == lang {
			if ts <= p.Texts[i].TS {
				return
			}
			p.Texts = append(p.Texts[:i], p.Texts[i+1:]...)
			break
		}
	}
	// position: newest first; ties keep arrival order (newer arrival first).
	i := sort.Search(len(p.Texts), func(i int) bool { return p.Texts[i].TS <= ts })
	p.Texts = append(p.Texts, TextEntry{})
	copy(p.Texts[i+1:], p.Texts[i:])
	p.Texts[i] = TextEntry{TS: ts, Kind: kind, Text: text, Lang: lang}
	total := 0
	for j := range p.Texts {
		total += len(p.Texts[j].Text)
		if total > lim.TextRingBytes {
			p.Texts = p.Texts[:j]
			break
		}
	}
	p.TextHash = hashTexts(p.Texts)
}

func hashTexts(ts []TextEntry) uint64 {
	if len(ts) == 0 {
		return 0
	}
	d := xxhash.New()
	for _, t := range ts {
		_, _ = d.WriteString(t.Text)
		_, _ = d.Write([]byte{0})
		if t.Lang != "" { // a declared language routes the text: part of what was encoded
			_, _ = d.WriteString(t.Lang)
			_, _ = d.Write([]byte{1})
		}
	}
	return d.Sum64()
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Window sums the buckets of the `days` days ending on asOf's day
// (inclusive). days above Limits.RetentionDays only see what is retained.
func (p *Profile) Window(asOf time.Time, days int) Bucket {
	end := dayOf(asOf.Unix())
	start := end - int32(days) + 1
	var w Bucket
	for i := range p.Buckets {
		b := &p.Buckets[i]
		if b.Day < start || b.Day > end {
			continue
		}
		for t := range b.Counts {
			w.Counts[t] += b.Counts[t]
		}
		w.SpendCents += b.SpendCents
		w.RefundCents += b.RefundCents
		w.ReviewsScored += b.ReviewsScored
		w.ReviewsNegative += b.ReviewsNegative
	}
	return w
}

// NegativeReviewShare is the share of negative reviews among the reviews
// with a known sentiment in a window (0 without any).
func (w Bucket) NegativeReviewShare() float64 {
	if w.ReviewsScored == 0 {
		return 0
	}
	return float64(w.ReviewsNegative) / float64(w.ReviewsScored)
}

// clipLang keeps a declared language code short (the decoder bounds it by
// the identifier limit; a profile keeps at most 16 bytes of it).
func clipLang(l string) string {
	if len(l) > 16 {
		return l[:16]
	}
	return l
}

// DistinctPurchaseDays is the number of distinct UTC days with a purchase.
func (p *Profile) DistinctPurchaseDays() int {
	return len(p.PurchaseDays) + int(p.PurchaseDaysDropped)
}

// Orders is the number of purchase events.
func (p *Profile) Orders() uint64 { return p.Counts[events.TypePurchase] }

// AvgOrderCents is the average purchase amount, 0 without purchases.
func (p *Profile) AvgOrderCents() float64 {
	if p.Orders() == 0 {
		return 0
	}
	return float64(p.SpendCents) / float64(p.Orders())
}

// RatingMean is the mean review rating, 0 without reviews.
func (p *Profile) RatingMean() float64 {
	if p.RatingCount == 0 {
		return 0
	}
	return float64(p.RatingSum) / float64(p.RatingCount)
}

// Clone returns a deep copy.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Buckets = append([]Bucket(nil), p.Buckets...)
	c.PurchaseDays = append([]int32(nil), p.PurchaseDays...)
	c.Categories = append([]CategoryCount(nil), p.Categories...)
	c.Texts = append([]TextEntry(nil), p.Texts...)
	c.Sources = append([]SourceMark(nil), p.Sources...)
	c.RecentIDs = append([]uint64(nil), p.RecentIDs...)
	return &c
}
