package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// fetcher reads one partition over a kafka-go Conn with fetch batches.
// kafka-go's Reader sets a socket deadline for every message (about a fifth
// of the consumer's CPU at 100k messages/s); reading a Batch directly sets
// one per fetch. The fetcher is not safe for concurrent use: it belongs to
// its partition goroutine, and fetching happens only when the fold asks for
// more (so a slow fold stops intake).
type fetcher struct {
	dialer    *kafka.Dialer
	brokers   []string
	topic     string
	partition int
	maxBytes  int
	maxWait   time.Duration

	conn   *kafka.Conn
	batch  *kafka.Batch
	next   int64 // next offset to read; negative: kafka.FirstOffset / LastOffset
	broker int   // round-robin index into brokers for dialing
}

func (f *fetcher) close() {
	if f.batch != nil {
		_ = f.batch.Close()
		f.batch = nil
	}
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
}

// connect dials the partition leader and positions at f.next.
func (f *fetcher) connect(ctx context.Context) error {
	addr := f.brokers[f.broker%len(f.brokers)]
	f.broker++
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := f.dialer.DialLeader(dctx, "tcp", addr, f.topic, f.partition)
	if err != nil {
		return fmt.Errorf("dialing leader of %s/%d via %s: %w", f.topic, f.partition, addr, err)
	}
	first, last, err := conn.ReadOffsets()
	if err != nil {
		_ = conn.Close() // the error returned says what failed; this conn is dropped
		return fmt.Errorf("reading offsets of %s/%d: %w", f.topic, f.partition, err)
	}
	switch {
	case f.next == kafka.FirstOffset:
		f.next = first
	case f.next == kafka.LastOffset:
		f.next = last
	case f.next < first:
		// retention removed what we were to read: start at the oldest kept
		f.next = first
	}
	if _, err := conn.Seek(f.next, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		_ = conn.Close() // the error returned says what failed; this conn is dropped
		return err
	}
	f.conn = conn
	return nil
}

// read returns the next message, fetching when the current batch is done.
// wait bounds how long a fetch may wait for new data; errNoData means the
// wait passed without a message.
func (f *fetcher) read(ctx context.Context, wait time.Duration) (kafka.Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return kafka.Message{}, err
		}
		if f.conn == nil {
			if err := f.connect(ctx); err != nil {
				return kafka.Message{}, err
			}
		}
		if f.batch == nil {
			_ = f.conn.SetReadDeadline(time.Now().Add(wait + 10*time.Second))
			f.batch = f.conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: f.maxBytes, MaxWait: wait})
		}
		m, err := f.batch.ReadMessage()
		if err == nil {
			f.next = m.Offset + 1
			return m, nil
		}
		empty := f.batch.Offset() == f.next
		cerr := f.batch.Close()
		f.batch = nil
		if cerr == nil && errors.Is(err, io.EOF) {
			if empty {
				return kafka.Message{}, errNoData
			}
			continue // batch done: fetch the next
		}
		if errors.Is(err, kafka.RequestTimedOut) {
			// some brokers (kfake among them) answer an idle long poll so
			return kafka.Message{}, errNoData
		}
		if errors.Is(err, kafka.OffsetOutOfRange) {
			f.close()
			f.next = kafka.FirstOffset
			return kafka.Message{}, fmt.Errorf("%s/%d: offset out of range, restarting at the oldest offset: %w", f.topic, f.partition, err)
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Temporary() {
			f.close()
			return kafka.Message{}, err
		}
		f.close()
		if isTimeout(err) {
			// the socket deadline passed: reconnect on the next read
			return kafka.Message{}, errNoData
		}
		return kafka.Message{}, err
	}
}

var errNoData = errors.New("no data within the fetch wait")

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// buffered reports whether a fetched batch is still being read, so the
// collector can take its messages without waiting.
func (f *fetcher) buffered() bool { return f.batch != nil }
