package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
)

// segments.labels is created compacted; once the log cleaner has run (the
// test makes segments small and any dirt worth cleaning) it holds one
// document per user, the newest, which equals the label record in Redis.
func TestLabelsTopicCompactsToTheNewestDocument(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.ApacheKafka(t, 3)
	_, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "compact")
	evs := retailSlice(t, 400)
	users := map[string]bool{}
	for _, e := range evs {
		users[e.UserID] = true
	}
	sendEvents(t, addr, evs...)
	waitAllLabelled(t, s, users)

	// a second wave: one large purchase per user a month later, so that
	// every user has at least two documents on the topic
	evaluated := metric(t, s.Registry, "segstream_labels_evaluated_total")
	var wave []*events.Event
	ts := time.Date(2011, 3, 1, 12, 0, 0, 0, time.UTC)
	for u := range users {
		wave = append(wave, &events.Event{EventID: "compact-" + u, Type: events.TypePurchase, UserID: u, TS: ts, OrderID: "compact-" + u, Currency: "GBP",
			Items: []events.Item{{ProductID: "p-compact", Description: "REGENCY CAKESTAND 3 TIER", Quantity: 40, UnitPrice: 10.95}}})
	}
	sendEvents(t, addr, wave...)
	testkit.WaitFor(t, 120*time.Second, func() error {
		if e := metric(t, s.Registry, "segstream_labels_evaluated_total"); e < evaluated+float64(len(users)) {
			return fmt.Errorf("%.0f of %d second-wave evaluations", e-evaluated, len(users))
		}
		if n := queued(s); n != 0 {
			return fmt.Errorf("%d users queued", n)
		}
		return nil
	})
	docs, _ := checkLabelTopics(t, addr)
	multi := 0
	for _, ds := range docs {
		if len(ds) > 1 {
			multi++
		}
	}
	if multi < len(users)/2 {
		t.Fatalf("only %d of %d users have more than one document before compaction", multi, len(users))
	}

	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dc, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: "segments.labels", ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil || len(dc.Resources) != 1 || len(dc.Resources[0].ConfigEntries) != 1 {
		t.Fatalf("describing segments.labels: %+v %v", dc, err)
	}
	if p := dc.Resources[0].ConfigEntries[0].ConfigValue; p != "compact" {
		t.Fatalf("segments.labels has cleanup.policy=%s, want compact", p)
	}
	// make everything but the active segment cleanable at once
	resp, err := client.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "segments.labels",
		Configs: []kafka.IncrementalAlterConfigsRequestConfig{
			{Name: "segment.ms", Value: "100"},
			{Name: "min.cleanable.dirty.ratio", Value: "0.001"},
			{Name: "min.compaction.lag.ms", Value: "0"},
		}}}})
	if err == nil && len(resp.Resources) == 1 && resp.Resources[0].Error != nil {
		err = resp.Resources[0].Error
	}
	if err != nil {
		t.Fatalf("altering segments.labels: %v", err)
	}
	// The cleaner never touches the active segment: after segment.ms a
	// marker per partition (a key no user has) rolls it, so every document
	// lies in a cleanable segment. Markers are written until the documents
	// are compacted, as a roll needs a write after the new segment.ms.
	const marker = "compaction-test-marker"
	var last string
	testkit.WaitFor(t, 120*time.Second, func() error {
		for p := 0; p < 3; p++ {
			conn, err := kafka.DialLeader(ctx, "tcp", addr, "segments.labels", p)
			if err != nil {
				return err
			}
			_, err = conn.WriteMessages(kafka.Message{Key: []byte(marker), Value: []byte("{}"), Time: time.Now()})
			_ = conn.Close()
			if err != nil {
				return err
			}
		}
		perUser := map[string][]int64{}
		for _, l := range kcatRead(t, addr, "segments.labels") {
			parts := strings.SplitN(l, "\t", 3)
			if len(parts) != 3 || parts[0] == marker {
				continue
			}
			var d struct {
				Version int64 `json:"version"`
			}
			if err := json.Unmarshal([]byte(parts[2]), &d); err != nil {
				t.Fatalf("document %q: %v", parts[2], err)
			}
			perUser[parts[0]] = append(perUser[parts[0]], d.Version)
		}
		dup := 0
		for _, vs := range perUser {
			if len(vs) > 1 {
				dup++
			}
		}
		last = fmt.Sprintf("%d users, %d with more than one document", len(perUser), dup)
		if dup > 0 || len(perUser) != len(users) {
			return fmt.Errorf("not compacted yet: %s", last)
		}
		// one each: the newest, the version Redis holds
		for u := range users {
			d, _, err := s.Labels.Label(context.Background(), u)
			if err != nil || d == nil {
				t.Fatalf("label record of %s: %v", u, err)
			}
			if vs := perUser[u]; len(vs) != 1 || vs[0] != d.Version {
				t.Fatalf("user %s: topic keeps versions %v, Redis holds %d", u, vs, d.Version)
			}
		}
		return nil
	})
	t.Logf("after compaction: %s (before: %d of %d users had several documents)", last, multi, len(users))
}
