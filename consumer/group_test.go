package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
)

// workload makes n view events over users, keyed by user.
func workload(prefix string, n, users int) ([]kafka.Message, map[string]uint64) {
	msgs := make([]kafka.Message, n)
	want := map[string]uint64{}
	base := time.Date(2011, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range msgs {
		u := fmt.Sprintf("%s%d", prefix, i%users)
		msgs[i] = msg(u, view(fmt.Sprintf("%s-e%d", prefix, i), u, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339)))
		want[u]++
	}
	return msgs, want
}

func viewsOf(store *featurestore.Store, want map[string]uint64) error {
	for u, n := range want {
		p, err := store.Get(context.Background(), u)
		if err != nil {
			return err
		}
		if p.Counts[events.TypeView] != n {
			return fmt.Errorf("user %s has %d views, want %d", u, p.Counts[events.TypeView], n)
		}
	}
	return nil
}

// A crash after the fold and before the commit: the restarted consumer gets
// the batch again, and the profiles still equal ground truth.
func TestCrashBetweenFoldAndCommit(t *testing.T) {
	addr := testkit.Kafka(t, 2)
	rdb, prefix := testkit.Redis(t)
	store, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	msgs, want := workload("c", 3000, 50)
	testkit.Produce(t, addr, "events.clickstream", msgs...)

	var batches atomic.Int32
	crashed := make(chan struct{})
	cfg := testConfig(addr, "crash-test")
	cfg.MaxBatch = 200
	r := start(t, cfg, store, consumer.Hooks{AfterFold: func(topic string, p int, last int64) error {
		if batches.Add(1) == 4 {
			close(crashed)
			return errors.New("simulated crash before commit")
		}
		return nil
	}})
	<-crashed
	if err := r.stop(t); err == nil || !strings.Contains(err.Error(), "stopped by hook") {
		t.Fatalf("crashed consumer returned %v", err)
	}
	if err := viewsOf(store, want); err == nil {
		t.Fatal("everything was folded before the crash; the test proves nothing")
	}
	// restart: same group, same store prefix, fresh process state
	store2, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	start(t, cfg, store2, consumer.Hooks{})
	testkit.WaitFor(t, 30*time.Second, func() error { return viewsOf(store2, want) })
}

// Two members split the partitions; one stops; the other takes over its
// partitions and nothing is lost.
func TestGroupSplitAndTakeOver(t *testing.T) {
	addr := testkit.Kafka(t, 4)
	rdb, prefix := testkit.Redis(t)
	storeA, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	storeB, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	cfg := testConfig(addr, "group-test")
	a := start(t, cfg, storeA, consumer.Hooks{})
	b := start(t, cfg, storeB, consumer.Hooks{})
	total := func(m map[string][]int) int {
		n := 0
		for _, ps := range m {
			n += len(ps)
		}
		return n
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		na, nb := total(a.c.Assigned()), total(b.c.Assigned())
		if na == 0 || nb == 0 || na+nb != 12 {
			return fmt.Errorf("assignment a=%v b=%v", a.c.Assigned(), b.c.Assigned())
		}
		return nil
	})
	t.Logf("split: a=%v b=%v", a.c.Assigned(), b.c.Assigned())
	first, want1 := workload("g", 2000, 40)
	testkit.Produce(t, addr, "events.clickstream", first...)
	testkit.WaitFor(t, 30*time.Second, func() error { return viewsOf(storeA, want1) })

	if err := b.stop(t); err != nil {
		t.Fatalf("b stopped with %v", err)
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		if n := total(a.c.Assigned()); n != 12 {
			return fmt.Errorf("a owns %d partitions", n)
		}
		return nil
	})
	second, want2 := workload("g", 2000, 40) // same users, new event ids below
	for i := range second {
		second[i].Value = []byte(strings.Replace(string(second[i].Value), `"g-e`, `"g2-e`, 1))
	}
	testkit.Produce(t, addr, "events.clickstream", second...)
	for u := range want2 {
		want2[u] += want1[u]
	}
	testkit.WaitFor(t, 30*time.Second, func() error { return viewsOf(storeA, want2) })
}

// Events produced by kcat (librdkafka, a client written elsewhere) fold.
func TestKcatProducedEventsFold(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat not installed (apt-get install kcat; .ci/run does): %v", err)
	}
	addr := testkit.Kafka(t, 3)
	rdb, prefix := testkit.Redis(t)
	store, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	var lines []string
	want := map[string]uint64{}
	for i := 0; i < 300; i++ {
		u := fmt.Sprint("k", i%7)
		lines = append(lines, u+"\t"+view(fmt.Sprint("kcat-", i), u, "2011-03-01T10:00:00Z"))
		want[u]++
	}
	lines = append(lines, "k0\t{not json")
	cmd := exec.Command("kcat", "-P", "-b", addr, "-t", "events.clickstream", "-K", "\t", "-z", "lz4")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	start(t, testConfig(addr, "kcat-test"), store, consumer.Hooks{})
	testkit.WaitFor(t, 30*time.Second, func() error { return viewsOf(store, want) })
	testkit.WaitFor(t, 10*time.Second, func() error {
		if n := len(testkit.ReadTopicIfAny(t, addr, "events.dlq")); n != 1 {
			return fmt.Errorf("%d dead letters, want 1", n)
		}
		return nil
	})
	// and kcat reads the dead letter back with its headers
	out, err := exec.Command("kcat", "-C", "-b", addr, "-t", "events.dlq", "-e", "-q", "-f", "%h|%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "reason=bad_json") || !strings.Contains(string(out), "|{not json") {
		t.Fatalf("kcat read %q", out)
	}
}

// flakyFolder fails the first n folds, as Redis would when it is down.
type flakyFolder struct {
	consumer.Folder
	fails atomic.Int32
}

func (f *flakyFolder) Fold(ctx context.Context, recs []events.Record) (consumer.Folded, error) {
	if f.fails.Add(-1) >= 0 {
		return consumer.Folded{}, errors.New("injected: connection refused")
	}
	return f.Folder.Fold(ctx, recs)
}

// A failing fold is retried, never skipped: had a failed batch been
// committed past, its events would be missing from the profiles.
func TestFailedFoldIsRetriedNotSkipped(t *testing.T) {
	addr := testkit.Kafka(t, 1)
	rdb, prefix := testkit.Redis(t)
	store, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	flaky := &flakyFolder{Folder: folderOf(store)}
	flaky.fails.Store(3)
	msgs, want := workload("f", 500, 10)
	testkit.Produce(t, addr, "events.clickstream", msgs...)
	cfg := testConfig(addr, "flaky-test")
	c, err := consumer.New(cfg, flaky, nil, nil, consumer.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	testkit.WaitFor(t, 30*time.Second, func() error { return viewsOf(store, want) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if flaky.fails.Load() >= 0 {
		t.Fatal("the injected failures were not all hit")
	}
}
