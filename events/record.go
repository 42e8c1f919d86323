package events

import "time"

// Record is one decoded event with where it was read from: what the
// consumer hands the fold. Source and Offset become the profile's
// per-source offset mark, which makes the fold idempotent under
// redelivery.
type Record struct {
	Event *Event
	// Source names what the event was read from, "topic/partition" ("" for
	// events that come from no log, such as training history).
	Source string
	Offset int64
	// Received is the Kafka message timestamp (zero: the fold time); the
	// change feed keeps the oldest per user, so the label stage can measure
	// event-to-label latency.
	Received time.Time
}

// OldestReceived is the earliest Received of recs (zero: none has one):
// the start of a batch's event-to-fold latency, and the score of a user's
// change-feed entry.
func OldestReceived(recs []Record) time.Time {
	var t time.Time
	for i := range recs {
		if r := recs[i].Received; !r.IsZero() && (t.IsZero() || r.Before(t)) {
			t = r
		}
	}
	return t
}
