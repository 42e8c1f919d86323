package featurestore

import "errors"

// ErrCorruptProfile is returned by Unmarshal (and by Store reads) when a
// stored record cannot be decoded: written by an incompatible build, or not
// written by segstream at all (is another application using the key prefix?).
var ErrCorruptProfile = errors.New("featurestore: corrupt profile record")

// ErrConflictRetries is returned by Store.Fold when compare-and-set writes
// kept conflicting: another writer updates the same users continuously (two
// consumer groups folding the same topics into one key prefix?).
var ErrConflictRetries = errors.New("featurestore: too many compare-and-set conflicts")

// ErrErased is returned by Store.Get for a user erased on request.
var ErrErased = errors.New("featurestore: user erased")
