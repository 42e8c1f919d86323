// Package keyspace owns segstream's Redis layout: every key name and hash
// tag, every Lua script, and the few primitives built on them that more
// than one stage uses: the ordered, replica-acknowledged write (Batch), the
// lease queue (Queue), the per-user publish lock (Locker) and the helpers
// that reach every server of a cluster (EachServer, DeletePrefix, GetMany).
//
// Keys (P is the deployment's prefix, default "seg"; U a user id):
//
//	P:{U}:p          string  the user's profile (featurestore codec), written by compare-and-set on its revision
//	P:{U}:l          hash    the user's label record: ver, doc, changes, state, erased, published
//	P:{U}:e          string  the user's text embedding: [8 text hash][2 len][model version][dim × float32]
//	P:{U}:lock       string  publish lock: the owning instance's id, with a TTL renewed while it publishes
//	P:{feed}:changes zset    users whose profile changed, not yet labelled; score = Kafka ms of the oldest such event
//	P:{feed}:clock   zset    member "watermark": the newest event time folded (unix s), the event-time clock
//	P:{feed}:inflight zset   users claimed by a label worker; score = lease deadline (unix ms)
//	P:{feed}:due     zset    users to look at again by time alone; score = clock time (unix s) they are due
//	P:{feed}:outbox  zset    users with a label version not yet acknowledged by Kafka; score = unix µs written
//	P:{feed}:encode  zset    users whose text must be (re-)encoded; score = unix ms queued
//	P:{feed}:encoding zset   users claimed by the encoder; score = lease deadline (unix ms)
//
// Every key of one user carries the user id as its hash tag, so the user's
// keys share a Redis Cluster slot and one script may touch them together;
// the shared queues all carry the tag {feed}, so scripts that move users
// between them (Claim, Move) run on a cluster too, on one node.
//
// Scripts are .lua files under scripts/, embedded in the binary. LoadScripts
// loads them all (on every master of a cluster); pipelines call them by
// SHA. After a Redis restart or a failover the server may have forgotten
// them: Recover is the one NOSCRIPT path (it tells whether an error is
// NOSCRIPT, reloads every script, and the caller retries what failed).
//
// All types are safe for concurrent use; a Batch is used by one goroutine.
package keyspace
