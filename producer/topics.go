package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/secure"
)

// EnsureTopics creates the topics that do not exist yet and waits until
// every partition of each has a leader (Apache Kafka answers "not leader"
// for a moment after CreateTopics returns). sec secures the connection.
func EnsureTopics(ctx context.Context, brokers []string, sec secure.Kafka, topics ...kafka.TopicConfig) error {
	transport, err := sec.Transport()
	if err != nil {
		return err
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport, Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("creating topics on %v: %w (is kafka.brokers right and the broker running?)", brokers, err)
	}
	for t, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t, terr)
		}
	}
	// a created topic answers "not leader" until its partitions have one
	// (Apache Kafka elects them a moment after CreateTopics returns): wait
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Topic
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		missing := ""
		if err != nil {
			missing = err.Error()
		} else {
			for _, t := range md.Topics {
				if t.Error != nil {
					missing = fmt.Sprintf("%s: %v", t.Name, t.Error)
				}
				for _, p := range t.Partitions {
					if p.Leader.ID < 0 || p.Error != nil {
						missing = fmt.Sprintf("%s/%d has no leader yet", t.Name, p.ID)
					}
				}
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics created, but after 30s %s", missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
