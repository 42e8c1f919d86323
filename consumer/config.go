package consumer

import (
	"fmt"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/secure"
)

// Topics names the input topics and the dead-letter topic.
type Topics struct {
	Clickstream string `yaml:"clickstream"` // default events.clickstream
	Purchases   string `yaml:"purchases"`   // default events.purchases
	Reviews     string `yaml:"reviews"`     // default events.reviews
	DLQ         string `yaml:"dlq"`         // default events.dlq
}

// Config configures a Consumer. Zero fields take the documented defaults.
type Config struct {
	Brokers []string `yaml:"brokers"`  // required
	GroupID string   `yaml:"group_id"` // default "segstream"
	// Security: SASL and TLS (kafka.sasl.*, kafka.tls.*) of every Kafka
	// connection of the service, not only the consumer's.
	Security secure.Kafka `yaml:",inline"`
	Topics   Topics       `yaml:"topics"`
	// StartOffset is where a partition without a committed offset starts:
	// "earliest" (default) or "latest".
	StartOffset string `yaml:"start_offset"`

	// MaxBatch is the most messages folded in one batch per partition
	// (default 2000). Larger batches mean fewer Redis round trips per event
	// and more redelivery after a crash.
	MaxBatch int `yaml:"max_batch"`
	// MaxBatchWait is how long a partial batch waits for more messages once
	// it has one (default 20ms): the latency a quiet partition adds.
	MaxBatchWait time.Duration `yaml:"max_batch_wait"`
	// FetchMaxBytes caps one fetch response per partition (default 4 MiB).
	// A partition fetches only when its fold asks for more, so intake stops
	// while Redis is slow, and memory is bounded by about partitions ×
	// (FetchMaxBytes + MaxBatch decoded events).
	FetchMaxBytes int `yaml:"fetch_max_bytes"`
	// FetchMaxWait is how long the broker may hold a fetch for new data (default 250ms).
	FetchMaxWait      time.Duration `yaml:"fetch_max_wait"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"` // default 3s
	SessionTimeout    time.Duration `yaml:"session_timeout"`    // default 30s
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`  // default 30s
	JoinGroupBackoff  time.Duration `yaml:"join_group_backoff"` // default 1s
	// CommitInterval: a partition commits its offset at most this often
	// (default 1s), and always when it goes idle, is revoked or the
	// consumer stops. A commit per batch made small batches (a quiet
	// stream) spend most of their CPU in commits; what a crash leaves
	// uncommitted is redelivered and skipped by the profiles' offset marks.
	// 0 is the default; a negative value commits after every batch.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// CommitTimeout bounds the final commit when a partition is revoked or
	// the consumer stops (default 5s).
	CommitTimeout time.Duration `yaml:"commit_timeout"`
	// RetryBackoff is the pause between attempts when Redis or the DLQ write
	// fails (default 500ms); the batch is retried until it succeeds or the
	// partition is revoked, never skipped.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// AttemptTimeout is the deadline of one attempt to make a batch durable
	// (its fold into Redis and its dead letters; default 30s); a slower
	// attempt fails and is retried.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`

	// Limits bound what the event decoder accepts.
	Limits events.Limits `yaml:"limits"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.GroupID == "" {
		c.GroupID = "segstream"
	}
	if c.Topics.Clickstream == "" {
		c.Topics.Clickstream = "events.clickstream"
	}
	if c.Topics.Purchases == "" {
		c.Topics.Purchases = "events.purchases"
	}
	if c.Topics.Reviews == "" {
		c.Topics.Reviews = "events.reviews"
	}
	if c.Topics.DLQ == "" {
		c.Topics.DLQ = "events.dlq"
	}
	if c.StartOffset == "" {
		c.StartOffset = "earliest"
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 2000
	}
	if c.MaxBatchWait == 0 {
		c.MaxBatchWait = 20 * time.Millisecond
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = 4 << 20
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = 250 * time.Millisecond
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 30 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 30 * time.Second
	}
	if c.JoinGroupBackoff == 0 {
		c.JoinGroupBackoff = time.Second
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = time.Second
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = 5 * time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 30 * time.Second
	}
	c.Limits = c.Limits.WithDefaults()
}

// Validate checks the configuration; every error names its field.
func (c *Config) Validate() error {
	if err := c.Security.Validate("kafka"); err != nil {
		return err
	}
	if len(c.Brokers) == 0 {
		return fmt.Errorf("kafka.brokers: at least one broker address (host:port) is required")
	}
	for i, b := range c.Brokers {
		if b == "" {
			return fmt.Errorf("kafka.brokers[%d]: empty address", i)
		}
	}
	seen := map[string]string{}
	for field, t := range map[string]string{"clickstream": c.Topics.Clickstream, "purchases": c.Topics.Purchases, "reviews": c.Topics.Reviews, "dlq": c.Topics.DLQ} {
		if other, dup := seen[t]; dup {
			return fmt.Errorf("kafka.topics.%s: %q is also kafka.topics.%s; each input and the DLQ need their own topic", field, t, other)
		}
		seen[t] = field
	}
	switch c.StartOffset {
	case "earliest", "latest":
	default:
		return fmt.Errorf("kafka.start_offset: %q must be \"earliest\" or \"latest\"", c.StartOffset)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100_000 {
		return fmt.Errorf("kafka.max_batch: %d is outside 1..100000", c.MaxBatch)
	}
	if c.MaxBatchWait < 0 {
		return fmt.Errorf("kafka.max_batch_wait: %s must not be negative", c.MaxBatchWait)
	}
	if c.AttemptTimeout < 100*time.Millisecond {
		return fmt.Errorf("kafka.attempt_timeout: %s is below 100ms", c.AttemptTimeout)
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("kafka.heartbeat_interval (%s) must be below kafka.session_timeout (%s)", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.FetchMaxBytes < c.Limits.MaxPayloadBytes {
		return fmt.Errorf("kafka.fetch_max_bytes (%d) must be at least events.limits max payload (%d)", c.FetchMaxBytes, c.Limits.MaxPayloadBytes)
	}
	return nil
}

func (c *Config) familyOf(topic string) events.Family {
	switch topic {
	case c.Topics.Clickstream:
		return events.FamilyClickstream
	case c.Topics.Purchases:
		return events.FamilyPurchase
	case c.Topics.Reviews:
		return events.FamilyReview
	}
	return events.FamilyUnknown
}

// InputTopics are the topics the group subscribes to.
func (c *Config) InputTopics() []string {
	return []string{c.Topics.Clickstream, c.Topics.Purchases, c.Topics.Reviews}
}
