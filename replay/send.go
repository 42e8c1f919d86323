package replay

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/secure"
)

// SendConfig configures Send.
type SendConfig struct {
	Brokers []string
	// Security of the connections (SASL, TLS).
	Security secure.Kafka
	// Topics maps each family to its topic.
	Topics map[events.Family]string
	// Speed is the replay speed as a multiple of event time (2 = twice real
	// time); 0 sends as fast as possible.
	Speed float64
	// Rate, when set, sends at this steady number of events per second
	// instead (event time ignored).
	Rate float64
	// Chunk is how many messages one produce call carries (default 1000).
	Chunk int
	// Progress, when set, receives a progress bar (redrawn in place).
	Progress io.Writer
	// Label prefixes the progress bar (default "replay").
	Label string
}

// SendStats summarise a Send.
type SendStats struct {
	Sent    int
	ByTopic map[string]int
	Elapsed time.Duration
	PerSec  float64
}

// Send publishes items in order: as fast as possible, or paced by event
// time at cfg.Speed. Each topic has its own writer, with its own transport;
// keys hash to partitions so a user's events stay in one partition.
// The logger argument is not used: Send reports through its result, its
// error and cfg.Progress.
func Send(ctx context.Context, items []Item, cfg SendConfig, _ *zap.Logger) (SendStats, error) {
	if cfg.Chunk <= 0 {
		cfg.Chunk = 1000
	}
	if cfg.Label == "" {
		cfg.Label = "replay"
	}
	st := SendStats{ByTopic: map[string]int{}}
	writers := map[events.Family]*kafka.Writer{}
	defer func() {
		for _, w := range writers {
			_ = w.Close()
		}
	}()
	for fam, topic := range cfg.Topics {
		transport, err := cfg.Security.Transport()
		if err != nil {
			return st, err
		}
		writers[fam] = &kafka.Writer{
			Addr:         kafka.TCP(cfg.Brokers...),
			Topic:        topic,
			Balancer:     &kafka.Hash{},
			RequiredAcks: kafka.RequireAll,
			BatchSize:    cfg.Chunk,
			BatchBytes:   16 << 20,
			BatchTimeout: 5 * time.Millisecond,
			Transport:    transport,
		}
	}

	start := time.Now()
	var sent int
	var mu sync.Mutex
	stopBar := make(chan struct{})
	barDone := make(chan struct{})
	go func() {
		defer close(barDone)
		if cfg.Progress == nil {
			return
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopBar:
				mu.Lock()
				drawBar(cfg.Progress, cfg.Label, sent, len(items), time.Since(start))
				mu.Unlock()
				_, _ = fmt.Fprintln(cfg.Progress) // a progress bar: a failed write is not worth failing the send
				return
			case <-t.C:
				mu.Lock()
				drawBar(cfg.Progress, cfg.Label, sent, len(items), time.Since(start))
				mu.Unlock()
			}
		}
	}()

	pending := map[events.Family][]kafka.Message{}
	npending := 0
	flush := func() error {
		if npending == 0 {
			return nil
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(pending))
		for fam, msgs := range pending {
			if len(msgs) == 0 {
				continue
			}
			wg.Add(1)
			go func(w *kafka.Writer, msgs []kafka.Message) {
				defer wg.Done()
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					errs <- fmt.Errorf("producing %d messages to %s: %w", len(msgs), w.Topic, err)
				}
			}(writers[fam], msgs)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		mu.Lock()
		for fam, msgs := range pending {
			st.ByTopic[cfg.Topics[fam]] += len(msgs)
			sent += len(msgs)
			pending[fam] = msgs[:0:0]
		}
		mu.Unlock()
		npending = 0
		return nil
	}

	var t0 time.Time
	var err error
	for i := range items {
		it := &items[i]
		if _, ok := writers[it.Family]; !ok {
			err = fmt.Errorf("replay: no topic configured for %s events", it.Family)
			break
		}
		if cfg.Rate > 0 {
			// send in 10 ms slices: a steady rate without a produce call per event
			target := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			if d := time.Until(target); d > 10*time.Millisecond {
				if err = flush(); err != nil {
					break
				}
				time.Sleep(time.Until(target))
			}
		} else if cfg.Speed > 0 && !it.TS.IsZero() {
			if t0.IsZero() {
				t0 = it.TS
			}
			target := start.Add(time.Duration(float64(it.TS.Sub(t0)) / cfg.Speed))
			if d := time.Until(target); d > 0 {
				if err = flush(); err != nil {
					break
				}
				select {
				case <-ctx.Done():
					err = ctx.Err()
				case <-time.After(d):
				}
				if err != nil {
					break
				}
			}
		}
		pending[it.Family] = append(pending[it.Family], kafka.Message{Key: []byte(it.Key), Value: it.Value})
		npending++
		if npending >= cfg.Chunk {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = flush()
	}
	close(stopBar)
	<-barDone
	st.Sent = sent
	st.Elapsed = time.Since(start)
	if st.Elapsed > 0 {
		st.PerSec = float64(sent) / st.Elapsed.Seconds()
	}
	return st, err
}

func drawBar(w io.Writer, label string, done, total int, el time.Duration) {
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el.Seconds()
	}
	eta := "-"
	if rate > 0 && done < total {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	// A failed write of a progress line is not worth failing the send for.
	_, _ = fmt.Fprintf(w, "\r%s [%s%s] %3.0f%% %s/%s events %s ev/s ETA %s   ", label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		frac*100, thousands(done), thousands(total), thousands(int(rate)), eta)
}

// Thousands formats n with thousands separators (1,234,567).
func Thousands(n int) string { return thousands(n) }

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Summary renders stats as a short human-readable report.
func Summary(src Stats, snd SendStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %s rows, sent %s events in %s (%s events/s)\n", thousands(src.Rows), thousands(snd.Sent), snd.Elapsed.Round(time.Millisecond), thousands(int(snd.PerSec)))
	if !src.FirstTS.IsZero() {
		fmt.Fprintf(&b, "event time %s .. %s\n", src.FirstTS.Format(time.RFC3339), src.LastTS.Format(time.RFC3339))
	}
	b.WriteString(kv("by type", src.ByType))
	b.WriteString(kv("by topic", snd.ByTopic))
	b.WriteString(kv("skipped rows", src.Skipped))
	return b.String()
}

func kv(title string, m map[string]int) string {
	if len(m) == 0 {
		return title + ": none\n"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + thousands(m[k])
	}
	return title + ": " + strings.Join(parts, " ") + "\n"
}
