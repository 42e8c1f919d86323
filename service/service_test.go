package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap/zaptest"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/service"
)

func TestServiceServesMetricsAndStopsCleanly(t *testing.T) {
	addr := testkit.Kafka(t, 3)
	rdb, prefix := testkit.Redis(t)
	cfg, err := service.LoadConfig("", []string{
		"SEGSTREAM_KAFKA_BROKERS=" + addr,
		"SEGSTREAM_KAFKA_GROUP_ID=svc-test",
		"SEGSTREAM_KAFKA_HEARTBEAT_INTERVAL=100ms",
		"SEGSTREAM_KAFKA_SESSION_TIMEOUT=2s",
		"SEGSTREAM_KAFKA_JOIN_GROUP_BACKOFF=50ms",
		"SEGSTREAM_REDIS_ADDRS=" + testkit.RedisAddr(),
		"SEGSTREAM_FEATURESTORE_PREFIX=" + prefix,
		"SEGSTREAM_HTTP_LISTEN=127.0.0.1:0",
		"SEGSTREAM_API_LISTEN=127.0.0.1:0",
		"SEGSTREAM_LABELS_ENABLED=false", // ingestion only: the label stage has its own tests
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(cfg, zaptest.NewLogger(t), consumer.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	// an older version's text feed, which grew without bound and nothing read
	legacy := svc.Store.Keys().LegacyTextFeed()
	rdb.ZAdd(context.Background(), legacy, redis.Z{Score: 1, Member: "old-user"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	var msgs []kafka.Message
	for i := 0; i < 100; i++ {
		u := fmt.Sprint("s", i%10)
		msgs = append(msgs, kafka.Message{Key: []byte(u), Value: []byte(fmt.Sprintf(`{"event_id":"s%d","type":"search","user_id":%q,"ts":"2011-03-01T10:00:00Z","query":"lamp %d"}`, i, u, i))})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("s0"), Value: []byte(`{"event_id":"bad"}`)})
	testkit.Produce(t, addr, "events.clickstream", msgs...)

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + svc.HTTPAddr() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer func() { _ = resp.Body.Close() }() // read to the end: a Close error carries nothing
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testkit.WaitFor(t, 20*time.Second, func() error {
		if svc.HTTPAddr() == "" {
			return fmt.Errorf("no HTTP listener yet")
		}
		_, m := get("/metrics")
		for _, want := range []string{
			`segstream_consumer_events_in_total{topic="events.clickstream"} 101`,
			`segstream_consumer_dlq_events_total{reason="missing_field"} 1`,
			`segstream_featurestore_events_total{outcome="applied"} 100`,
			`segstream_featurestore_text_changed_total`,
		} {
			if !strings.Contains(m, want) {
				return fmt.Errorf("metrics lack %s", want)
			}
		}
		return nil
	})
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if n, err := rdb.ZCard(context.Background(), svc.Store.Keys().Changes()).Result(); err != nil || n != 10 {
		t.Errorf("change feed has %d users (%v), want 10", n, err)
	}
	// nothing writes a text feed any more, and the old one is gone
	if n, err := rdb.Exists(context.Background(), legacy).Result(); err != nil || n != 0 {
		t.Errorf("legacy text feed %s still exists (%v)", legacy, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v on shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("service did not stop within 15s")
	}
}
