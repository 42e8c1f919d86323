package labelstage

import (
	"fmt"
	"time"
)

// Config configures the label stage (YAML section `labels`).
type Config struct {
	// Coalesce is how long a changed user waits (from its oldest
	// unprocessed event) before it is evaluated, so that a burst of events
	// is encoded and classified once (default 50ms).
	Coalesce time.Duration `yaml:"coalesce"`
	// BatchSize is how many users one evaluation takes (default 256).
	BatchSize int `yaml:"batch_size"`
	// Workers evaluating in parallel (default 2).
	Workers int `yaml:"workers"`
	// Lease: a claimed user not finished within it (its instance died) goes
	// back to its queue (default 60s). It is also the deadline of the work
	// on one claimed batch.
	Lease time.Duration `yaml:"lease"`
	// Clock: "event" (default) uses the newest event time folded (so a
	// replay of history produces the changes that would have happened), or
	// "wall".
	Clock string `yaml:"clock"`
	// DueStep: a user is re-evaluated after this much silence (in the
	// clock's time) even without events, so time alone moves labels
	// (default 7 days).
	DueStep time.Duration `yaml:"due_step"`
	// DueHorizon: no more time-driven re-evaluation after this much
	// silence (default 400 days).
	DueHorizon time.Duration `yaml:"due_horizon"`
	// PollInterval is the longest an idle worker waits before it looks at
	// its queue again (default 50ms); it is woken earlier when the oldest
	// waiting user becomes due and by folds of its own process, so this
	// bounds how late other instances' changes are seen.
	PollInterval time.Duration `yaml:"poll_interval"`
	// ScheduleInterval between passes of the scheduler, which requeues due
	// users and expired leases and refreshes the backlog (default 100ms).
	ScheduleInterval time.Duration `yaml:"schedule_interval"`
	// RetryBackoff after a failed claim, evaluation, encode or publish
	// (default 1s).
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// PublishBatch is how many users one publish takes (default 500).
	PublishBatch int `yaml:"publish_batch"`
	// PublishTimeout bounds the Redis reads and writes of one publish
	// round (default 30s). The Kafka write itself is always waited for to
	// its end (bounded by producer.write_timeout × producer.max_attempts),
	// so that none of its messages can land after the lock is released.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// LockTTL is the time to live of a user's publish lock (default 30s).
	// A publisher renews its locks every third of it while it publishes, so
	// a lock outlasts the write however long that takes; the locks of an
	// instance that died free themselves after it; after a failed Kafka
	// write the locks are left to expire rather than released, so a
	// request still in the broker's hands cannot land after a newer
	// version published by another instance.
	LockTTL time.Duration `yaml:"lock_ttl"`
	// EncodeBatch is how many profile texts one encoder call takes
	// (default 16: a call holds its cores for as long as its batch takes,
	// so smaller calls keep label latency flat beside the encoder). Encoding runs beside labelling: a user whose text
	// changed is labelled at once with its previous embedding and queued
	// for encoding (once, however many changes wait), then labelled again
	// with the new one; so the encoder's speed bounds how fresh interests
	// are, not the latency of the other labels.
	EncodeBatch int `yaml:"encode_batch"`
	// EncodeShare bounds the encoder's share of wall time (default 1, no
	// pause): after an encoder call that took d, the encoder waits
	// d × (1 − share) / share before its next. In the service the encoder
	// already has only half the cores (encoder.intra_op_threads), which
	// keeps labels within their latency; a lower share leaves more CPU to
	// the rest of the machine and lets interests lag further.
	EncodeShare float64 `yaml:"encode_share"`
	// EncodeYield: before each encoder call the encoder waits while this
	// process's evaluators are labelling, at most this long (default 0:
	// off). Labels go first and interests take the gaps; the bound keeps
	// interests moving under a stream that never leaves a gap.
	EncodeYield time.Duration `yaml:"encode_yield"`
	// MaxBacklog pauses intake (every partition waits before its next fetch)
	// while more users than this wait for labelling or encoding (default
	// 100000): backpressure from the label stage and the encoder to the
	// consumer. The queues are per-user sets, so they never hold more than
	// one entry per user anyway.
	MaxBacklog int64 `yaml:"max_backlog"`
	// History is how many label versions each user's history keeps
	// (default 50; the read API's /v1/users/{id}/history and ?at=): one
	// entry per version with the segments after it and the changes that
	// led to it, written with the version in one step.
	History int `yaml:"history"`
	// NoEncoder runs without text embeddings (interests off).
	NoEncoder bool `yaml:"-"`
}

// SetDefaults fills zero fields with the documented defaults.
func (c *Config) SetDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.Coalesce, 50*time.Millisecond)
	set(&c.Lease, 60*time.Second)
	set(&c.DueStep, 7*24*time.Hour)
	set(&c.DueHorizon, 400*24*time.Hour)
	set(&c.PollInterval, 50*time.Millisecond)
	set(&c.ScheduleInterval, 100*time.Millisecond)
	set(&c.RetryBackoff, time.Second)
	set(&c.PublishTimeout, 30*time.Second)
	set(&c.LockTTL, 30*time.Second)
	if c.BatchSize == 0 {
		c.BatchSize = 256
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Clock == "" {
		c.Clock = "event"
	}
	if c.PublishBatch == 0 {
		c.PublishBatch = 500
	}
	if c.EncodeBatch == 0 {
		c.EncodeBatch = 16
	}
	if c.EncodeShare == 0 {
		c.EncodeShare = 1
	}
	if c.MaxBacklog == 0 {
		c.MaxBacklog = 100_000
	}
	if c.History == 0 {
		c.History = 50
	}
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	switch {
	case c.Clock != "event" && c.Clock != "wall":
		return fmt.Errorf("labels.clock: %q must be event or wall", c.Clock)
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return fmt.Errorf("labels.batch_size: %d is outside 1..10000", c.BatchSize)
	case c.Workers < 1 || c.Workers > 64:
		return fmt.Errorf("labels.workers: %d is outside 1..64", c.Workers)
	case c.Lease < time.Second:
		return fmt.Errorf("labels.lease: %s is below 1s", c.Lease)
	case c.Coalesce < 0:
		return fmt.Errorf("labels.coalesce: %s must not be negative", c.Coalesce)
	case c.DueStep < time.Minute:
		return fmt.Errorf("labels.due_step: %s is below 1m", c.DueStep)
	case c.PollInterval < time.Millisecond:
		return fmt.Errorf("labels.poll_interval: %s is below 1ms", c.PollInterval)
	case c.ScheduleInterval < time.Millisecond:
		return fmt.Errorf("labels.schedule_interval: %s is below 1ms", c.ScheduleInterval)
	case c.RetryBackoff < time.Millisecond:
		return fmt.Errorf("labels.retry_backoff: %s is below 1ms", c.RetryBackoff)
	case c.PublishBatch < 1 || c.PublishBatch > 10000:
		return fmt.Errorf("labels.publish_batch: %d is outside 1..10000", c.PublishBatch)
	case c.EncodeBatch < 1 || c.EncodeBatch > 4096:
		return fmt.Errorf("labels.encode_batch: %d is outside 1..4096", c.EncodeBatch)
	case c.PublishTimeout < 10*time.Millisecond:
		return fmt.Errorf("labels.publish_timeout: %s is below 10ms", c.PublishTimeout)
	case c.LockTTL < 30*time.Millisecond:
		return fmt.Errorf("labels.lock_ttl: %s is below 30ms", c.LockTTL)
	case c.EncodeYield < 0:
		return fmt.Errorf("labels.encode_yield: %s is negative", c.EncodeYield)
	case !(c.EncodeShare > 0 && c.EncodeShare <= 1):
		return fmt.Errorf("labels.encode_share: %g is outside (0, 1]", c.EncodeShare)
	case c.History < 1 || c.History > 10000:
		return fmt.Errorf("labels.history: %d is outside 1..10000", c.History)
	case c.MaxBacklog < 1:
		return fmt.Errorf("labels.max_backlog: %d must be at least 1", c.MaxBacklog)
	}
	return nil
}
