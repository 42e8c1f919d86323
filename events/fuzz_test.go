package events

import (
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks the decoder's invariants on arbitrary bytes:
//   - it never panics;
//   - it returns exactly one of an event or a rejection;
//   - every rejection has a known Reason;
//   - an accepted event has a non-empty event_id and user_id, a known type,
//     valid UTF-8 strings, and survives Encode → Decode unchanged.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"event_id":"e1","type":"view","user_id":"u1","ts":"2011-05-01T10:00:00Z","product_id":"p1","category":"c","price":2.5,"session_id":"s"}`,
		`{"event_id":"e2","type":"search","user_id":"u1","ts":"2011-05-01T10:00:00Z","query":"lamp"}`,
		`{"event_id":"e3","type":"purchase","user_id":"u1","ts":"2011-05-01T10:00:00Z","order_id":"o","currency":"GBP","items":[{"product_id":"p","quantity":2,"unit_price":1.25}]}`,
		`{"event_id":"e4","type":"review","user_id":"u1","ts":"2011-05-01T10:00:00Z","product_id":"p","rating":4,"text":"good"}`,
		`{"event_id":"e5","type":"refund","user_id":"u1","ts":"2011-05-01T10:00:00.123456789-07:00","order_id":"C1","currency":"GBP","items":[{"product_id":"p","quantity":1,"unit_price":0}]}`,
		``, `{`, `[]`, `null`, "\xff", `{"type":null}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, de := Decode(raw, DefaultLimits, now)
		if (ev == nil) == (de == nil) {
			t.Fatalf("want exactly one of event/error, got %v %v", ev, de)
		}
		if de != nil {
			if !slices.Contains(AllReasons, de.Reason) {
				t.Fatalf("unknown reason %q", de.Reason)
			}
			return
		}
		if ev.EventID == "" || ev.UserID == "" || ev.Type == TypeUnknown {
			t.Fatalf("accepted incomplete event %+v", ev)
		}
		for _, s := range []string{ev.EventID, ev.UserID, ev.Text, ev.Query} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in accepted event")
			}
		}
		b, err := Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		ev2, de2 := Decode(b, DefaultLimits, now)
		if de2 != nil {
			t.Fatalf("re-encoded event rejected: %v\n%s", de2, b)
		}
		if !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, ev2)
		}
	})
}
