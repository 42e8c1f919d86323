// Package consumer reads the input topics with a kafka-go consumer group,
// decodes events strictly, folds them into profiles in micro-batches per
// partition, routes bad events to the dead-letter topic, and commits an
// offset only once everything before it is durable (in Redis, or in the DLQ).
//
// Concurrency: one goroutine per assigned partition, owned by the group
// generation; a partition's messages are folded in offset order, so a
// user's events (keyed by user_id) stay ordered per topic. Backpressure:
// the fold is synchronous in the partition goroutine and a partition
// fetches only when its fold asks for more, so a slow Redis stops intake;
// memory is bounded by about partitions × (FetchMaxBytes + MaxBatch events).
//
// Rebalance: when the generation ends, each partition goroutine finishes the
// batch in hand, makes a final commit attempt and exits; the fold is
// idempotent (see featurestore), so anything redelivered to the next owner
// is skipped. Shutdown (ctx cancelled) drains the same way before the
// group is left.
//
// Metrics are listed in metrics.go.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/segstream/segstream/events"
	"runtime/pprof"
)

// Folder is the stage behind the consumer: it makes a batch of records
// durable (featurestore.Store, wired by the service). Fold must be
// idempotent under redelivery.
type Folder interface {
	Fold(ctx context.Context, recs []events.Record) (Folded, error)
}

// Folded is what the consumer learns of a fold: the events it skipped as
// already applied (a redelivery) or as duplicates of a recent event_id.
type Folded struct {
	SkippedOffset, SkippedDupID int
}

// FoldFunc adapts a function to Folder.
type FoldFunc func(ctx context.Context, recs []events.Record) (Folded, error)

// Fold calls f.
func (f FoldFunc) Fold(ctx context.Context, recs []events.Record) (Folded, error) {
	return f(ctx, recs)
}

// Hooks let tests observe or interrupt the consumer. All are optional.
type Hooks struct {
	// AfterFold runs after a batch is durable and before its offset is
	// committed. Returning an error stops the consumer without committing,
	// as a crash at that point would.
	AfterFold func(topic string, partition int, lastOffset int64) error
	// Clock returns the time used to judge far-future events (default time.Now).
	Clock func() time.Time
}

// Consumer is one member of the segstream consumer group.
type Consumer struct {
	cfg    Config
	fold   Folder
	log    *zap.Logger
	m      *metrics
	hooks  Hooks
	dialer *kafka.Dialer
	dlq    *kafka.Writer

	workers  sync.WaitGroup // partition goroutines of the current generation
	gate     func(ctx context.Context) error
	mu       sync.Mutex
	assigned map[string][]int // current assignment, for tests and logs
	crashErr error
}

// New builds a Consumer. log and reg may be nil.
func New(cfg Config, fold Folder, log *zap.Logger, reg prometheus.Registerer, hooks Hooks) (*Consumer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if hooks.Clock == nil {
		hooks.Clock = time.Now
	}
	dialer, err := cfg.Security.Dialer(10 * time.Second)
	if err != nil {
		return nil, err
	}
	transport, err := cfg.Security.Transport()
	if err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg:    cfg,
		fold:   fold,
		log:    log.With(zap.String("component", "consumer"), zap.String("group", cfg.GroupID)),
		m:      newMetrics(reg),
		hooks:  hooks,
		dialer: dialer,
	}
	c.dlq = &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topics.DLQ,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    cfg.MaxBatch,
		BatchBytes:   int64(cfg.FetchMaxBytes) + 1<<20,
		Transport:    transport,
	}
	return c, nil
}

// SetGate installs a function every partition calls before fetching its
// next batch; it blocks while the stages behind the fold are saturated (the
// label stage's backlog), so intake pauses instead of queues growing. Call
// before Run.
func (c *Consumer) SetGate(gate func(ctx context.Context) error) { c.gate = gate }

// Assigned returns the partitions this member currently owns, by topic.
func (c *Consumer) Assigned() map[string][]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]int, len(c.assigned))
	for t, ps := range c.assigned {
		out[t] = append([]int(nil), ps...)
	}
	return out
}

// errStop ends Run: a hook simulated a crash.
var errStop = errors.New("consumer: stopped by hook")

// Run joins the group and consumes until ctx is cancelled, then drains
// in-flight batches, commits and leaves the group. It returns nil on a
// clean shutdown.
func (c *Consumer) Run(ctx context.Context) error {
	start := kafka.FirstOffset
	if c.cfg.StartOffset == "latest" {
		start = kafka.LastOffset
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Dialer:            c.dialer,
		Topics:            c.cfg.InputTopics(),
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		JoinGroupBackoff:  c.cfg.JoinGroupBackoff,
		StartOffset:       start,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { c.log.Debug("kafka-go group", zap.String("msg", fmt.Sprintf(f, a...))) }),
	})
	if err != nil {
		return fmt.Errorf("consumer: creating group %q: %w", c.cfg.GroupID, err)
	}
	defer func() {
		_ = c.dlq.Close()
	}()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	c.log.Info("joining consumer group", zap.Strings("topics", c.cfg.InputTopics()), zap.Strings("brokers", c.cfg.Brokers))
	for {
		gen, err := group.Next(ctx)
		if err != nil && ctx.Err() == nil && !errors.Is(err, kafka.ErrGroupClosed) {
			// Join/sync failures and rebalances in progress are reported here
			// while the group keeps retrying on its own (with JoinGroupBackoff).
			c.setAssigned(nil)
			c.m.groupErrors.Inc()
			c.log.Warn("consumer group not joined yet, retrying (is the broker reachable and are the topics created?)", zap.Error(err))
			continue
		}
		if err != nil {
			// Let the partition goroutines drain and commit while the
			// generation is still valid, then leave the group.
			c.workers.Wait()
			_ = group.Close()
			c.setAssigned(nil)
			c.mu.Lock()
			cerr := c.crashErr
			c.mu.Unlock()
			if cerr != nil {
				return cerr
			}
			c.log.Info("left consumer group")
			return nil
		}
		c.startGeneration(ctx, stop, gen)
	}
}

func (c *Consumer) setAssigned(a map[string][]int) {
	c.mu.Lock()
	c.assigned = a
	c.mu.Unlock()
}

func (c *Consumer) startGeneration(ctx context.Context, stop context.CancelFunc, gen *kafka.Generation) {
	assigned := map[string][]int{}
	n := 0
	for topic, parts := range gen.Assignments {
		for _, p := range parts {
			assigned[topic] = append(assigned[topic], p.ID)
			n++
		}
	}
	c.setAssigned(assigned)
	c.log.Info("generation assigned", zap.Int32("generation", gen.ID), zap.String("member", gen.MemberID), zap.Int("partitions", n), zap.Any("assignment", assigned))
	for topic, parts := range gen.Assignments {
		for _, p := range parts {
			c.workers.Add(1)
			gen.Start(func(genCtx context.Context) {
				defer c.workers.Done()
				var err error
				// the CPU profile's "stage" label: fetch, decode and fold
				pprof.Do(genCtx, pprof.Labels("stage", "fold"), func(genCtx context.Context) {
					err = c.runPartition(ctx, genCtx, gen, topic, p.ID, p.Offset)
				})
				if errors.Is(err, errStop) {
					c.mu.Lock()
					c.crashErr = err
					c.mu.Unlock()
					stop()
				}
			})
		}
	}
}

// runPartition owns one partition for one generation. runCtx is the
// consumer's lifetime, genCtx the generation's.
func (c *Consumer) runPartition(runCtx, genCtx context.Context, gen *kafka.Generation, topic string, partition int, offset int64) error {
	log := c.log.With(zap.String("topic", topic), zap.Int("partition", partition))
	fetch := &fetcher{dialer: c.dialer, brokers: c.cfg.Brokers, topic: topic, partition: partition,
		maxBytes: c.cfg.FetchMaxBytes, maxWait: c.cfg.FetchMaxWait, next: offset}
	defer fetch.close()
	log.Info("partition assigned", zap.Int64("start_offset", offset))

	// Stop fetching when either the generation ends or the consumer stops.
	fetchCtx, cancel := context.WithCancel(genCtx)
	defer cancel()
	go func() {
		select {
		case <-runCtx.Done():
			cancel()
		case <-fetchCtx.Done():
		}
	}()

	family := c.cfg.familyOf(topic)
	source := topic + "/" + strconv.Itoa(partition)
	pl := prometheus.Labels{"topic": topic, "partition": strconv.Itoa(partition)}
	lagGauge := c.m.lag.With(pl)
	defer c.m.lag.Delete(pl)
	msgs := make([]kafka.Message, 0, c.cfg.MaxBatch)
	recs := make([]events.Record, 0, c.cfg.MaxBatch)
	var dead []kafka.Message
	var committed int64 = -1
	// the offset after the last durable batch, committed at most every
	// kafka.commit_interval, when the partition goes idle and when it ends
	var pending int64 = -1
	var lastCommit time.Time
	crashed := false // a hook simulated a crash: commit nothing more
	flush := func() {
		if pending < 0 {
			return
		}
		if err := c.commit(gen, topic, partition, pending); err != nil {
			log.Warn("offset commit failed; the range will be redelivered and skipped", zap.Int64("offset", pending), zap.Error(err))
			return
		}
		committed, pending, lastCommit = pending, -1, time.Now()
	}
	defer func() {
		if !crashed {
			flush()
		}
	}()

	for {
		msgs = msgs[:0]
		if c.gate != nil {
			if err := c.gate(fetchCtx); err != nil {
				log.Info("partition released while paused", zap.Int64("committed", committed))
				return nil
			}
		}
		err := c.collect(fetchCtx, fetch, &msgs, pending >= 0)
		if len(msgs) > 0 {
			recs, dead = recs[:0], dead[:0]
			now := c.hooks.Clock()
			for i := range msgs {
				m := &msgs[i]
				ev, derr := events.Decode(m.Value, c.cfg.Limits, now)
				if derr == nil && ev.Type.Family() != family {
					derr = &events.DecodeError{Reason: events.ReasonTopicMismatch, Field: "type",
						Detail: fmt.Sprintf("%s event on topic %s (a %s topic)", ev.Type, topic, family)}
				}
				if derr != nil {
					dead = append(dead, deadLetter(m, derr))
					c.m.dlq.WithLabelValues(string(derr.Reason)).Inc()
					continue
				}
				recs = append(recs, events.Record{Event: ev, Source: source, Offset: m.Offset, Received: m.Time})
			}
			c.m.eventsIn.WithLabelValues(topic).Add(float64(len(msgs)))
			c.m.batchSize.Observe(float64(len(msgs)))
			// Make the batch durable. Redis and the DLQ are retried until they
			// succeed; only losing the partition ends the attempt (the next
			// owner redelivers, and the fold skips what was applied).
			if !c.durable(genCtx, runCtx, log, recs, dead) {
				log.Info("partition revoked before the batch was durable; the next owner redelivers it", zap.Int64("first_offset", msgs[0].Offset))
				return nil
			}
			last := msgs[len(msgs)-1]
			lagGauge.Set(float64(last.HighWaterMark - last.Offset - 1))
			if c.hooks.AfterFold != nil {
				if herr := c.hooks.AfterFold(topic, partition, last.Offset); herr != nil {
					log.Warn("stopping without commit (hook)", zap.Error(herr))
					crashed = true
					return errStop
				}
			}
			pending = last.Offset + 1
			if time.Since(lastCommit) >= c.cfg.CommitInterval {
				flush()
			}
		}
		if errors.Is(err, errIdle) {
			flush()
			continue
		}
		if err != nil {
			if fetchCtx.Err() != nil {
				log.Info("partition released", zap.Int64("committed", committed), zap.Bool("shutdown", runCtx.Err() != nil))
				return nil
			}
			log.Warn("fetch failed, retrying", zap.Error(err))
			select {
			case <-fetchCtx.Done():
				return nil
			case <-time.After(c.cfg.RetryBackoff):
			}
		}
	}
}

// errIdle: a fetch wait passed without a message while an offset waited
// to be committed.
var errIdle = errors.New("partition idle")

// collect blocks for the first message, then gathers more until MaxBatch
// or MaxBatchWait. It returns the fetch error that ended collection, if any
// (messages gathered before it are still returned); with idle set, errIdle
// when a fetch wait passes without the first message.
func (c *Consumer) collect(ctx context.Context, f *fetcher, out *[]kafka.Message, idle bool) error {
	for {
		m, err := f.read(ctx, c.cfg.FetchMaxWait)
		if errors.Is(err, errNoData) {
			if idle {
				return errIdle
			}
			continue
		}
		if err != nil {
			return err
		}
		*out = append(*out, m)
		break
	}
	deadline := time.Now().Add(c.cfg.MaxBatchWait)
	for len(*out) < c.cfg.MaxBatch {
		left := time.Until(deadline)
		if left <= 0 && !f.buffered() {
			return nil
		}
		m, err := f.read(ctx, max(left, time.Millisecond))
		if errors.Is(err, errNoData) {
			return nil
		}
		if err != nil {
			if len(*out) > 0 && ctx.Err() == nil {
				return nil // report it on the next call, after this batch is durable
			}
			return err
		}
		*out = append(*out, m)
	}
	return nil
}

// durable folds recs and writes dead letters, retrying failures until
// success. It reports false if the partition was revoked, or the consumer
// stopped, before that. Each attempt runs under its own deadline, not
// runCtx, so that a batch in hand is finished during shutdown.
func (c *Consumer) durable(genCtx, runCtx context.Context, log *zap.Logger, recs []events.Record, dead []kafka.Message) bool {
	foldDone, dlqDone := len(recs) == 0, len(dead) == 0
	for attempt := 0; ; attempt++ {
		wctx, cancel := context.WithTimeout(context.Background(), c.cfg.AttemptTimeout)
		if !foldDone {
			t0 := time.Now()
			res, err := c.fold.Fold(wctx, recs)
			if err != nil {
				log.Error("fold failed, retrying", zap.Int("events", len(recs)), zap.Int("attempt", attempt), zap.Error(err))
				c.m.retries.WithLabelValues("fold").Inc()
			} else {
				foldDone = true
				now := time.Now()
				c.m.foldSeconds.Observe(now.Sub(t0).Seconds())
				if oldest := events.OldestReceived(recs); !oldest.IsZero() {
					c.m.eventToFold.Observe(now.Sub(oldest).Seconds())
				}
				c.m.skipped.WithLabelValues("offset").Add(float64(res.SkippedOffset))
				c.m.skipped.WithLabelValues("dup_id").Add(float64(res.SkippedDupID))
			}
		}
		if !dlqDone {
			if err := c.dlq.WriteMessages(wctx, dead...); err != nil {
				log.Error("dead-letter write failed, retrying", zap.Int("messages", len(dead)), zap.Int("attempt", attempt), zap.Error(err))
				c.m.retries.WithLabelValues("dlq").Inc()
			} else {
				dlqDone = true
			}
		}
		cancel()
		if foldDone && dlqDone {
			return true
		}
		select {
		case <-genCtx.Done():
			return false
		case <-runCtx.Done():
			// shutting down while Redis or the DLQ is failing: leave the
			// batch uncommitted; the next owner redelivers it
			return false
		case <-time.After(c.cfg.RetryBackoff):
		}
	}
}

func (c *Consumer) commit(gen *kafka.Generation, topic string, partition int, next int64) error {
	done := make(chan error, 1)
	go func() { done <- gen.CommitOffsets(map[string]map[int]int64{topic: {partition: next}}) }()
	select {
	case err := <-done:
		if err == nil {
			c.m.commits.Inc()
		}
		return err
	case <-time.After(c.cfg.CommitTimeout):
		return fmt.Errorf("commit timed out after %s", c.cfg.CommitTimeout)
	}
}

// Dead-letter headers. The value and key are the original bytes.
const (
	HeaderReason          = "reason"
	HeaderField           = "field"
	HeaderDetail          = "detail"
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	HeaderSourceTime      = "source_timestamp"
)

func deadLetter(m *kafka.Message, de *events.DecodeError) kafka.Message {
	return kafka.Message{
		Key:   m.Key,
		Value: m.Value,
		Headers: []kafka.Header{
			{Key: HeaderReason, Value: []byte(de.Reason)},
			{Key: HeaderField, Value: []byte(de.Field)},
			{Key: HeaderDetail, Value: []byte(de.Detail)},
			{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
			{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(m.Partition))},
			{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
			{Key: HeaderSourceTime, Value: []byte(m.Time.UTC().Format(time.RFC3339Nano))},
		},
	}
}
