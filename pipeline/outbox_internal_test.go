package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/producer"
)

// The evaluator adds a user to the outbox before it writes the label record,
// and other clients' commands can run in between. A publisher that sees the
// entry first must leave it, or the label is never published.
func TestOutboxEntryBeforeItsLabelIsKept(t *testing.T) {
	addr := testkit.Kafka(t, 1, "segments.labels", "segments.changes")
	rdb, prefix := testkit.Redis(t)
	store, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	pub, err := producer.New(producer.Config{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	l, err := NewLabels(rdb, store, nil, nil, pub, LabelsConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	z := redis.Z{Score: float64(time.Now().UnixMicro()), Member: "u1"}
	rdb.ZAdd(ctx, l.outboxKey(), z)
	// the publisher comes first: nothing to publish yet, the entry stays
	if _, err := l.publish(ctx, []redis.Z{z}); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.ZCard(ctx, l.outboxKey()).Result(); n != 1 {
		t.Fatalf("outbox entry removed before its label was written")
	}
	// then the label write lands, and the next pass publishes it
	doc, _ := json.Marshal(producer.LabelDoc{UserID: "u1", Version: 1, Segments: []string{"new"}, Scores: map[string]float64{}})
	if err := labelCAS.Run(ctx, rdb, []string{l.labelKey("u1")}, 0, 1, doc, "[]", "", "0").Err(); err != nil {
		t.Fatal(err)
	}
	n, err := l.publish(ctx, []redis.Z{z})
	if err != nil || n != 1 {
		t.Fatalf("publish: %d, %v", n, err)
	}
	if n, _ := rdb.ZCard(ctx, l.outboxKey()).Result(); n != 0 {
		t.Fatalf("outbox not emptied after publishing")
	}
	if msgs := testkit.ReadTopic(t, addr, "segments.labels"); len(msgs) != 1 {
		t.Fatalf("%d label messages, want 1", len(msgs))
	}
	// an old entry with nothing behind it (a crash before the write) goes
	old := redis.Z{Score: float64(time.Now().Add(-time.Minute).UnixMicro()), Member: "u2"}
	rdb.ZAdd(ctx, l.outboxKey(), old)
	if _, err := l.publish(ctx, []redis.Z{old}); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.ZCard(ctx, l.outboxKey()).Result(); n != 0 {
		t.Fatalf("stale outbox entry kept")
	}
}
