package events

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
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

// parsers are reused across calls: fastjson parses without reflection and,
// with a warm parser, without allocating for the parse tree.
var parsers fastjson.ParserPool

// Decode parses and validates one raw event. now is the clock against which
// far-future timestamps are judged. It never panics; every rejection is a
// *DecodeError carrying a Reason. Unknown JSON fields are ignored so that
// producers can add fields before segstream knows them; every known field
// is type-checked, and null counts as absent.
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
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return nil, reject(ReasonBadJSON, "", "%s", clip(err.Error()))
	}
	o, err := v.Object()
	if err != nil {
		return nil, reject(ReasonBadJSON, "", "payload is not a JSON object")
	}
	f := fields{o: o}
	ev := &Event{}
	var de *DecodeError
	if ev.EventID, de = f.reqID("event_id", lim); de != nil {
		return nil, de
	}
	typ, ok, de := f.str("type")
	if de != nil {
		return nil, de
	}
	if !ok {
		return nil, reject(ReasonMissingField, "type", "required")
	}
	ev.Type = ParseType(typ)
	if ev.Type == TypeUnknown {
		return nil, reject(ReasonUnknownType, "type", "unknown event type %q", clip(typ))
	}
	user, ok, de := f.str("user_id")
	if de != nil {
		return nil, de
	}
	if !ok {
		return nil, reject(ReasonMissingField, "user_id", "required")
	}
	if strings.TrimSpace(user) == "" {
		return nil, reject(ReasonEmptyUserID, "user_id", "user_id is empty")
	}
	if len(user) > lim.MaxIDBytes {
		return nil, reject(ReasonFieldTooLong, "user_id", "%d bytes, limit %d", len(user), lim.MaxIDBytes)
	}
	ev.UserID = user
	tsStr, ok, de := f.str("ts")
	if de != nil {
		return nil, de
	}
	if !ok {
		return nil, reject(ReasonMissingField, "ts", "required")
	}
	ts, err := time.Parse(time.RFC3339Nano, tsStr)
	if err != nil {
		return nil, reject(ReasonBadTimestamp, "ts", "not RFC 3339: %q", clip(tsStr))
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
		de = decodeClick(f, ev, lim)
	case FamilyPurchase:
		de = decodePurchase(f, ev, lim)
	case FamilyReview:
		de = decodeReview(f, ev, lim)
	}
	if de != nil {
		return nil, de
	}
	return ev, nil
}

// fields reads typed members of one JSON object; path prefixes field names
// in errors ("items[2].").
type fields struct {
	o    *fastjson.Object
	path string
}

func (f fields) get(key string) *fastjson.Value {
	v := f.o.Get(key)
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// str returns a string member; ok is false when absent or null.
func (f fields) str(key string) (string, bool, *DecodeError) {
	v := f.get(key)
	if v == nil {
		return "", false, nil
	}
	if v.Type() != fastjson.TypeString {
		return "", false, reject(ReasonWrongType, f.path+key, "got JSON %s, want string", v.Type())
	}
	b := v.GetStringBytes()
	if !utf8.Valid(b) { // e.g. an escaped lone surrogate
		return "", false, reject(ReasonInvalidUTF8, f.path+key, "string is not valid UTF-8")
	}
	return string(b), true, nil
}

// num returns a number member; ok is false when absent or null.
func (f fields) num(key string) (float64, bool, *DecodeError) {
	v := f.get(key)
	if v == nil {
		return 0, false, nil
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, false, reject(ReasonWrongType, f.path+key, "got JSON %s, want number", v.Type())
	}
	x, err := v.Float64()
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false, reject(ReasonBadJSON, f.path+key, "not a finite number")
	}
	return x, true, nil
}

func (f fields) reqID(key string, lim Limits) (string, *DecodeError) {
	s, ok, de := f.str(key)
	if de != nil {
		return "", de
	}
	if !ok {
		return "", reject(ReasonMissingField, f.path+key, "required")
	}
	if s == "" {
		return "", reject(ReasonMissingField, f.path+key, "must not be empty")
	}
	if len(s) > lim.MaxIDBytes {
		return "", reject(ReasonFieldTooLong, f.path+key, "%d bytes, limit %d", len(s), lim.MaxIDBytes)
	}
	return s, nil
}

func (f fields) optID(key string, lim Limits) (string, *DecodeError) {
	s, _, de := f.str(key)
	if de != nil {
		return "", de
	}
	if len(s) > lim.MaxIDBytes {
		return "", reject(ReasonFieldTooLong, f.path+key, "%d bytes, limit %d", len(s), lim.MaxIDBytes)
	}
	return s, nil
}

func (f fields) text(key string) (string, *DecodeError) {
	s, _, de := f.str(key)
	return s, de
}

func decodeClick(f fields, ev *Event, lim Limits) *DecodeError {
	var de *DecodeError
	if ev.Type == TypeSearch {
		q, ok, de := f.str("query")
		if de != nil {
			return de
		}
		if !ok {
			return reject(ReasonMissingField, "query", "required for search events")
		}
		ev.Query = q
		if ev.ProductID, de = f.optID("product_id", lim); de != nil { // optional on searches
			return de
		}
	} else if ev.ProductID, de = f.reqID("product_id", lim); de != nil {
		return de
	}
	price, ok, de := f.num("price")
	if de != nil {
		return de
	}
	if !ok && ev.Type != TypeSearch {
		return reject(ReasonMissingField, "price", "required for %s events", ev.Type)
	}
	if ok {
		if de := checkPrice(price, "price", lim); de != nil {
			return de
		}
		ev.Price = price
	}
	if ev.Category, de = f.optID("category", lim); de != nil {
		return de
	}
	if ev.SessionID, de = f.optID("session_id", lim); de != nil {
		return de
	}
	return nil
}

func decodePurchase(f fields, ev *Event, lim Limits) *DecodeError {
	var de *DecodeError
	if ev.OrderID, de = f.reqID("order_id", lim); de != nil {
		return de
	}
	if ev.Currency, de = f.reqID("currency", lim); de != nil {
		return de
	}
	iv := f.get("items")
	if iv == nil {
		return reject(ReasonMissingField, "items", "required for %s events", ev.Type)
	}
	if iv.Type() != fastjson.TypeArray {
		return reject(ReasonWrongType, "items", "got JSON %s, want array", iv.Type())
	}
	items := iv.GetArray()
	if len(items) == 0 {
		return reject(ReasonEmptyItems, "items", "%s without items", ev.Type)
	}
	if len(items) > lim.MaxItems {
		return reject(ReasonTooManyItems, "items", "%d items, limit %d", len(items), lim.MaxItems)
	}
	ev.Items = make([]Item, len(items))
	for i, x := range items {
		p := "items[" + strconv.Itoa(i) + "]"
		if x.Type() != fastjson.TypeObject {
			return reject(ReasonWrongType, p, "got JSON %s, want object", x.Type())
		}
		xo, _ := x.Object()
		fi := fields{o: xo, path: p + "."}
		out := &ev.Items[i]
		if out.ProductID, de = fi.reqID("product_id", lim); de != nil {
			return de
		}
		if out.Category, de = fi.optID("category", lim); de != nil {
			return de
		}
		if out.Description, de = fi.text("description"); de != nil {
			return de
		}
		q, ok, de := fi.num("quantity")
		if de != nil {
			return de
		}
		if !ok {
			return reject(ReasonMissingField, p+".quantity", "required")
		}
		if q != math.Trunc(q) || q < 1 || q > float64(lim.MaxQuantity) {
			return reject(ReasonBadQuantity, p+".quantity", "%v is not an integer in 1..%d", q, lim.MaxQuantity)
		}
		out.Quantity = int64(q)
		up, ok, de := fi.num("unit_price")
		if de != nil {
			return de
		}
		if !ok {
			return reject(ReasonMissingField, p+".unit_price", "required")
		}
		if de := checkPrice(up, p+".unit_price", lim); de != nil {
			return de
		}
		out.UnitPrice = up
	}
	return nil
}

func decodeReview(f fields, ev *Event, lim Limits) *DecodeError {
	var de *DecodeError
	if ev.ProductID, de = f.reqID("product_id", lim); de != nil {
		return de
	}
	r, ok, de := f.num("rating")
	if de != nil {
		return de
	}
	if !ok {
		return reject(ReasonMissingField, "rating", "required for review events")
	}
	if r != math.Trunc(r) || r < 1 || r > 5 {
		return reject(ReasonBadRating, "rating", "%v is not an integer in 1..5", r)
	}
	ev.Rating = int(r)
	if ev.Text, de = f.text("text"); de != nil {
		return de
	}
	if ev.Lang, de = f.optID("lang", lim); de != nil {
		return de
	}
	sv, ok, de := f.str("sentiment")
	if de != nil {
		return de
	}
	if ok {
		if ev.Sentiment, ok = ParseSentiment(sv); !ok {
			return reject(ReasonBadSentiment, "sentiment", "%q is not negative, neutral or positive", clip(sv))
		}
	}
	return nil
}

func checkPrice(p float64, field string, lim Limits) *DecodeError {
	if p < 0 || p > lim.MaxPrice {
		return reject(ReasonBadPrice, field, "%v is outside 0..%v", p, lim.MaxPrice)
	}
	return nil
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
