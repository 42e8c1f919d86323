package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Event
	}{
		{"view", `{"event_id":"e1","type":"view","user_id":"u1","ts":"2011-05-01T10:00:00+01:00","product_id":"p1","category":"home","price":2.5,"session_id":"s"}`,
			Event{EventID: "e1", Type: TypeView, UserID: "u1", TS: time.Date(2011, 5, 1, 9, 0, 0, 0, time.UTC), ProductID: "p1", Category: "home", Price: 2.5, SessionID: "s"}},
		{"search without product", `{"event_id":"e2","type":"search","user_id":"u1","ts":"2011-05-01T10:00:00Z","query":"red lamp"}`,
			Event{EventID: "e2", Type: TypeSearch, UserID: "u1", TS: time.Date(2011, 5, 1, 10, 0, 0, 0, time.UTC), Query: "red lamp"}},
		{"purchase", `{"event_id":"e3","type":"purchase","user_id":"u1","ts":"2011-05-01T10:00:00Z","order_id":"o1","currency":"GBP","items":[{"product_id":"p","description":"LAMP","category":"","quantity":2,"unit_price":1.25}],"extra":"ignored"}`,
			Event{EventID: "e3", Type: TypePurchase, UserID: "u1", TS: time.Date(2011, 5, 1, 10, 0, 0, 0, time.UTC), OrderID: "o1", Currency: "GBP", Items: []Item{{ProductID: "p", Description: "LAMP", Quantity: 2, UnitPrice: 1.25}}}},
		{"review", `{"event_id":"e4","type":"review","user_id":"u1","ts":"2011-05-01T10:00:00Z","product_id":"p","rating":5,"text":"très bien","lang":"fr"}`,
			Event{EventID: "e4", Type: TypeReview, UserID: "u1", TS: time.Date(2011, 5, 1, 10, 0, 0, 0, time.UTC), ProductID: "p", Rating: 5, Text: "très bien", Lang: "fr"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, de := Decode([]byte(tc.raw), DefaultLimits, now)
			if de != nil {
				t.Fatalf("rejected: %v", de)
			}
			if !reflect.DeepEqual(*ev, tc.want) {
				t.Fatalf("got %+v\nwant %+v", *ev, tc.want)
			}
			// Encode is Decode's inverse.
			b, err := Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			ev2, de := Decode(b, DefaultLimits, now)
			if de != nil || !reflect.DeepEqual(ev, ev2) {
				t.Fatalf("round trip: %v %+v", de, ev2)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	ok := `{"event_id":"e","type":"view","user_id":"u","ts":"2011-05-01T10:00:00Z","product_id":"p","price":1}`
	set := func(field, value string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(ok), &m)
		if value == "" {
			delete(m, field)
		} else {
			var v any
			_ = json.Unmarshal([]byte(value), &v)
			m[field] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, raw string
		reason    Reason
		field     string
	}{
		{"empty", ``, ReasonEmptyPayload, ""},
		{"oversized", `{"x":"` + strings.Repeat("a", 70000) + `"}`, ReasonOversized, ""},
		{"invalid utf8", "{\"event_id\":\"\xc3\x28\"}", ReasonInvalidUTF8, ""},
		{"truncated", `{"event_id":`, ReasonBadJSON, ""},
		{"trailing data", ok + `{}`, ReasonBadJSON, ""},
		{"string top level", `"hello"`, ReasonBadJSON, ""},
		{"null event_id", set("event_id", "null"), ReasonMissingField, "event_id"},
		{"no type", set("type", ""), ReasonMissingField, "type"},
		{"type number", set("type", "3"), ReasonWrongType, "type"},
		{"unknown type", set("type", `"click"`), ReasonUnknownType, "type"},
		{"no user", set("user_id", ""), ReasonMissingField, "user_id"},
		{"empty user", set("user_id", `""`), ReasonEmptyUserID, "user_id"},
		{"long user", set("user_id", `"`+strings.Repeat("u", 300)+`"`), ReasonFieldTooLong, "user_id"},
		{"ts number", set("ts", "1300000000"), ReasonWrongType, "ts"},
		{"ts no zone", set("ts", `"2011-05-01 10:00:00"`), ReasonBadTimestamp, "ts"},
		{"ts future", set("ts", `"2026-01-03T00:00:00Z"`), ReasonFutureTimestamp, "ts"},
		{"ts ancient", set("ts", `"1970-01-01T00:00:00Z"`), ReasonAncientTimestamp, "ts"},
		{"no product", set("product_id", ""), ReasonMissingField, "product_id"},
		{"no price", set("price", ""), ReasonMissingField, "price"},
		{"negative price", set("price", "-0.01"), ReasonBadPrice, "price"},
		{"absurd price", set("price", "1e12"), ReasonBadPrice, "price"},
		{"price bool", set("price", "true"), ReasonWrongType, "price"},
		{"purchase no items", `{"event_id":"e","type":"purchase","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP"}`, ReasonMissingField, "items"},
		{"purchase no currency", `{"event_id":"e","type":"purchase","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","items":[{"product_id":"p","quantity":1,"unit_price":1}]}`, ReasonMissingField, "currency"},
		{"item fractional qty", `{"event_id":"e","type":"refund","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP","items":[{"product_id":"p","quantity":1.5,"unit_price":1}]}`, ReasonBadQuantity, "items[0].quantity"},
		{"item negative qty", `{"event_id":"e","type":"refund","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP","items":[{"product_id":"p","quantity":1,"unit_price":1},{"product_id":"p","quantity":-1,"unit_price":1}]}`, ReasonBadQuantity, "items[1].quantity"},
		{"item price string", `{"event_id":"e","type":"purchase","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP","items":[{"product_id":"p","quantity":1,"unit_price":"1"}]}`, ReasonWrongType, "items[0].unit_price"},
		{"items object", `{"event_id":"e","type":"purchase","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP","items":{}}`, ReasonWrongType, "items"},
		{"too many items", `{"event_id":"e","type":"purchase","user_id":"u","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP","items":[` + strings.Repeat(`{"product_id":"p","quantity":1,"unit_price":1},`, 1000) + `{"product_id":"p","quantity":1,"unit_price":1}]}`, ReasonTooManyItems, "items"},
		{"rating 0", `{"event_id":"e","type":"review","user_id":"u","ts":"2011-05-01T10:00:00Z","product_id":"p","rating":0}`, ReasonBadRating, "rating"},
		{"rating missing", `{"event_id":"e","type":"review","user_id":"u","ts":"2011-05-01T10:00:00Z","product_id":"p"}`, ReasonMissingField, "rating"},
		{"search without query", `{"event_id":"e","type":"search","user_id":"u","ts":"2011-05-01T10:00:00Z"}`, ReasonMissingField, "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, de := Decode([]byte(tc.raw), DefaultLimits, now)
			if de == nil {
				t.Fatalf("accepted: %+v", ev)
			}
			if de.Reason != tc.reason || de.Field != tc.field {
				t.Fatalf("got %s/%q, want %s/%q (%v)", de.Reason, de.Field, tc.reason, tc.field, de)
			}
		})
	}
}

func TestLineCents(t *testing.T) {
	for _, tc := range []struct {
		q    int64
		p    float64
		want int64
	}{{6, 2.55, 1530}, {1, 0.29, 29}, {12, 0.85, 1020}, {3, 1.005, 302}, {80995, 2.08, 16846960}} {
		if got := LineCents(tc.q, tc.p); got != tc.want {
			t.Errorf("LineCents(%d, %v) = %d, want %d", tc.q, tc.p, got, tc.want)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{
		{"type=view", `{"event_id":"rees46-1","type":"view","user_id":"541312140","ts":"2019-10-01T00:00:00Z","product_id":"44600062","category":"appliances.kitchen","price":35.79,"session_id":"72d76fde-8bb3-4e00-8c23-a032dfed738c"}`},
		{"type=purchase/items=5", `{"event_id":"retail-536365","type":"purchase","user_id":"17850","ts":"2010-12-01T08:26:00Z","order_id":"536365","currency":"GBP","items":[` + strings.TrimSuffix(strings.Repeat(`{"product_id":"85123A","description":"WHITE HANGING HEART T-LIGHT HOLDER","category":"","quantity":6,"unit_price":2.55},`, 5), ",") + `]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(bc.raw)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				if _, de := Decode(raw, DefaultLimits, now); de != nil {
					b.Fatal(de)
				}
			}
		})
	}
}
