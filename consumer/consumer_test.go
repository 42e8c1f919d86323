package consumer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap/zaptest"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
)

func testConfig(addr, group string) consumer.Config {
	return consumer.Config{
		Brokers:           []string{addr},
		GroupID:           group,
		MaxBatch:          500,
		MaxBatchWait:      5 * time.Millisecond,
		FetchMaxWait:      50 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout:    2 * time.Second,
		RebalanceTimeout:  2 * time.Second,
		JoinGroupBackoff:  50 * time.Millisecond,
		RetryBackoff:      50 * time.Millisecond,
	}
}

type running struct {
	c      *consumer.Consumer
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg consumer.Config, store *featurestore.Store, hooks consumer.Hooks) *running {
	t.Helper()
	c, err := consumer.New(cfg, folderOf(store), zaptest.NewLogger(t), nil, hooks)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		// A test that expects Run to fail stops it itself; a later stop returns nil.
		if err := r.stop(t); err != nil {
			t.Errorf("consumer.Run: %v", err)
		}
	})
	return r
}

func (r *running) stop(t *testing.T) error {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(20 * time.Second):
		t.Errorf("consumer did not stop within 20s")
		return nil
	}
}

func view(id, user, ts string) string {
	return fmt.Sprintf(`{"event_id":%q,"type":"view","user_id":%q,"ts":%q,"product_id":"p1","category":"gifts","price":2.5,"session_id":"s1"}`, id, user, ts)
}

func msg(key, value string) kafka.Message {
	return kafka.Message{Key: []byte(key), Value: []byte(value)}
}

func TestBadEventsGoToDLQWhileGoodEventsFold(t *testing.T) {
	addr := testkit.ApacheKafka(t, 1) // dead letters on a real broker
	rdb, prefix := testkit.Redis(t)
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := "2011-05-01T10:00:00Z"
	tests := []struct {
		name   string
		topic  string
		value  string
		reason string
		field  string
	}{
		{"bad json", "events.clickstream", `{"event_id":"x1",`, "bad_json", ""},
		{"json array", "events.clickstream", `[1,2]`, "bad_json", ""},
		{"empty payload", "events.clickstream", ``, "empty_payload", ""},
		{"missing event_id", "events.clickstream", `{"type":"view","user_id":"u1","ts":"` + ts + `","product_id":"p","price":1}`, "missing_field", "event_id"},
		{"missing ts", "events.clickstream", `{"event_id":"x2","type":"view","user_id":"u1","product_id":"p","price":1}`, "missing_field", "ts"},
		{"price as string", "events.clickstream", `{"event_id":"x3","type":"view","user_id":"u1","ts":"` + ts + `","product_id":"p","price":"1.0"}`, "wrong_type", "price"},
		{"user_id as number", "events.clickstream", `{"event_id":"x4","type":"view","user_id":17850,"ts":"` + ts + `","product_id":"p","price":1}`, "wrong_type", "user_id"},
		{"unknown type", "events.clickstream", `{"event_id":"x5","type":"teleport","user_id":"u1","ts":"` + ts + `"}`, "unknown_type", "type"},
		{"empty user", "events.clickstream", `{"event_id":"x6","type":"view","user_id":"  ","ts":"` + ts + `","product_id":"p","price":1}`, "empty_user_id", "user_id"},
		{"bad ts", "events.clickstream", `{"event_id":"x7","type":"view","user_id":"u1","ts":"yesterday","product_id":"p","price":1}`, "bad_timestamp", "ts"},
		{"far future", "events.clickstream", `{"event_id":"x8","type":"view","user_id":"u1","ts":"2999-01-01T00:00:00Z","product_id":"p","price":1}`, "future_timestamp", "ts"},
		{"negative price", "events.clickstream", `{"event_id":"x9","type":"view","user_id":"u1","ts":"` + ts + `","product_id":"p","price":-3}`, "bad_price", "price"},
		{"rating 6", "events.reviews", `{"event_id":"x10","type":"review","user_id":"u1","ts":"` + ts + `","product_id":"p","rating":6,"text":"great"}`, "bad_rating", "rating"},
		{"rating 4.5", "events.reviews", `{"event_id":"x11","type":"review","user_id":"u1","ts":"` + ts + `","product_id":"p","rating":4.5}`, "bad_rating", "rating"},
		{"absurd quantity", "events.purchases", `{"event_id":"x12","type":"purchase","user_id":"u1","ts":"` + ts + `","order_id":"o","currency":"GBP","items":[{"product_id":"p","quantity":1e9,"unit_price":1}]}`, "bad_quantity", "items[0].quantity"},
		{"zero quantity", "events.purchases", `{"event_id":"x13","type":"purchase","user_id":"u1","ts":"` + ts + `","order_id":"o","currency":"GBP","items":[{"product_id":"p","quantity":0,"unit_price":1}]}`, "bad_quantity", "items[0].quantity"},
		{"no items", "events.purchases", `{"event_id":"x14","type":"purchase","user_id":"u1","ts":"` + ts + `","order_id":"o","currency":"GBP","items":[]}`, "empty_items", "items"},
		{"invalid utf8", "events.reviews", "{\"event_id\":\"x15\",\"type\":\"review\",\"user_id\":\"u1\",\"ts\":\"" + ts + "\",\"product_id\":\"p\",\"rating\":3,\"text\":\"\xff\xfe\"}", "invalid_utf8", ""},
		{"oversized", "events.reviews", `{"event_id":"x16","type":"review","user_id":"u1","ts":"` + ts + `","product_id":"p","rating":3,"text":"` + strings.Repeat("a", 70000) + `"}`, "oversized_payload", ""},
		{"review on clickstream topic", "events.clickstream", `{"event_id":"x17","type":"review","user_id":"u1","ts":"` + ts + `","product_id":"p","rating":3}`, "type_topic_mismatch", "type"},
	}
	// good events surround every bad one on the same partition
	byTopic := map[string][]kafka.Message{}
	good := 0
	for i, tc := range tests {
		byTopic[tc.topic] = append(byTopic[tc.topic], msg("u1", view(fmt.Sprintf("g%d", i), "u1", ts)), msg("u1", tc.value))
		good++
	}
	byTopic["events.clickstream"] = append(byTopic["events.clickstream"], msg("u1", view("glast", "u1", ts)))
	good++
	for topic, ms := range byTopic {
		if topic != "events.clickstream" { // good views must be on the clickstream topic
			var fixed []kafka.Message
			for _, m := range ms {
				if strings.Contains(string(m.Value), `"type":"view"`) {
					testkit.Produce(t, addr, "events.clickstream", m)
					continue
				}
				fixed = append(fixed, m)
			}
			ms = fixed
		}
		testkit.Produce(t, addr, topic, ms...)
	}

	start(t, testConfig(addr, "dlq-test"), store, consumer.Hooks{})
	var dlq []kafka.Message
	testkit.WaitFor(t, 20*time.Second, func() error {
		dlq = testkit.ReadTopicIfAny(t, addr, "events.dlq")
		if len(dlq) < len(tests) {
			return fmt.Errorf("%d of %d dead letters", len(dlq), len(tests))
		}
		p, err := store.Get(context.Background(), "u1")
		if err != nil {
			return err
		}
		if got := p.Counts[1]; got != uint64(good) {
			return fmt.Errorf("profile has %d views, want %d", got, good)
		}
		return nil
	})
	if len(dlq) != len(tests) {
		t.Fatalf("got %d dead letters, want %d", len(dlq), len(tests))
	}
	byValue := map[string]kafka.Message{}
	for _, m := range dlq {
		byValue[string(m.Value)] = m
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := byValue[tc.value]
			if !ok {
				t.Fatalf("no dead letter carries the original bytes")
			}
			h := headers(m)
			if h["reason"] != tc.reason || h["field"] != tc.field {
				t.Errorf("reason/field = %q/%q, want %q/%q (detail %q)", h["reason"], h["field"], tc.reason, tc.field, h["detail"])
			}
			if h["source_topic"] != tc.topic || h["source_partition"] != "0" || h["source_offset"] == "" {
				t.Errorf("source headers = %v", h)
			}
			if string(m.Key) != "u1" {
				t.Errorf("key = %q, want original key", m.Key)
			}
		})
	}
}

func headers(m kafka.Message) map[string]string {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}
