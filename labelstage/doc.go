// Package labelstage is the label stage: it takes changed users off the
// change feed, classifies them, stores a new label version when their
// segments changed, re-encodes those whose text changed, looks again at
// users that time alone may move, and publishes every version through an
// outbox.
//
// File map, one job each:
//
//	stage.go     Stage, New, Run, the Segmenter and Publisher it uses, the intake gate (WaitBacklog)
//	config.go    Config (YAML section labels) with defaults and Validate
//	work.go      the claim loop over a keyspace.Queue shared by evaluation and encoding; hand-back on failure;
//	             the idle wait (until the oldest waiting user is due, a wake-up, or labels.poll_interval)
//	evaluate.go  one evaluation batch: read (one round trip), decide (Segmenter), version (label.Next), write (keyspace.Batch); its flow counts go with the next claim
//	encode.go    one encoder batch: profile texts → embeddings, then the users back on the change feed
//	schedule.go  due users and expired leases back to their queues; queue sizes for gauges and the gate
//	publish.go   the outbox: lock, read the latest version, publish, mark published
//	record.go    the label record's Redis hash codec
//	embedding.go the embedding record's codec
//	operator.go  Label, Erase, Pending, PublishPending (the CLI's calls)
//	metrics.go   segstream_labels_* (listed there)
//
// Profiles are read only through featurestore (Store.QueueReads); every key
// comes from keyspace; the output contract (documents, changes, versions)
// is package label.
//
// Concurrency and safety with several instances: a user is claimed by one
// worker at a time (a lease in {feed}:inflight; a dead worker's users come
// back when it ends); the label write is a compare-and-set on the record's
// version; the outbox entry is written before the record it announces, so
// a crash between them leaves an entry the publisher settles; one instance
// at a time publishes a user (keyspace.Locker, renewed while the write
// runs, released only by its owner), and it reads the newest version under
// the lock, so a user's versions reach Kafka in order.
//
// Defaults: see Config.SetDefaults (coalesce 50ms, batch 256, 2 workers,
// lease 60s, event clock, due step 7 days, horizon 400 days, lock TTL 30s).
package labelstage
