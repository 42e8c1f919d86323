package segments

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/segstream/segstream/secure"
)

// Config says where definitions live.
type Config struct {
	// Dir is a folder of definition files (*.yaml); empty: the built-in
	// taxonomy (deploy/segments). It is read again every ReloadInterval.
	Dir string `yaml:"dir"`
	// ReloadInterval: how often Dir is checked for changes (default 10s).
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// Topic is the compacted definitions topic every instance follows
	// (default segments.definitions; "off": none). Key = segment name,
	// value = one definition in YAML, tombstone = delete.
	Topic string `yaml:"topic"`
	// MaxCost bounds each expression's CEL cost, estimated at compile time
	// and enforced per evaluation (default 10000).
	MaxCost uint64 `yaml:"max_cost"`
	// Backfill labels every profile again when the definitions change
	// (default true).
	Backfill *bool `yaml:"backfill"`
}

// DefaultTopic is the definitions topic.
const DefaultTopic = "segments.definitions"

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = 10 * time.Second
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.MaxCost == 0 {
		c.MaxCost = 10000
	}
	if c.Backfill == nil {
		t := true
		c.Backfill = &t
	}
}

// Validate checks the options.
func (c *Config) Validate() error {
	if c.ReloadInterval < 100*time.Millisecond {
		return fmt.Errorf("segments.reload_interval: %s is below 100ms", c.ReloadInterval)
	}
	if c.Dir != "" {
		if st, err := os.Stat(c.Dir); err != nil || !st.IsDir() {
			return fmt.Errorf("segments.dir: %q is not a folder", c.Dir)
		}
	}
	return nil
}

// Base loads what the configuration names as the base: the folder, or
// the built-in taxonomy.
func (c *Config) Base() ([]Definition, error) {
	if c.Dir == "" {
		return Defaults()
	}
	return LoadDir(c.Dir)
}

// dirHash fingerprints the definition files of a folder.
func dirHash(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && (filepath.Ext(n) == ".yaml" || filepath.Ext(n) == ".yml") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		_, _ = fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// WatchDir reloads the folder into live whenever its files change, until
// ctx ends. A file with refused definitions keeps their previous versions
// live (Live.SetBase).
func WatchDir(ctx context.Context, dir string, every time.Duration, live *Live) error {
	last, _ := dirHash(dir)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h, err := dirHash(dir)
		if err != nil || h == last {
			continue
		}
		last = h
		defs, err := LoadDir(dir)
		live.refuse("file", err)
		_ = live.SetBase(defs)
	}
}

// Follower applies the definitions topic to a Live.
type Follower struct {
	Brokers []string
	Topic   string
	Live    *Live
	Dialer  *kafka.Dialer // nil: kafka.DefaultDialer
	Log     *zap.Logger
}

// Run reads every partition of the topic from its first offset and keeps
// following it until ctx ends. caughtUp is closed once everything that
// was on the topic when Run started has been applied.
func (f *Follower) Run(ctx context.Context, caughtUp chan<- struct{}) error {
	log := f.Log
	if log == nil {
		log = zap.NewNop()
	}
	dialer := f.Dialer
	if dialer == nil {
		dialer = kafka.DefaultDialer
	}
	var parts []kafka.Partition
	var err error
	for attempt := 0; ; attempt++ {
		parts, err = readPartitions(ctx, dialer, f.Brokers, f.Topic)
		if err == nil && len(parts) > 0 {
			break
		}
		if attempt == 50 || ctx.Err() != nil {
			return fmt.Errorf("segments.topic %s: %w", f.Topic, errors.Join(err, ctx.Err()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	// the end of each partition now: caught up once each is read past it
	remaining := 0
	ends := map[int]int64{}
	for _, p := range parts {
		// a partition just created answers "not leader" for a moment
		// (Apache Kafka): retried like the metadata above
		var first, last int64
		for attempt := 0; ; attempt++ {
			first, last, err = partitionOffsets(ctx, dialer, f.Brokers[0], f.Topic, p.ID)
			if err == nil {
				break
			}
			if attempt == 50 || ctx.Err() != nil {
				return fmt.Errorf("segments.topic %s/%d: %w", f.Topic, p.ID, errors.Join(err, ctx.Err()))
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		if last > first {
			ends[p.ID] = last
			remaining++
		}
	}
	msgs := make(chan kafka.Message)
	errc := make(chan error, len(parts))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: f.Brokers, Topic: f.Topic, Partition: p.ID, Dialer: dialer,
			MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 250 * time.Millisecond, StartOffset: kafka.FirstOffset})
		go func() {
			defer func() { _ = r.Close() }()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() != nil {
						errc <- ctx.Err()
						return
					}
					// the broker is away (restarting, a network cut): the
					// definitions in force stay live; the reader keeps its
					// offset and picks up where it was once it is back
					log.Warn("segments.topic: reading failed; retrying", zap.String("topic", f.Topic), zap.Int("partition", r.Config().Partition), zap.Error(err))
					select {
					case <-ctx.Done():
						errc <- ctx.Err()
						return
					case <-time.After(time.Second):
					}
					continue
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
			}
		}()
	}
	signal := func() {
		if caughtUp != nil {
			close(caughtUp)
			caughtUp = nil
		}
	}
	if remaining == 0 {
		signal()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("segments.topic %s: %w", f.Topic, err)
		case m := <-msgs:
			f.apply(m, log)
			if end, ok := ends[m.Partition]; ok && m.Offset+1 >= end {
				delete(ends, m.Partition)
				remaining--
				if remaining == 0 {
					signal()
				}
			}
		}
	}
}

func (f *Follower) apply(m kafka.Message, log *zap.Logger) {
	name := string(m.Key)
	src := fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)
	if len(m.Value) == 0 {
		if err := f.Live.Delete(name); err == nil {
			log.Info("segment definition deleted", zap.String("segment", name), zap.String("at", src))
		}
		return
	}
	d, err := ParseOne(m.Value, src)
	if err == nil && d.Name != name {
		err = &Error{Source: src, Segment: d.Name, Field: "name", Msg: fmt.Sprintf("the message key %q names another segment", name)}
	}
	if err != nil {
		f.Live.refuse("topic", err)
		return
	}
	_ = f.Live.Put(d) // refusals are logged and counted by Live
}

// partitionOffsets reads a partition's first and end offsets from its
// leader.
func partitionOffsets(ctx context.Context, dialer *kafka.Dialer, broker, topic string, partition int) (int64, int64, error) {
	c, err := dialer.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = c.Close() }() // only offsets were read
	return c.ReadOffsets()
}

func readPartitions(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string) ([]kafka.Partition, error) {
	var last error
	for _, b := range brokers {
		c, err := dialer.DialContext(ctx, "tcp", b)
		if err != nil {
			last = err
			continue
		}
		ps, err := c.ReadPartitions(topic)
		_ = c.Close()
		if err != nil {
			last = err
			continue
		}
		return ps, nil
	}
	return nil, last
}

// Publish writes definitions to the topic (key = name, value = the
// definition in YAML) and, for each name in deletes, a tombstone; it
// returns once the broker acknowledged them all.
func Publish(ctx context.Context, brokers []string, sec secure.Kafka, topic string, defs []Definition, deletes []string) error {
	transport, err := sec.Transport()
	if err != nil {
		return err
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond, Transport: transport}
	defer func() { _ = w.Close() }()
	var msgs []kafka.Message
	for _, d := range defs {
		d.Source = ""
		b, err := d.Marshal()
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Key: []byte(d.Name), Value: b})
	}
	for _, n := range deletes {
		msgs = append(msgs, kafka.Message{Key: []byte(n), Value: nil})
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publishing to %s: %w", topic, err)
	}
	return nil
}
