// Package events holds the input event schema that every segstream stage
// shares: the three event families of PRODUCT.md (clickstream, purchase,
// review), a strict decoder that turns raw Kafka message bytes into an
// Event or a machine-readable rejection Reason, and the mapping from event
// type to family.
//
// The decoder is pure and safe for concurrent use. Defaults: payloads up to
// 64 KiB, timestamps at most 24 h in the future and not before 2000-01-01,
// at most 1,000 items per order, prices up to 1,000,000 and quantities up
// to 1,000,000 per line.
package events

import (
	"fmt"
	"math"
	"time"
)

// Type is the event type carried in the `type` field.
type Type uint8

// Event types. The numeric values index per-type counters in the profile
// and are part of the featurestore's binary layout: append, never reorder.
const (
	TypeUnknown Type = iota
	TypeView
	TypeAddToCart
	TypeRemoveFromCart
	TypeSearch
	TypePurchase
	TypeRefund
	TypeReview
	numTypes
)

// NumTypes is the number of known event types plus one (index 0 is unused).
const NumTypes = int(numTypes)

var typeNames = [...]string{"", "view", "add_to_cart", "remove_from_cart", "search", "purchase", "refund", "review"}

// String returns the wire name of the type ("view", "purchase", ...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// ParseType maps a wire name to a Type; TypeUnknown when not known.
func ParseType(s string) Type {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i)
		}
	}
	return TypeUnknown
}

// Family is one of the three input event families, each with its own topic.
type Family uint8

// The event families.
const (
	FamilyUnknown Family = iota
	FamilyClickstream
	FamilyPurchase
	FamilyReview
)

func (f Family) String() string {
	switch f {
	case FamilyClickstream:
		return "clickstream"
	case FamilyPurchase:
		return "purchase"
	case FamilyReview:
		return "review"
	}
	return "unknown"
}

// Family returns the family an event type belongs to.
func (t Type) Family() Family {
	switch t {
	case TypeView, TypeAddToCart, TypeRemoveFromCart, TypeSearch:
		return FamilyClickstream
	case TypePurchase, TypeRefund:
		return FamilyPurchase
	case TypeReview:
		return FamilyReview
	}
	return FamilyUnknown
}

// Item is one line of a purchase or refund.
type Item struct {
	ProductID   string  `json:"product_id"`
	Description string  `json:"description"`
	Category    string  `json:"category"`
	Quantity    int64   `json:"quantity"`
	UnitPrice   float64 `json:"unit_price"`
}

// Event is a decoded, validated input event. Fields that do not belong to
// the event's family are zero.
type Event struct {
	EventID string    `json:"event_id"`
	Type    Type      `json:"-"`
	UserID  string    `json:"user_id"`
	TS      time.Time `json:"ts"`

	// clickstream
	ProductID string  `json:"product_id,omitempty"`
	Category  string  `json:"category,omitempty"`
	Price     float64 `json:"price"`
	SessionID string  `json:"session_id,omitempty"`
	Query     string  `json:"query,omitempty"`

	// purchase / refund
	OrderID  string `json:"order_id,omitempty"`
	Currency string `json:"currency,omitempty"`
	Items    []Item `json:"items,omitempty"`

	// review
	Rating int    `json:"rating,omitempty"`
	Text   string `json:"text,omitempty"`
	Lang   string `json:"lang,omitempty"`
	// Sentiment is the review text's polarity: given by the producer
	// ("sentiment": "negative", "neutral" or "positive"), else set before
	// the fold by the service's sentiment models (package sentiment).
	Sentiment Sentiment `json:"sentiment,omitempty"`
}

// Sentiment is a review's polarity. The zero value is unknown.
type Sentiment uint8

// Sentiments.
const (
	SentimentUnknown Sentiment = iota
	SentimentNegative
	SentimentNeutral
	SentimentPositive
)

var sentimentNames = [...]string{"", "negative", "neutral", "positive"}

func (s Sentiment) String() string {
	if int(s) < len(sentimentNames) {
		if s == SentimentUnknown {
			return "unknown"
		}
		return sentimentNames[s]
	}
	return "unknown"
}

// ParseSentiment reads "negative", "neutral" or "positive".
func ParseSentiment(s string) (Sentiment, bool) {
	for i, n := range sentimentNames {
		if i > 0 && n == s {
			return Sentiment(i), true
		}
	}
	return SentimentUnknown, false
}

// MarshalText writes the name ("" for unknown, which omitempty leaves out).
func (s Sentiment) MarshalText() ([]byte, error) {
	if int(s) < len(sentimentNames) {
		return []byte(sentimentNames[s]), nil
	}
	return nil, nil
}

// UnmarshalText reads a name; "" is unknown.
func (s *Sentiment) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = SentimentUnknown
		return nil
	}
	v, ok := ParseSentiment(string(b))
	if !ok {
		return fmt.Errorf("sentiment %q: want negative, neutral or positive", b)
	}
	*s = v
	return nil
}

// Amount is the order's total in minor units (cents): the sum over items of
// quantity × unit price, each line rounded to the cent.
func (e *Event) Amount() int64 {
	var sum int64
	for _, it := range e.Items {
		sum += LineCents(it.Quantity, it.UnitPrice)
	}
	return sum
}

// LineCents is quantity × unit price in cents, rounded half away from zero.
// The unit price is first fixed to 1/100 of a cent (exact for prices with up
// to four decimals), so the product is computed in integers and 3 × 1.005
// is 302 cents, not the 301 that float64 arithmetic gives.
func LineCents(qty int64, unitPrice float64) int64 {
	p4 := int64(math.Round(unitPrice * 1e4)) // hundredths of a cent
	v := qty * p4
	if v < 0 {
		return -((-v + 50) / 100)
	}
	return (v + 50) / 100
}
