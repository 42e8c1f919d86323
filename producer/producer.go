// Package producer publishes segment labels (the documents and changes of
// package label, the output contract) to Kafka: the current label document
// of each user on the compacted topic `segments.labels` (key user_id; a
// tombstone when a user is erased), one message per segment entry or exit
// on `segments.changes` (the segment also as the `segment` header, so a
// churn-alert system can filter on at_risk), and optional routes that copy
// chosen changes to other topics (at_risk entries to alerts.churn, say).
//
// Publishing is at least once: a document may be published again after a
// crash, never two different documents under one (user_id, version), so
// consumers de-duplicate by (user_id, version). The Publisher is safe for
// concurrent use.
package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/secure"
)

// Route copies changes of one segment (and optionally one kind) to a topic.
type Route struct {
	Segment string `yaml:"segment"`
	Change  string `yaml:"change"` // entered | exited | "" for both
	Topic   string `yaml:"topic"`
}

// Config configures a Publisher.
type Config struct {
	Brokers []string `yaml:"-"`
	// Security of the connections (the service passes kafka.sasl, kafka.tls).
	Security     secure.Kafka `yaml:"-"`
	LabelsTopic  string       `yaml:"labels_topic"`  // default segments.labels (created compacted)
	ChangesTopic string       `yaml:"changes_topic"` // default segments.changes
	Routes       []Route      `yaml:"routes"`
	// BatchSize is how many messages the writer sends per partition and
	// request at most (default 1000).
	BatchSize int `yaml:"batch_size"`
	// BatchTimeout is how long the writer waits to fill a batch (default 2ms).
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// WriteTimeout bounds one produce request (default 10s).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxAttempts is how many times a batch is sent before the write fails
	// (default 3). A Publish returns after at most about MaxAttempts ×
	// (WriteTimeout + 1s backoff), and never leaves messages in flight.
	MaxAttempts int `yaml:"max_attempts"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.LabelsTopic == "" {
		c.LabelsTopic = "segments.labels"
	}
	if c.ChangesTopic == "" {
		c.ChangesTopic = "segments.changes"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 2 * time.Millisecond
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	if c.LabelsTopic == c.ChangesTopic {
		return fmt.Errorf("producer.changes_topic: %q is also producer.labels_topic", c.ChangesTopic)
	}
	switch {
	case c.BatchSize < 1 || c.BatchSize > 100000:
		return fmt.Errorf("producer.batch_size: %d is outside 1..100000", c.BatchSize)
	case c.BatchTimeout < 0:
		return fmt.Errorf("producer.batch_timeout: %s must not be negative", c.BatchTimeout)
	case c.WriteTimeout < 10*time.Millisecond:
		return fmt.Errorf("producer.write_timeout: %s is below 10ms", c.WriteTimeout)
	case c.MaxAttempts < 1 || c.MaxAttempts > 100:
		return fmt.Errorf("producer.max_attempts: %d is outside 1..100", c.MaxAttempts)
	}
	for i, r := range c.Routes {
		switch {
		case r.Segment == "":
			return fmt.Errorf("producer.routes[%d].segment: required", i)
		case r.Topic == "":
			return fmt.Errorf("producer.routes[%d].topic: required", i)
		case r.Change != "" && r.Change != label.Entered && r.Change != label.Exited:
			return fmt.Errorf("producer.routes[%d].change: %q must be entered, exited or empty", i, r.Change)
		case r.Topic == c.LabelsTopic:
			return fmt.Errorf("producer.routes[%d].topic: the labels topic is compacted by user; route changes elsewhere", i)
		}
	}
	return nil
}

// Topics lists every topic the publisher writes.
func (c *Config) Topics() []string {
	out := []string{c.LabelsTopic, c.ChangesTopic}
	for _, r := range c.Routes {
		out = append(out, r.Topic)
	}
	return out
}

// Publisher writes publications to Kafka.
type Publisher struct {
	cfg Config
	w   *kafka.Writer
}

// New returns a Publisher with its own transport.
func New(cfg Config) (*Publisher, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("producer: no brokers")
	}
	transport, err := cfg.Security.Transport()
	if err != nil {
		return nil, err
	}
	return &Publisher{cfg: cfg, w: &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.BatchTimeout,
		BatchSize:    cfg.BatchSize,
		WriteTimeout: cfg.WriteTimeout,
		MaxAttempts:  cfg.MaxAttempts,
		Transport:    transport,
	}}, nil
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }

// Messages renders publications as Kafka messages, in order: for each user,
// its changes, then its label document (so a reader of the labels topic
// never sees a version whose changes were not sent).
func (p *Publisher) Messages(pubs []label.Publication) ([]kafka.Message, error) {
	var msgs []kafka.Message
	for _, pub := range pubs {
		key := []byte(pub.UserID)
		for _, ch := range pub.Changes {
			b, err := json.Marshal(ch)
			if err != nil {
				return nil, err
			}
			h := []kafka.Header{{Key: "segment", Value: []byte(ch.Segment)}, {Key: "change", Value: []byte(ch.Change)},
				{Key: "version", Value: []byte(strconv.FormatInt(ch.Version, 10))}}
			msgs = append(msgs, kafka.Message{Topic: p.cfg.ChangesTopic, Key: key, Value: b, Headers: h})
			for _, r := range p.cfg.Routes {
				if r.Segment == ch.Segment && (r.Change == "" || r.Change == ch.Change) {
					msgs = append(msgs, kafka.Message{Topic: r.Topic, Key: key, Value: b, Headers: h})
				}
			}
		}
		if pub.Erased {
			msgs = append(msgs, kafka.Message{Topic: p.cfg.LabelsTopic, Key: key, Value: nil})
			continue
		}
		b, err := json.Marshal(pub.Label)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, kafka.Message{Topic: p.cfg.LabelsTopic, Key: key, Value: b,
			Headers: []kafka.Header{{Key: "version", Value: []byte(strconv.FormatInt(pub.Label.Version, 10))}}})
	}
	return msgs, nil
}

// Publish sends publications and returns once the broker acknowledged all,
// or the writer gave up on them. It does not return early when ctx ends:
// kafka-go keeps sending a batch whose caller stopped waiting, so an early
// return would let an old version land after a newer one that a caller
// published next. Config.WriteTimeout × Config.MaxAttempts bounds it.
func (p *Publisher) Publish(ctx context.Context, pubs []label.Publication) error {
	msgs, err := p.Messages(pubs)
	if err != nil || len(msgs) == 0 {
		return err
	}
	if err := p.w.WriteMessages(context.WithoutCancel(ctx), msgs...); err != nil {
		return fmt.Errorf("producer: publishing %d messages: %w", len(msgs), err)
	}
	return nil
}

// TopicConfigs describes the output topics for creation: the labels topic
// with cleanup.policy=compact (the latest document per user is what it
// keeps), the changes topic and the route targets.
func (c Config) TopicConfigs(partitions, replication int) []kafka.TopicConfig {
	c.SetDefaults()
	var out []kafka.TopicConfig
	seen := map[string]bool{}
	for _, t := range c.Topics() {
		if seen[t] {
			continue
		}
		seen[t] = true
		tc := kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication}
		if t == c.LabelsTopic {
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		out = append(out, tc)
	}
	return out
}
