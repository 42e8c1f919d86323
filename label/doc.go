// Package label is segstream's output contract: the label document a user
// has on `segments.labels`, the change messages on `segments.changes`, the
// reasons that explain both, the names and rounding of scores, and the
// rules that turn one labelling decision into the next stored version
// (Next: the diff of segments, the version bump, the changes carried over
// while Kafka has not acknowledged them).
//
// Everything here is pure: no Redis, no Kafka, no clock. The label stage
// (package labelstage) stores Records and calls Next, the producer renders
// Docs and Changes as Kafka messages, and the classifier's segmenter
// returns Decisions whose scores and reasons are already in contract form.
//
// Versioning rules (see Next):
//   - a user's version starts at 0 (no document) and rises by exactly one
//     with every document whose segment set differs from the previous one
//     (the first document always counts as a change);
//   - a decision that changes only the decider's state (hysteresis, dwell)
//     or only scores is stored without a new version and is never published;
//   - changes not yet published (Record.Published < Record.Version) are
//     carried into the next version's changes, so a user relabelled twice
//     before the publisher ran loses no entry or exit; at most
//     MaxPendingChanges are kept, the oldest dropped first;
//   - an erasure is a version of its own with no document (a tombstone).
//
// Consumers de-duplicate by (user_id, version): a document may be
// published again after a crash, never two different documents under one
// version.
package label
