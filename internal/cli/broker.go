package cli

import (
	"context"

	"github.com/segstream/segstream/internal/embedded"
)

func init() {
	register("broker", "run an embedded Kafka-protocol broker (kfake) for local use and tests", cmdBroker)
}

func cmdBroker(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("broker", "[--port 9092] [--partitions 6]", stderr)
	port := fs.Int("port", 9092, "TCP port on 127.0.0.1 (0 picks a free one)")
	parts := fs.Int("partitions", 6, "partitions of the default topics and of auto-created ones")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, addr, err := embedded.Kafka(*port, int32(*parts), "events.clickstream", "events.purchases", "events.reviews", "events.dlq")
	if err != nil {
		return err
	}
	defer c.Close()
	stdout.printf("broker listening on %s\n", addr)
	<-ctx.Done()
	return nil
}
