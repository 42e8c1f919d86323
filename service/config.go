// Package service wires segstream's stages into the running service: it
// owns the service configuration (YAML with SEGSTREAM_* environment
// overrides, validated at start with messages naming the field), the Redis
// and Kafka clients, topic creation, the HTTP endpoints (/metrics, /healthz,
// /readyz) and the lifetime of every goroutine (one errgroup).
package service

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/producer"
	"github.com/segstream/segstream/secure"
	"github.com/segstream/segstream/segments"
	"runtime"
)

// KafkaConfig is the consumer configuration plus topic administration.
type KafkaConfig struct {
	consumer.Config `yaml:",inline"`
	// CreateTopics creates missing input and DLQ topics at start (default true).
	CreateTopics *bool `yaml:"create_topics"`
	// Partitions of created topics (default 6). Input topics must share one
	// partition count so that a user's events map to the same partition
	// number on every topic.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of created topics (default 1).
	ReplicationFactor int `yaml:"replication_factor"`
}

// RedisConfig says where profiles live.
type RedisConfig struct {
	// Addrs: one address for a single server, several for Redis Cluster
	// (default ["127.0.0.1:6379"]).
	Addrs    []string `yaml:"addrs"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	DB       int      `yaml:"db"` // single server only
	// Cluster forces the cluster client even with one seed address.
	Cluster  bool          `yaml:"cluster"`
	PoolSize int           `yaml:"pool_size"` // default 10 per CPU (go-redis default)
	Timeout  time.Duration `yaml:"timeout"`   // dial/read/write timeout, default 5s
	// TLS to every Redis server (a Redis TLS port, e.g. --tls-port).
	TLS secure.TLS `yaml:"tls"`
}

// HTTPConfig is the operations endpoint.
type HTTPConfig struct {
	// Listen address for /metrics, /healthz, /readyz (default ":9464";
	// "off" disables).
	Listen string `yaml:"listen"`
}

// GCConfig sets the Go garbage collector of the service process. The
// process's own GOGC and GOMEMLIMIT variables, when set, win.
type GCConfig struct {
	// Percent is the heap growth between collections, as GOGC (default
	// 400: the fold and the label stage allocate per event; against Go's
	// 100 it lowered the event-to-label p50 in 5 of 5 interleaved pairs,
	// by 5-20%, not clearly the p99, and raised the peak RSS of
	// bench-labels from about 290 to 450 MiB; docs/benchmarks.md). The heap
	// may grow to Percent/100 + 1 times the live heap.
	Percent int `yaml:"percent"`
	// MemoryLimitBytes is a soft limit on the Go heap, as GOMEMLIMIT
	// (default 0: none). Near it the collector runs more often whatever
	// Percent says; set it to about 90% of the container's memory less the
	// encoder's models.
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"`
}

// LogConfig configures zap.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
	Format string `yaml:"format"` // json (default) | console
}

// ModelConfig says which classifier the label stage serves.
type ModelConfig struct {
	// Path of the model file (default models/default.json, made by
	// `segstream train`; relative paths are tried from the working
	// directory, then from the repository root).
	Path string `yaml:"path"`
	// ThemeFiles are interest themes of other encoder models
	// (classifier.ThemeSet files, made by `segstream themes`): the themes of
	// a language whose model is not the classifier's text encoder. Default
	// models/themes-zh.json (bge-small-zh-v1.5, from the Chinese review
	// categories); [] for none. A file whose encoder no configured model
	// has is loaded and logged as unused.
	ThemeFiles []string `yaml:"theme_files"`
}

// languages checks a list of per-language entries (field names the list,
// what the other key each entry must have): every entry has both, and no
// language is listed twice. It returns the languages listed.
func languages(field, what string, n int, entry func(int) (lang, value string)) (map[string]bool, error) {
	seen := map[string]bool{}
	for i := range n {
		l, v := entry(i)
		if l == "" || v == "" {
			return nil, fmt.Errorf("%s[%d]: language and %s must both be set", field, i, what)
		}
		if seen[l] {
			return nil, fmt.Errorf("%s[%d]: language %q is listed twice", field, i, l)
		}
		seen[l] = true
	}
	return seen, nil
}

// SentimentModel is the sentiment model of one language.
type SentimentModel struct {
	// Language is a language code ("zh"): a review's declared lang, else the
	// one its script says.
	Language string `yaml:"language"`
	// File is the model (made by `segstream sentiment train`).
	File string `yaml:"file"`
}

// SentimentConfig decides the sentiment of reviews before they are folded:
// the producer's `sentiment` field when given, else the model of the
// review's language, else its rating (1-2 negative, 3 neutral, 4-5
// positive). segments read it through negative_reviews_in and friends.
type SentimentConfig struct {
	// Models are the text models by language. Default: zh →
	// models/sentiment-zh.bin (character n-gram TF-IDF + logistic
	// regression on the Chinese review corpus). [] for none: every review
	// by its rating.
	Models []SentimentModel `yaml:"models"`
	// Threshold: a review is negative when the model's P(negative) is above
	// Threshold + Neutral, positive at or below Threshold - Neutral, neutral
	// between. Default 0.5 and 0.
	Threshold float64 `yaml:"threshold"`
	Neutral   float64 `yaml:"neutral"`
}

// DefaultSentimentModels are the sentiment models the service loads by default.
var DefaultSentimentModels = []SentimentModel{{Language: "zh", File: "models/sentiment-zh.bin"}}

// DefaultThemeFiles are the theme files the service loads by default.
var DefaultThemeFiles = []string{"models/themes-zh.json"}

// DefaultChineseModel is the model of Chinese texts in the default encoder
// set (tools/encoder/setup.sh builds it).
const DefaultChineseModel = "var/models/bge-small-zh-v15-q"

// EncoderConfig is the text encoder: a model per language and the runtime
// settings they share.
type EncoderConfig struct {
	// Config holds the shared settings (library_path, provider, threads,
	// batching, nice); its model_dir is the English model of the default set.
	encoder.Config `yaml:",inline"`
	// Models is the model of each language (encoder.LanguageModel:
	// language, model_dir). A text goes to the model of its language: a
	// review's declared lang, else the one its script says (Chinese when
	// Han characters dominate, else English); a language without a model
	// goes to DefaultLanguage's. Default: en → model_dir (USE-lite), zh →
	// var/models/bge-small-zh-v15-q (bge-small-zh-v1.5, int8).
	Models []encoder.LanguageModel `yaml:"models"`
	// DefaultLanguage takes the texts of languages without a model
	// (default: the first of Models).
	DefaultLanguage string `yaml:"default_language"`
}

// LabelStageConfig switches the label stage and its text encoder.
type LabelStageConfig struct {
	labelstage.Config `yaml:",inline"`
	// Enabled runs the label stage (default true). Without it the service
	// only ingests and folds profiles.
	Enabled *bool `yaml:"enabled"`
	// Encode turns text embeddings on (default true); off, interests are
	// not labelled and the encoder is not loaded.
	Encode *bool `yaml:"encode"`
}

// Config is the service configuration.
type Config struct {
	Kafka        KafkaConfig         `yaml:"kafka"`
	Redis        RedisConfig         `yaml:"redis"`
	Featurestore featurestore.Config `yaml:"featurestore"`
	Labels       LabelStageConfig    `yaml:"labels"`
	Segments     segments.Config     `yaml:"segments"`
	Encoder      EncoderConfig       `yaml:"encoder"`
	Model        ModelConfig         `yaml:"model"`
	Sentiment    SentimentConfig     `yaml:"sentiment"`
	Producer     producer.Config     `yaml:"producer"`
	HTTP         HTTPConfig          `yaml:"http"`
	API          api.Config          `yaml:"api"`
	Log          LogConfig           `yaml:"log"`
	GC           GCConfig            `yaml:"gc"`
	// ShutdownTimeout bounds the drain after SIGTERM (default 30s): past it
	// the process exits and what was not committed is redelivered.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// SetDefaults fills zero fields with the documented defaults.
func (c *Config) SetDefaults() {
	c.Kafka.SetDefaults()
	if c.Kafka.CreateTopics == nil {
		t := true
		c.Kafka.CreateTopics = &t
	}
	if c.Kafka.Partitions == 0 {
		c.Kafka.Partitions = 6
	}
	if c.Kafka.ReplicationFactor == 0 {
		c.Kafka.ReplicationFactor = 1
	}
	if len(c.Redis.Addrs) == 0 {
		c.Redis.Addrs = []string{"127.0.0.1:6379"}
	}
	if c.Redis.Timeout == 0 {
		c.Redis.Timeout = 5 * time.Second
	}
	c.Featurestore.SetDefaults()
	c.Labels.SetDefaults()
	c.Segments.SetDefaults()
	if c.Labels.Enabled == nil {
		t := true
		c.Labels.Enabled = &t
	}
	if c.Labels.Encode == nil {
		t := true
		c.Labels.Encode = &t
	}
	if c.Encoder.IntraOpThreads == 0 {
		// in the service the encoder runs beside the fold and the label
		// workers: half the cores, so it cannot take them all (`segstream
		// encode` alone uses every core)
		c.Encoder.IntraOpThreads = max(1, runtime.GOMAXPROCS(0)/2/max(1, c.Encoder.Sessions))
	}
	if c.Encoder.Nice == 0 {
		// the encoder takes the CPU that folding and labelling leave
		c.Encoder.Nice = 10
	}
	c.Encoder.SetDefaults()
	if len(c.Encoder.Models) == 0 {
		c.Encoder.Models = []encoder.LanguageModel{{Language: "en", ModelDir: c.Encoder.ModelDir}, {Language: "zh", ModelDir: DefaultChineseModel}}
	}
	if c.Encoder.DefaultLanguage == "" {
		c.Encoder.DefaultLanguage = c.Encoder.Models[0].Language
	}
	if c.Sentiment.Models == nil {
		c.Sentiment.Models = slices.Clone(DefaultSentimentModels)
	}
	if c.Sentiment.Threshold == 0 {
		c.Sentiment.Threshold = 0.5
	}
	if c.Model.ThemeFiles == nil {
		c.Model.ThemeFiles = slices.Clone(DefaultThemeFiles)
	}
	if c.Model.Path == "" {
		c.Model.Path = "models/default.json"
	}
	c.Producer.SetDefaults()
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = ":9464"
	}
	c.API.SetDefaults()
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.GC.Percent == 0 {
		c.GC.Percent = 400
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
}

// Validate checks every section; the error names the offending field.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.GC.Percent < 25 || c.GC.Percent > 10000 {
		return fmt.Errorf("gc.percent: %d is outside 25..10000 (GOGC=off is not offered: the heap would grow without bound)", c.GC.Percent)
	}
	if c.GC.MemoryLimitBytes < 0 {
		return fmt.Errorf("gc.memory_limit_bytes: %d must be 0 (none) or a number of bytes", c.GC.MemoryLimitBytes)
	}
	if c.Kafka.Partitions < 1 {
		return fmt.Errorf("kafka.partitions: %d must be at least 1", c.Kafka.Partitions)
	}
	if c.Kafka.ReplicationFactor < 1 {
		return fmt.Errorf("kafka.replication_factor: %d must be at least 1", c.Kafka.ReplicationFactor)
	}
	for i, a := range c.Redis.Addrs {
		if !strings.Contains(a, ":") {
			return fmt.Errorf("redis.addrs[%d]: %q is not host:port", i, a)
		}
	}
	if c.Redis.DB != 0 && (c.Redis.Cluster || len(c.Redis.Addrs) > 1) {
		return fmt.Errorf("redis.db: %d, but Redis Cluster has only database 0", c.Redis.DB)
	}
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		return fmt.Errorf("redis.db: %d is outside 0..15", c.Redis.DB)
	}
	if c.Redis.Password == "" && c.Redis.Username != "" {
		return fmt.Errorf("redis.password: required with redis.username %q (SEGSTREAM_REDIS_PASSWORD)", c.Redis.Username)
	}
	if err := c.Redis.TLS.Validate("redis.tls"); err != nil {
		return err
	}
	if err := c.Featurestore.Validate(); err != nil {
		return err
	}
	if c.Featurestore.WaitReplicas > 0 && c.Featurestore.WaitTimeout >= c.Redis.Timeout {
		return fmt.Errorf("featurestore.wait_timeout: %s must be below redis.timeout (%s), the read deadline of the write that waits", c.Featurestore.WaitTimeout, c.Redis.Timeout)
	}
	if *c.Labels.Enabled {
		if err := c.Labels.Validate(); err != nil {
			return err
		}
		if err := c.Producer.Validate(); err != nil {
			return err
		}
		if err := c.Segments.Validate(); err != nil {
			return err
		}
		if *c.Labels.Encode {
			if err := c.Encoder.Validate(); err != nil {
				return err
			}
			seen, err := languages("encoder.models", "model_dir", len(c.Encoder.Models), func(i int) (string, string) {
				return c.Encoder.Models[i].Language, c.Encoder.Models[i].ModelDir
			})
			if err != nil {
				return err
			}
			if !seen[c.Encoder.DefaultLanguage] {
				return fmt.Errorf("encoder.default_language: %q has no model in encoder.models", c.Encoder.DefaultLanguage)
			}
		}
	}
	if err := c.API.Validate(); err != nil {
		return err
	}
	if _, err := languages("sentiment.models", "file", len(c.Sentiment.Models), func(i int) (string, string) {
		return c.Sentiment.Models[i].Language, c.Sentiment.Models[i].File
	}); err != nil {
		return err
	}
	if t, n := c.Sentiment.Threshold, c.Sentiment.Neutral; !(t > 0 && t < 1) || !(n >= 0) || t-n < 0 || t+n > 1 {
		return fmt.Errorf("sentiment.threshold %v, sentiment.neutral %v: want 0 < threshold < 1 and the band threshold ± neutral within [0, 1]", t, n)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return fmt.Errorf("log.format: %q must be json or console", c.Log.Format)
	}
	return nil
}

// LoadConfig reads a YAML file (path may be empty for defaults only),
// applies SEGSTREAM_* environment overrides, sets defaults and validates.
// Unknown YAML fields are errors, so a misspelt option fails at start.
func LoadConfig(path string, environ []string) (Config, error) {
	var c Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return c, err
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// EnvPrefix starts every environment override. The variable for a field is
// the prefix plus its YAML path in upper case joined by "_", e.g.
// SEGSTREAM_KAFKA_BROKERS=host1:9092,host2:9092, SEGSTREAM_REDIS_ADDRS,
// SEGSTREAM_KAFKA_MAX_BATCH=5000, SEGSTREAM_FEATURESTORE_LIMITS_TEXT_RING_BYTES.
const EnvPrefix = "SEGSTREAM_"

// EnvVars lists every supported override, for docs and `segstream run --help-env`.
func EnvVars() []string {
	var out []string
	// The callback never fails, and walk fails only when it does.
	_ = walk(reflect.ValueOf(&Config{}).Elem(), strings.TrimSuffix(EnvPrefix, "_"), "", func(env, path string, _ reflect.Value) error {
		out = append(out, env+"  ("+path+")")
		return nil
	})
	return out
}

func applyEnv(c *Config, environ []string) error {
	vals := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vals[k] = v
		}
	}
	if len(vals) == 0 {
		return nil
	}
	return walk(reflect.ValueOf(c).Elem(), strings.TrimSuffix(EnvPrefix, "_"), "", func(env, path string, f reflect.Value) error {
		v, ok := vals[env]
		if !ok {
			return nil
		}
		if err := setFromString(f, v); err != nil {
			return fmt.Errorf("config: %s (from %s=%q): %w", path, env, v, err)
		}
		return nil
	})
}

// walk visits every leaf field with its environment name and YAML path.
func walk(v reflect.Value, env, path string, fn func(env, path string, f reflect.Value) error) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		f := v.Field(i)
		if opts == "inline" {
			if err := walk(f, env, path, fn); err != nil {
				return err
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		e, p := env+"_"+strings.ToUpper(name), name
		if path != "" {
			p = path + "." + name
		}
		ft := f.Type()
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
			if err := walk(f, e, p, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(e, p, f); err != nil {
			return err
		}
	}
	return nil
}

func setFromString(f reflect.Value, s string) error {
	switch {
	case f.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	case f.Type() == reflect.TypeOf(time.Time{}):
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(t))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		f.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		f.SetBool(b)
	case reflect.Pointer:
		nv := reflect.New(f.Type().Elem())
		if err := setFromString(nv.Elem(), s); err != nil {
			return err
		}
		f.Set(nv)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type")
		}
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}
