package featurestore

import (
	"strconv"
	"time"

	"github.com/segstream/segstream/events"
)

// View is the JSON-friendly reading of a profile as of a point in event
// time: what `segstream profile USER --json` prints and what later stages
// compute features from.
type View struct {
	UserID         string                `json:"user_id"`
	AsOf           time.Time             `json:"as_of"`
	FirstSeen      time.Time             `json:"first_seen"`
	LastSeen       time.Time             `json:"last_seen"`
	TenureDays     float64               `json:"tenure_days"`
	Counts         map[string]uint64     `json:"counts"`
	Windows        map[string]WindowView `json:"windows"`
	RFM            RFMView               `json:"rfm"`
	Orders         uint64                `json:"orders"`
	AvgOrderValue  float64               `json:"avg_order_value"`
	Refunds        uint64                `json:"refunds"`
	RefundAmount   float64               `json:"refund_amount"`
	Units          int64                 `json:"units"`
	Ratings        RatingView            `json:"ratings"`
	TopCategories  []CategoryView        `json:"top_categories"`
	Texts          []TextView            `json:"texts"`
	TextHash       string                `json:"text_hash"`
	AppliedOffsets map[string]int64      `json:"applied_offsets"`
	Rev            string                `json:"rev"`
}

// WindowView is one rolling window.
type WindowView struct {
	Counts map[string]uint32 `json:"counts"`
	Spend  float64           `json:"spend"`
	Refund float64           `json:"refund"`
	// ScoredReviews are the window's reviews with a known sentiment,
	// NegativeReviews those of them negative.
	ScoredReviews   uint32 `json:"scored_reviews,omitempty"`
	NegativeReviews uint32 `json:"negative_reviews,omitempty"`
}

// RFMView is recency, frequency and monetary value.
type RFMView struct {
	RecencyDays  *float64 `json:"recency_days"`  // days since last purchase; null without purchases
	Frequency    uint64   `json:"frequency"`     // purchase events
	PurchaseDays int      `json:"purchase_days"` // distinct purchase days
	Monetary     float64  `json:"monetary"`      // gross purchases
	NetMonetary  float64  `json:"net_monetary"`  // purchases minus refunds
}

// RatingView summarises reviews.
type RatingView struct {
	Count uint32  `json:"count"`
	Mean  float64 `json:"mean"`
}

// CategoryView is one top category.
type CategoryView struct {
	Category string `json:"category"`
	Count    uint64 `json:"count"`
}

// TextView is one text of the ring.
type TextView struct {
	TS   time.Time `json:"ts"`
	Kind string    `json:"kind"`
	Text string    `json:"text"`
	Lang string    `json:"lang,omitempty"` // the declared language, if any
}

// WindowDays are the rolling windows every view reports.
var WindowDays = []int{7, 30, 90}

// windowNames are the Windows keys of WindowDays ("7d", ...).
var windowNames = func() map[int]string {
	m := make(map[int]string, len(WindowDays))
	for _, d := range WindowDays {
		m[d] = strconv.Itoa(d) + "d"
	}
	return m
}()

func windowName(d int) string {
	if n, ok := windowNames[d]; ok {
		return n
	}
	return strconv.Itoa(d) + "d"
}

// hex16 is fmt.Sprintf("%016x", x) without fmt (NewView runs once per
// evaluated user).
func hex16(x uint64) string {
	var b [16]byte
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[x&0xf]
		x >>= 4
	}
	return string(b[:])
}

// NewView reads p as of asOf (zero: the profile's last event time).
func NewView(p *Profile, asOf time.Time) View {
	if asOf.IsZero() {
		asOf = time.Unix(p.LastSeen, 0).UTC()
	}
	v := View{
		UserID:         p.UserID,
		AsOf:           asOf.UTC(),
		FirstSeen:      time.Unix(p.FirstSeen, 0).UTC(),
		LastSeen:       time.Unix(p.LastSeen, 0).UTC(),
		TenureDays:     asOf.Sub(time.Unix(p.FirstSeen, 0)).Hours() / 24,
		Counts:         map[string]uint64{},
		Windows:        map[string]WindowView{},
		Orders:         p.Orders(),
		AvgOrderValue:  p.AvgOrderCents() / 100,
		Refunds:        p.Counts[events.TypeRefund],
		RefundAmount:   float64(p.RefundCents) / 100,
		Units:          p.UnitsBought,
		Ratings:        RatingView{Count: p.RatingCount, Mean: p.RatingMean()},
		TextHash:       hex16(p.TextHash),
		AppliedOffsets: make(map[string]int64, len(p.Sources)),
		Rev:            hex16(p.Rev),
		TopCategories:  make([]CategoryView, 0, len(p.Categories)),
		Texts:          make([]TextView, 0, len(p.Texts)),
	}
	for t := 1; t < events.NumTypes; t++ {
		if c := p.Counts[t]; c > 0 {
			v.Counts[events.Type(t).String()] = c
		}
	}
	for _, d := range WindowDays {
		w := p.Window(asOf, d)
		wv := WindowView{Counts: map[string]uint32{}, Spend: float64(w.SpendCents) / 100, Refund: float64(w.RefundCents) / 100,
			ScoredReviews: w.ReviewsScored, NegativeReviews: w.ReviewsNegative}
		for t := 1; t < events.NumTypes; t++ {
			if c := w.Counts[t]; c > 0 {
				wv.Counts[events.Type(t).String()] = c
			}
		}
		v.Windows[windowName(d)] = wv
	}
	v.RFM = RFMView{Frequency: p.Orders(), PurchaseDays: p.DistinctPurchaseDays(),
		Monetary: float64(p.SpendCents) / 100, NetMonetary: float64(p.SpendCents-p.RefundCents) / 100}
	if p.LastPurchase != 0 {
		r := asOf.Sub(time.Unix(p.LastPurchase, 0)).Hours() / 24
		v.RFM.RecencyDays = &r
	}
	for _, c := range p.Categories {
		v.TopCategories = append(v.TopCategories, CategoryView{Category: c.Category, Count: c.Count})
	}
	for _, t := range p.Texts {
		v.Texts = append(v.Texts, TextView{TS: time.Unix(t.TS, 0).UTC(), Kind: t.Kind.String(), Text: t.Text, Lang: t.Lang})
	}
	for _, s := range p.Sources {
		v.AppliedOffsets[s.Source] = s.Offset
	}
	return v
}
