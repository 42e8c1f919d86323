package events

import "fmt"

// Reason is the machine-readable cause of a rejected event. It travels in
// the `reason` header of the dead-letter message and labels the
// segstream_dlq_events_total metric, so values are stable identifiers.
type Reason string

// Rejection reasons. Every way an event can be wrong maps to one of these.
const (
	ReasonEmptyPayload     Reason = "empty_payload"       // zero-length value (or a tombstone) on an input topic
	ReasonOversized        Reason = "oversized_payload"   // value longer than Limits.MaxPayloadBytes
	ReasonInvalidUTF8      Reason = "invalid_utf8"        // value is not valid UTF-8
	ReasonBadJSON          Reason = "bad_json"            // not one JSON object (syntax error, array, trailing data)
	ReasonMissingField     Reason = "missing_field"       // a required field is absent or null
	ReasonWrongType        Reason = "wrong_type"          // a field has the wrong JSON type (e.g. price as a string)
	ReasonUnknownType      Reason = "unknown_type"        // `type` is not one of the known event types
	ReasonEmptyUserID      Reason = "empty_user_id"       // user_id is empty or only whitespace
	ReasonBadTimestamp     Reason = "bad_timestamp"       // ts is not RFC 3339
	ReasonFutureTimestamp  Reason = "future_timestamp"    // ts is further ahead of the clock than Limits.MaxFutureSkew
	ReasonAncientTimestamp Reason = "ancient_timestamp"   // ts is before Limits.MinTime
	ReasonBadRating        Reason = "bad_rating"          // rating not an integer in 1..5
	ReasonBadSentiment     Reason = "bad_sentiment"       // sentiment not negative, neutral or positive
	ReasonBadPrice         Reason = "bad_price"           // negative, or above Limits.MaxPrice
	ReasonBadQuantity      Reason = "bad_quantity"        // not a positive integer, or above Limits.MaxQuantity
	ReasonEmptyItems       Reason = "empty_items"         // a purchase or refund without items
	ReasonTooManyItems     Reason = "too_many_items"      // more than Limits.MaxItems items
	ReasonFieldTooLong     Reason = "field_too_long"      // an identifier longer than Limits.MaxIDBytes
	ReasonTopicMismatch    Reason = "type_topic_mismatch" // e.g. a review on the clickstream topic
)

// AllReasons lists every reason, for metrics pre-registration and docs.
var AllReasons = []Reason{
	ReasonEmptyPayload, ReasonOversized, ReasonInvalidUTF8, ReasonBadJSON, ReasonMissingField,
	ReasonWrongType, ReasonUnknownType, ReasonEmptyUserID, ReasonBadTimestamp, ReasonFutureTimestamp,
	ReasonAncientTimestamp, ReasonBadRating, ReasonBadSentiment, ReasonBadPrice, ReasonBadQuantity, ReasonEmptyItems,
	ReasonTooManyItems, ReasonFieldTooLong, ReasonTopicMismatch,
}

// DecodeError is returned by Decode for every rejected event.
type DecodeError struct {
	Reason Reason // machine-readable cause
	Field  string // offending field (JSON path such as "items[2].quantity"), when there is one
	Detail string // human-readable detail
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("event rejected: %s: field %q: %s", e.Reason, e.Field, e.Detail)
	}
	return fmt.Sprintf("event rejected: %s: %s", e.Reason, e.Detail)
}

func reject(r Reason, field, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: r, Field: field, Detail: fmt.Sprintf(format, args...)}
}
