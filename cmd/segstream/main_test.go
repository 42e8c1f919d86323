package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/internal/testkit"
)

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "segstream")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serviceEnv is the environment of a test service: the given broker and
// group, fast group timings, the test Redis under prefix; extra last.
func serviceEnv(addr, prefix, group string, extra ...string) []string {
	return append(append(os.Environ(),
		"SEGSTREAM_KAFKA_BROKERS="+addr,
		"SEGSTREAM_KAFKA_GROUP_ID="+group,
		"SEGSTREAM_KAFKA_HEARTBEAT_INTERVAL=100ms",
		"SEGSTREAM_KAFKA_JOIN_GROUP_BACKOFF=50ms",
		"SEGSTREAM_REDIS_ADDRS="+testkit.RedisAddr(),
		"SEGSTREAM_FEATURESTORE_PREFIX="+prefix,
		"SEGSTREAM_API_LISTEN=127.0.0.1:0",
	), extra...)
}

// The binary end to end: replay real files and a JSON-lines file with one
// bad line, run the service, read a profile back as JSON, and stop with
// SIGTERM: the process drains, commits every offset and exits 0.
func TestBinaryReplayRunProfileSigterm(t *testing.T) {
	bin := build(t)
	addr := testkit.Kafka(t, 3)
	_, prefix := testkit.Redis(t)
	env := serviceEnv(addr, prefix, "bin-test",
		"SEGSTREAM_KAFKA_SESSION_TIMEOUT=2s",
		"SEGSTREAM_HTTP_LISTEN=127.0.0.1:0",
		"SEGSTREAM_API_LISTEN=127.0.0.1:0",
		"SEGSTREAM_LABELS_ENABLED=false",
	)
	jsonl := filepath.Join(t.TempDir(), "events.jsonl")
	lines := []string{
		`{"event_id":"j1","type":"review","user_id":"541312140","ts":"2019-10-01T00:05:00Z","product_id":"p","rating":2,"text":"arrived broken, call me on 07700 900123"}`,
		`{"event_id":"j2","type":"search","user_id":"541312140","ts":"2019-10-01T00:06:00Z","query":"water heater"}`,
		`this is not json`,
	}
	if err := os.WriteFile(jsonl, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rees := filepath.Join("..", "..", "..", "shared", "data", "rees46_2019-10_sample.csv")
	out, err := cmdRun(env, bin, "replay", "--quiet", rees, jsonl)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !strings.Contains(out, "sent 1,003 events") {
		t.Fatalf("replay summary: %s", out)
	}

	run := exec.Command(bin, "run")
	run.Env = env
	var logs bytes.Buffer
	run.Stdout, run.Stderr = &logs, &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	// Best effort, for a test that fails early: on success the process has
	// exited and been waited for, and Kill then returns os.ErrProcessDone.
	defer func() { _ = run.Process.Kill() }()

	var view struct {
		UserID  string            `json:"user_id"`
		Counts  map[string]uint64 `json:"counts"`
		Ratings struct{ Count uint32 }
		Texts   []struct{ Kind, Text string }
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		out, err := cmdRun(env, bin, "profile", "541312140", "--json")
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		if err := json.Unmarshal([]byte(out), &view); err != nil {
			return err
		}
		if view.Ratings.Count != 1 || view.Counts["search"] != 1 {
			return fmt.Errorf("profile not complete yet: %+v", view)
		}
		return nil
	})
	if view.Texts[0].Kind != "search" || view.Texts[1].Text != "arrived broken, call me on [phone]" {
		t.Errorf("texts = %+v", view.Texts)
	}
	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- run.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("run exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not stop within 20s of SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "segstream stopped cleanly") {
		t.Errorf("no clean-stop log line:\n%s", logs.String())
	}
	// every partition's committed offset is at its end: the drain committed
	client := &kafka.Client{Addr: kafka.TCP(addr), Transport: &kafka.Transport{}}
	ctx := context.Background()
	for _, topic := range []string{"events.clickstream", "events.purchases", "events.reviews"} {
		parts := []int{0, 1, 2}
		committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "bin-test", Topics: map[string][]int{topic: parts}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range committed.Topics[topic] {
			last, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p.Partition)}}})
			if err != nil {
				t.Fatal(err)
			}
			end := last.Topics[topic][0].LastOffset
			if end > 0 && p.CommittedOffset != end {
				t.Errorf("%s/%d committed %d, end %d", topic, p.Partition, p.CommittedOffset, end)
			}
		}
	}
}

func TestBadConfigFailsNamingTheField(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  brokers: [k:9092]\n  max_batch: -5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := cmdRun(os.Environ(), bin, "run", "--config", cfg)
	if err == nil || !strings.Contains(out, "kafka.max_batch") {
		t.Fatalf("err=%v out=%s", err, out)
	}
}

func cmdRun(env []string, bin string, args ...string) (string, error) {
	c := exec.Command(bin, args...)
	c.Env = env
	out, err := c.CombinedOutput()
	return string(out), err
}
