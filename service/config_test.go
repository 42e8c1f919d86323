package service

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write(`
kafka:
  brokers: [kafka-1:9092, kafka-2:9092]
  group_id: seg
  max_batch: 5000
  max_batch_wait: 40ms
  limits:
    max_payload_bytes: 131072
redis:
  addrs: [redis:6379]
featurestore:
  prefix: prod
  limits:
    text_ring_bytes: 2048
`)
	c, err := LoadConfig(good, []string{"SEGSTREAM_KAFKA_MAX_BATCH=7000", "SEGSTREAM_REDIS_ADDRS=r1:6379, r2:6379", "SEGSTREAM_REDIS_CLUSTER=true", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.MaxBatch != 7000 || c.Kafka.MaxBatchWait != 40*time.Millisecond || c.Kafka.GroupID != "seg" || len(c.Kafka.Brokers) != 2 {
		t.Errorf("kafka: %+v", c.Kafka.Config)
	}
	if c.Kafka.Limits.MaxPayloadBytes != 131072 || c.Kafka.Limits.MaxItems != 1000 {
		t.Errorf("limits: %+v", c.Kafka.Limits)
	}
	if strings.Join(c.Redis.Addrs, ",") != "r1:6379,r2:6379" || !c.Redis.Cluster {
		t.Errorf("redis: %+v", c.Redis)
	}
	if c.Featurestore.Prefix != "prod" || c.Featurestore.Limits.TextRingBytes != 2048 || c.Featurestore.Limits.RetentionDays != 90 {
		t.Errorf("featurestore: %+v", c.Featurestore)
	}
	if c.GC.Percent != 400 || c.GC.MemoryLimitBytes != 0 {
		t.Errorf("gc defaults: %+v", c.GC)
	}
	if c.Kafka.Topics.DLQ != "events.dlq" || c.HTTP.Listen != ":9464" || !*c.Kafka.CreateTopics {
		t.Errorf("defaults not applied: %+v %+v", c.Kafka.Topics, c.HTTP)
	}

	bad := []struct {
		name, yaml string
		env        []string
		field      string
	}{
		{"no brokers", "redis: {addrs: [r:1]}\n", nil, "kafka.brokers"},
		{"misspelt option", "kafka: {brokers: [k:1], max_bach: 3}\n", nil, "max_bach"},
		{"batch too big", "kafka: {brokers: [k:1], max_batch: 1000000}\n", nil, "kafka.max_batch"},
		{"start offset", "kafka: {brokers: [k:1], start_offset: middle}\n", nil, "kafka.start_offset"},
		{"same topic twice", "kafka: {brokers: [k:1], topics: {dlq: events.reviews}}\n", nil, "kafka.topics."},
		{"heartbeat vs session", "kafka: {brokers: [k:1], heartbeat_interval: 40s}\n", nil, "kafka.heartbeat_interval"},
		{"redis addr", "kafka: {brokers: [k:1]}\nredis: {addrs: [nohostport]}\n", nil, "redis.addrs[0]"},
		{"prefix braces", "kafka: {brokers: [k:1]}\nfeaturestore: {prefix: 'a{b}'}\n", nil, "featurestore.prefix"},
		{"log level", "kafka: {brokers: [k:1]}\nlog: {level: loud}\n", nil, "log.level"},
		{"env not a number", "kafka: {brokers: [k:1]}\n", []string{"SEGSTREAM_KAFKA_MAX_BATCH=lots"}, "kafka.max_batch"},
		{"env bad duration", "kafka: {brokers: [k:1]}\n", []string{"SEGSTREAM_KAFKA_MAX_BATCH_WAIT=soon"}, "kafka.max_batch_wait"},
		{"negative replicas", "kafka: {brokers: [k:1]}\nfeaturestore: {wait_replicas: -1}\n", nil, "featurestore.wait_replicas"},
		{"wait above redis timeout", "kafka: {brokers: [k:1]}\nfeaturestore: {wait_replicas: 1, wait_timeout: 5s}\n", nil, "featurestore.wait_timeout"},
		{"attempt timeout", "kafka: {brokers: [k:1], attempt_timeout: 1ms}\n", nil, "kafka.attempt_timeout"},
		{"lock ttl", "kafka: {brokers: [k:1]}\nlabels: {lock_ttl: 1ms}\n", nil, "labels.lock_ttl"},
		{"publish timeout", "kafka: {brokers: [k:1]}\nlabels: {publish_timeout: 1ms}\n", nil, "labels.publish_timeout"},
		{"producer attempts", "kafka: {brokers: [k:1]}\nproducer: {max_attempts: 0, batch_size: -1}\n", nil, "producer.batch_size"},
		{"producer write timeout", "kafka: {brokers: [k:1]}\nproducer: {write_timeout: 1ms}\n", nil, "producer.write_timeout"},
		{"text entry above ring", "kafka: {brokers: [k:1]}\nfeaturestore: {limits: {text_entry_bytes: 4096}}\n", nil, "featurestore.limits.text_entry_bytes"},
		{"encoder model without a dir", "kafka: {brokers: [k:1]}\nencoder: {models: [{language: en, model_dir: a}, {language: zh}]}\n", nil, "encoder.models[1]"},
		{"encoder language twice", "kafka: {brokers: [k:1]}\nencoder: {models: [{language: en, model_dir: a}, {language: en, model_dir: b}]}\n", nil, "encoder.models[1]"},
		{"default language without a model", "kafka: {brokers: [k:1]}\nencoder: {default_language: fr}\n", nil, "encoder.default_language"},
		{"sentiment model without a file", "kafka: {brokers: [k:1]}\nsentiment: {models: [{language: zh}]}\n", nil, "sentiment.models[0]"},
		{"sentiment band", "kafka: {brokers: [k:1]}\nsentiment: {threshold: 0.9, neutral: 0.2}\n", nil, "sentiment.threshold"},
		{"encode yield", "kafka: {brokers: [k:1]}\nlabels: {encode_yield: -1s}\n", nil, "labels.encode_yield"},
		{"gc percent", "kafka: {brokers: [k:1]}\ngc: {percent: 5}\n", nil, "gc.percent"},
		{"gc percent from the environment", "kafka: {brokers: [k:1]}\n", []string{"SEGSTREAM_GC_PERCENT=-1"}, "gc.percent"},
		{"gc memory limit", "kafka: {brokers: [k:1]}\ngc: {memory_limit_bytes: -1}\n", nil, "gc.memory_limit_bytes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(write(tc.yaml), tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

// The timeouts and writer settings that were hard-coded (30s publish
// deadline and lock TTL, the writer's batch size and timeout) are options
// with documented defaults, settable from YAML and the environment.
func TestTimeoutsAndWriterSettingsAreConfigurable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(`
kafka: {brokers: [k:1], attempt_timeout: 7s}
labels: {publish_timeout: 12s, lock_ttl: 45s, retry_backoff: 250ms, schedule_interval: 20ms}
producer: {batch_size: 200, batch_timeout: 5ms, write_timeout: 4s}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p, []string{"SEGSTREAM_PRODUCER_MAX_ATTEMPTS=5", "SEGSTREAM_LABELS_LOCK_TTL=40s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.AttemptTimeout != 7*time.Second {
		t.Errorf("kafka.attempt_timeout: %s", c.Kafka.AttemptTimeout)
	}
	l, pr := c.Labels.Config, c.Producer
	if l.PublishTimeout != 12*time.Second || l.LockTTL != 40*time.Second || l.RetryBackoff != 250*time.Millisecond || l.ScheduleInterval != 20*time.Millisecond {
		t.Errorf("labels: %+v", l)
	}
	if pr.BatchSize != 200 || pr.BatchTimeout != 5*time.Millisecond || pr.WriteTimeout != 4*time.Second || pr.MaxAttempts != 5 {
		t.Errorf("producer: %+v", pr)
	}
	var d Config
	d.Kafka.Brokers = []string{"k:1"}
	d.SetDefaults()
	if d.Kafka.AttemptTimeout != 30*time.Second || d.Labels.PublishTimeout != 30*time.Second || d.Labels.LockTTL != 30*time.Second || d.Producer.BatchSize != 1000 ||
		d.Producer.BatchTimeout != 2*time.Millisecond || d.Producer.WriteTimeout != 10*time.Second || d.Producer.MaxAttempts != 3 {
		t.Errorf("defaults changed: %+v %+v", d.Labels.Config, d.Producer)
	}
}

func TestEnvVarsCoverEveryOption(t *testing.T) {
	vars := strings.Join(EnvVars(), "\n")
	for _, want := range []string{"SEGSTREAM_KAFKA_BROKERS", "SEGSTREAM_KAFKA_MAX_BATCH_WAIT", "SEGSTREAM_REDIS_ADDRS", "SEGSTREAM_FEATURESTORE_LIMITS_DEDUP_WINDOW", "SEGSTREAM_HTTP_LISTEN"} {
		if !strings.Contains(vars, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// The example config in deploy/ must load (it documents every option).
func TestDeployExampleLoads(t *testing.T) {
	c, err := LoadConfig("../deploy/segstream.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	var d Config
	d.Kafka.Brokers = []string{"localhost:9092"}
	d.SetDefaults()
	if !reflect.DeepEqual(c, d) {
		t.Errorf("deploy/segstream.yaml and the defaults disagree:\n%+v\n%+v", c, d)
	}
}

// The sentiment models load from the default config; a missing or foreign
// file is refused naming the option.
func TestLoadSentiment(t *testing.T) {
	c := Config{}
	c.Kafka.Brokers = []string{"k:1"}
	c.SetDefaults()
	set, err := LoadSentiment(c.Sentiment)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Languages(), ","); got != "zh" {
		t.Fatalf("languages %q", got)
	}
	for _, f := range []string{filepath.Join(t.TempDir(), "none.bin"), RepoFile("models/themes-zh.json")} {
		_, err := LoadSentiment(SentimentConfig{Models: []SentimentModel{{Language: "zh", File: f}}, Threshold: 0.5})
		if err == nil || !strings.Contains(err.Error(), "sentiment.models") {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// gc.percent sets the collector unless the process's GOGC is set;
// gc.memory_limit_bytes likewise with GOMEMLIMIT.
func TestApplyGC(t *testing.T) {
	was, wasMem := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(was); debug.SetMemoryLimit(wasMem) }()
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	applyGC(GCConfig{Percent: 250, MemoryLimitBytes: 3 << 30}, zap.NewNop())
	if got := debug.SetGCPercent(100); got != 250 {
		t.Fatalf("GC percent %d, want gc.percent 250", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Fatalf("memory limit %d, want gc.memory_limit_bytes", got)
	}
	debug.SetMemoryLimit(wasMem)
	t.Setenv("GOGC", "150") // the runtime read it at start; the service leaves it
	t.Setenv("GOMEMLIMIT", "1GiB")
	applyGC(GCConfig{Percent: 250, MemoryLimitBytes: 3 << 30}, zap.NewNop())
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d: gc.percent overrode GOGC", got)
	}
	if got := debug.SetMemoryLimit(-1); got != wasMem {
		t.Fatalf("memory limit %d: gc.memory_limit_bytes overrode GOMEMLIMIT", got)
	}
}
