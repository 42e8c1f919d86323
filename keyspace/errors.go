package keyspace

import "errors"

// ErrReplicas is wrapped by a Batch whose writes fewer replicas than
// Durability.WaitReplicas acknowledged within Durability.WaitTimeout. The
// writes are on the master; the caller retries (every write of a batch is
// idempotent or guarded by compare-and-set).
var ErrReplicas = errors.New("keyspace: write not acknowledged by enough replicas")

// ErrLockLost is returned by Locker.Hold's renewal when a lock the holder
// had is gone or owned by another instance (it expired while Redis was
// unreachable, or a failover lost it).
var ErrLockLost = errors.New("keyspace: publish lock lost")
