package keyspace

import (
	"fmt"
	"strings"
)

// DefaultPrefix starts every key when the configuration names none.
const DefaultPrefix = "seg"

// Keys names the keys of one deployment (one prefix). The zero value is
// not usable: build it with NewKeys.
type Keys struct{ prefix string }

// NewKeys returns the key names under prefix ("" means DefaultPrefix).
func NewKeys(prefix string) Keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Keys{prefix: prefix}
}

// ValidatePrefix refuses a prefix that would break hash tags or scans.
func ValidatePrefix(prefix string) error {
	if strings.ContainsAny(prefix, "{}*?[] \t\n") {
		return fmt.Errorf("%q must not contain braces, glob characters or whitespace", prefix)
	}
	return nil
}

// Prefix is the deployment's prefix.
func (k Keys) Prefix() string { return k.prefix }

func (k Keys) user(u, kind string) string { return k.prefix + ":{" + u + "}:" + kind }
func (k Keys) feed(name string) string    { return k.prefix + ":{feed}:" + name }

// Profile is the key of a user's profile.
func (k Keys) Profile(user string) string { return k.user(user, "p") }

// Label is the key of a user's label record (a hash).
func (k Keys) Label(user string) string { return k.user(user, "l") }

// Embedding is the key of a user's text embedding.
func (k Keys) Embedding(user string) string { return k.user(user, "e") }

// History is the key of a user's label history: a zset of one JSON entry
// per label version (the segments after it, what was entered and exited),
// scored by the version, trimmed to the newest labels.history entries. It
// shares the user's hash tag, so the label write updates both atomically.
func (k Keys) History(user string) string { return k.user(user, "h") }

// PublishLock is the key of a user's publish lock.
func (k Keys) PublishLock(user string) string { return k.user(user, "lock") }

// Changes is the change feed: users whose profile changed and are not yet
// labelled, scored by the Kafka time (unix ms) of the oldest such event
// (ZADD NX keeps the oldest).
func (k Keys) Changes() string { return k.feed("changes") }

// Clock holds the event-time watermark (member "watermark", score unix s).
func (k Keys) Clock() string { return k.feed("clock") }

// Inflight holds users claimed from Changes, scored by lease deadline.
func (k Keys) Inflight() string { return k.feed("inflight") }

// Due holds users to re-evaluate by time alone, scored by clock time.
func (k Keys) Due() string { return k.feed("due") }

// Outbox holds users with an unpublished label version, scored by write
// time (unix µs).
func (k Keys) Outbox() string { return k.feed("outbox") }

// Encode is the encoder's queue of users whose text must be encoded.
func (k Keys) Encode() string { return k.feed("encode") }

// Encoding holds users claimed from Encode, scored by lease deadline.
func (k Keys) Encoding() string { return k.feed("encoding") }

// Members is a segment's member index: a zset of the users in it, scored
// by the clock time (unix s) each entered. Its hash tag is the segment
// ({m:<segment>}), so one segment's index lives on one cluster slot.
func (k Keys) Members(segment string) string { return k.prefix + ":{m:" + segment + "}:members" }

// SizeSeries is a segment's size series at minute resolution: a zset of
// "<unix s>:<size>" scored by the clock minute, kept for two days of clock
// time; SizeSeriesHourly keeps the last sample of each clock hour for longer.
// Both share the member index's hash tag.
func (k Keys) SizeSeries(segment string) string { return k.prefix + ":{m:" + segment + "}:sizes" }

// Flow is a segment's hourly entries and exits: a hash of fields
// "<clock hour, unix s>:e" and ":x" counted by the label stage after each
// label write that won.
func (k Keys) Flow(segment string) string { return k.prefix + ":{m:" + segment + "}:flow" }

// SizeSeriesHourly is a segment's size series at hour resolution (see SizeSeries).
func (k Keys) SizeSeriesHourly(segment string) string {
	return k.prefix + ":{m:" + segment + "}:sizes:h"
}

// Indexes is the set of segments that have a member index, so that their
// sizes are read without a SCAN of the keyspace. The label stage adds a
// segment the first time it writes to its index.
func (k Keys) Indexes() string { return k.feed("indexes") }

// MembersPattern matches every member index (for SCAN).
func (k Keys) MembersPattern() string { return k.prefix + ":{m:*}:members" }

// SegmentOfMembers returns the segment of a member-index key, or false.
func (k Keys) SegmentOfMembers(key string) (string, bool) {
	pre, suf := k.prefix+":{m:", "}:members"
	if !strings.HasPrefix(key, pre) || !strings.HasSuffix(key, suf) || len(key) <= len(pre)+len(suf) {
		return "", false
	}
	return key[len(pre) : len(key)-len(suf)], true
}

// BackfillMark holds the version of the segment-definition set last
// backfilled (written once every profile was queued).
func (k Keys) BackfillMark() string { return k.feed("backfill") }

// BackfillLock is held (SET NX with a TTL, value = the instance) by the
// instance running a backfill.
func (k Keys) BackfillLock() string { return k.feed("backfill:lock") }

// LegacyTextFeed is a feed older versions wrote and nothing read (it grew
// without bound); the service deletes it at start.
func (k Keys) LegacyTextFeed() string { return k.feed("text") }

// Queues lists the shared queue keys, for gauges and drain checks.
func (k Keys) Queues() []string {
	return []string{k.Changes(), k.Inflight(), k.Encode(), k.Encoding(), k.Outbox()}
}

// ProfilePattern matches every profile key (for SCAN).
func (k Keys) ProfilePattern() string { return k.prefix + ":{*}:p" }

// UserOfProfile returns the user id of a profile key, or false.
func (k Keys) UserOfProfile(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, k.prefix+":{")
	if !ok {
		return "", false
	}
	user, ok := strings.CutSuffix(rest, "}:p")
	return user, ok
}

// AllPattern matches every key of the deployment (for SCAN).
func (k Keys) AllPattern() string { return k.prefix + ":*" }
