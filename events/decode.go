package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound what the decoder accepts. The zero value is replaced field by
// field with DefaultLimits.
type Limits struct {
	MaxPayloadBytes int           `yaml:"max_payload_bytes"` // default 65536
	MaxIDBytes      int           `yaml:"max_id_bytes"`      // identifiers (event_id, user_id, product_id, ...); default 256
	MaxItems        int           `yaml:"max_items"`         // items per order; default 1000
	MaxPrice        float64       `yaml:"max_price"`         // unit price / view price; default 1e6
	MaxQuantity     int64         `yaml:"max_quantity"`      // per item line; default 1e6
	MaxFutureSkew   time.Duration `yaml:"max_future_skew"`   // how far ts may be ahead of the clock; default 24h
	MinTime         time.Time     `yaml:"min_time"`          // earliest accepted ts; default 2000-01-01T00:00:00Z
}

// DefaultLimits are the limits used for zero fields of Limits.
var DefaultLimits = Limits{
	MaxPayloadBytes: 64 << 10,
	MaxIDBytes:      256,
	MaxItems:        1000,
	MaxPrice:        1e6,
	MaxQuantity:     1_000_000,
	MaxFutureSkew:   24 * time.Hour,
	MinTime:         time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
}

// WithDefaults returns l with zero fields set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.MaxPayloadBytes > 0 {
		d.MaxPayloadBytes = l.MaxPayloadBytes
	}
	if l.MaxIDBytes > 0 {
		d.MaxIDBytes = l.MaxIDBytes
	}
	if l.MaxItems > 0 {
		d.MaxItems = l.MaxItems
	}
	if l.MaxPrice > 0 {
		d.MaxPrice = l.MaxPrice
	}
	if l.MaxQuantity > 0 {
		d.MaxQuantity = l.MaxQuantity
	}
	if l.MaxFutureSkew > 0 {
		d.MaxFutureSkew = l.MaxFutureSkew
	}
	if !l.MinTime.IsZero() {
		d.MinTime = l.MinTime
	}
	return d
}

type wireItem struct {
	ProductID   *string  `json:"product_id"`
	Description *string  `json:"description"`
	Category    *string  `json:"category"`
	Quantity    *float64 `json:"quantity"`
	UnitPrice   *float64 `json:"unit_price"`
}

type wireEvent struct {
	EventID   *string     `json:"event_id"`
	Type      *string     `json:"type"`
	UserID    *string     `json:"user_id"`
	TS        *string     `json:"ts"`
	ProductID *string     `json:"product_id"`
	Category  *string     `json:"category"`
	Price     *float64    `json:"price"`
	SessionID *string     `json:"session_id"`
	Query     *string     `json:"query"`
	OrderID   *string     `json:"order_id"`
	Currency  *string     `json:"currency"`
	Items     *[]wireItem `json:"items"`
	Rating    *float64    `json:"rating"`
	Text      *string     `json:"text"`
	Lang      *string     `json:"lang"`
}

// Decode parses and validates one raw event. now is the clock against which
// far-future timestamps are judged. It never panics; every rejection is a
// *DecodeError carrying a Reason. Unknown JSON fields are ignored so that
// producers can add fields before segstream knows them; every known field
// is type-checked.
func Decode(raw []byte, lim Limits, now time.Time) (*Event, *DecodeError) {
	if len(raw) == 0 {
		return nil, reject(ReasonEmptyPayload, "", "empty message value")
	}
	if len(raw) > lim.MaxPayloadBytes {
		return nil, reject(ReasonOversized, "", "payload is %d bytes, limit %d", len(raw), lim.MaxPayloadBytes)
	}
	if !utf8.Valid(raw) {
		return nil, reject(ReasonInvalidUTF8, "", "payload is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, reject(ReasonBadJSON, "", "payload is not a JSON object")
	}
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, reject(ReasonWrongType, te.Field, "got JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))
		}
		return nil, reject(ReasonBadJSON, "", "%v", err)
	}
	ev := &Event{}
	var de *DecodeError
	if ev.EventID, de = reqID(w.EventID, "event_id", lim); de != nil {
		return nil, de
	}
	if w.Type == nil {
		return nil, reject(ReasonMissingField, "type", "required")
	}
	ev.Type = ParseType(*w.Type)
	if ev.Type == TypeUnknown {
		return nil, reject(ReasonUnknownType, "type", "unknown event type %q", clip(*w.Type))
	}
	if w.UserID == nil {
		return nil, reject(ReasonMissingField, "user_id", "required")
	}
	if strings.TrimSpace(*w.UserID) == "" {
		return nil, reject(ReasonEmptyUserID, "user_id", "user_id is empty")
	}
	if len(*w.UserID) > lim.MaxIDBytes {
		return nil, reject(ReasonFieldTooLong, "user_id", "%d bytes, limit %d", len(*w.UserID), lim.MaxIDBytes)
	}
	ev.UserID = *w.UserID
	if w.TS == nil {
		return nil, reject(ReasonMissingField, "ts", "required")
	}
	ts, err := time.Parse(time.RFC3339Nano, *w.TS)
	if err != nil {
		return nil, reject(ReasonBadTimestamp, "ts", "not RFC 3339: %q", clip(*w.TS))
	}
	if ts.After(now.Add(lim.MaxFutureSkew)) {
		return nil, reject(ReasonFutureTimestamp, "ts", "%s is more than %s ahead of the clock", ts.Format(time.RFC3339), lim.MaxFutureSkew)
	}
	if ts.Before(lim.MinTime) {
		return nil, reject(ReasonAncientTimestamp, "ts", "%s is before %s", ts.Format(time.RFC3339), lim.MinTime.Format(time.RFC3339))
	}
	ev.TS = ts.UTC()

	switch ev.Type.Family() {
	case FamilyClickstream:
		de = decodeClick(&w, ev, lim)
	case FamilyPurchase:
		de = decodePurchase(&w, ev, lim)
	case FamilyReview:
		de = decodeReview(&w, ev, lim)
	}
	if de != nil {
		return nil, de
	}
	return ev, nil
}

func decodeClick(w *wireEvent, ev *Event, lim Limits) *DecodeError {
	var de *DecodeError
	if ev.Type == TypeSearch {
		if w.Query == nil {
			return reject(ReasonMissingField, "query", "required for search events")
		}
		ev.Query = *w.Query
		if w.ProductID != nil { // optional on searches
			if ev.ProductID, de = optID(w.ProductID, "product_id", lim); de != nil {
				return de
			}
		}
	} else {
		if ev.ProductID, de = reqID(w.ProductID, "product_id", lim); de != nil {
			return de
		}
		if w.Price == nil {
			return reject(ReasonMissingField, "price", "required for %s events", ev.Type)
		}
	}
	if w.Price != nil {
		if de = checkPrice(*w.Price, "price", lim); de != nil {
			return de
		}
		ev.Price = *w.Price
	}
	if ev.Category, de = optID(w.Category, "category", lim); de != nil {
		return de
	}
	if ev.SessionID, de = optID(w.SessionID, "session_id", lim); de != nil {
		return de
	}
	return nil
}

func decodePurchase(w *wireEvent, ev *Event, lim Limits) *DecodeError {
	var de *DecodeError
	if ev.OrderID, de = reqID(w.OrderID, "order_id", lim); de != nil {
		return de
	}
	if ev.Currency, de = reqID(w.Currency, "currency", lim); de != nil {
		return de
	}
	if w.Items == nil {
		return reject(ReasonMissingField, "items", "required for %s events", ev.Type)
	}
	items := *w.Items
	if len(items) == 0 {
		return reject(ReasonEmptyItems, "items", "%s without items", ev.Type)
	}
	if len(items) > lim.MaxItems {
		return reject(ReasonTooManyItems, "items", "%d items, limit %d", len(items), lim.MaxItems)
	}
	ev.Items = make([]Item, len(items))
	for i := range items {
		in, out := &items[i], &ev.Items[i]
		p := "items[" + strconv.Itoa(i) + "]."
		if out.ProductID, de = reqID(in.ProductID, p+"product_id", lim); de != nil {
			return de
		}
		if out.Category, de = optID(in.Category, p+"category", lim); de != nil {
			return de
		}
		if in.Description != nil {
			out.Description = *in.Description
		}
		if in.Quantity == nil {
			return reject(ReasonMissingField, p+"quantity", "required")
		}
		q := *in.Quantity
		if q != math.Trunc(q) || q < 1 || q > float64(lim.MaxQuantity) {
			return reject(ReasonBadQuantity, p+"quantity", "%v is not an integer in 1..%d", q, lim.MaxQuantity)
		}
		out.Quantity = int64(q)
		if in.UnitPrice == nil {
			return reject(ReasonMissingField, p+"unit_price", "required")
		}
		if de = checkPrice(*in.UnitPrice, p+"unit_price", lim); de != nil {
			return de
		}
		out.UnitPrice = *in.UnitPrice
	}
	return nil
}

func decodeReview(w *wireEvent, ev *Event, lim Limits) *DecodeError {
	var de *DecodeError
	if ev.ProductID, de = reqID(w.ProductID, "product_id", lim); de != nil {
		return de
	}
	if w.Rating == nil {
		return reject(ReasonMissingField, "rating", "required for review events")
	}
	r := *w.Rating
	if r != math.Trunc(r) || r < 1 || r > 5 {
		return reject(ReasonBadRating, "rating", "%v is not an integer in 1..5", r)
	}
	ev.Rating = int(r)
	if w.Text != nil {
		ev.Text = *w.Text
	}
	if ev.Lang, de = optID(w.Lang, "lang", lim); de != nil {
		return de
	}
	return nil
}

func checkPrice(p float64, field string, lim Limits) *DecodeError {
	if p < 0 || p > lim.MaxPrice {
		return reject(ReasonBadPrice, field, "%v is outside 0..%v", p, lim.MaxPrice)
	}
	return nil
}

func reqID(p *string, field string, lim Limits) (string, *DecodeError) {
	if p == nil {
		return "", reject(ReasonMissingField, field, "required")
	}
	if *p == "" {
		return "", reject(ReasonMissingField, field, "must not be empty")
	}
	return optID(p, field, lim)
}

func optID(p *string, field string, lim Limits) (string, *DecodeError) {
	if p == nil {
		return "", nil
	}
	if len(*p) > lim.MaxIDBytes {
		return "", reject(ReasonFieldTooLong, field, "%d bytes, limit %d", len(*p), lim.MaxIDBytes)
	}
	return *p, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "float64", "int", "int64":
		return "number"
	case "slice":
		return "array"
	case "struct", "ptr":
		return "object"
	}
	return goKind
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}

// Encode writes the event in its wire format (the inverse of Decode).
func Encode(ev *Event) ([]byte, error) {
	type wire struct {
		*Event
		Type string `json:"type"`
		TS   string `json:"ts"`
	}
	return json.Marshal(wire{Event: ev, Type: ev.Type.String(), TS: ev.TS.Format(time.RFC3339Nano)})
}
