package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

// SIGKILL the service in the middle of a replay and start it again: no
// label change is lost (replaying segments.changes per user gives the final
// segments), no two different documents share a (user, version), versions
// never go back, and profiles equal ground truth.
func TestSigkillMidReplayLosesNoLabelChange(t *testing.T) {
	testkit.NeedModels(t)
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not installed")
	}
	bin := build(t)
	addr := testkit.ApacheKafka(t, 3) // SIGKILL mid-replay against a real broker
	rdb, prefix := testkit.Redis(t)
	env := serviceEnv(addr, prefix, "kill-test",
		"SEGSTREAM_KAFKA_SESSION_TIMEOUT=1s",
		"SEGSTREAM_KAFKA_REBALANCE_TIMEOUT=2s",
		"SEGSTREAM_KAFKA_PARTITIONS=3",
		"SEGSTREAM_KAFKA_MAX_BATCH=100",
		"SEGSTREAM_HTTP_LISTEN=off",
		"SEGSTREAM_API_LISTEN=127.0.0.1:0",
		"SEGSTREAM_LABELS_COALESCE=10ms",
		"SEGSTREAM_LABELS_BATCH_SIZE=32",
		"SEGSTREAM_LABELS_LEASE=2s",
		"SEGSTREAM_ENCODER_MODEL_DIR="+service.RepoFile("var/models/use-lite"),
		"SEGSTREAM_ENCODER_LIBRARY_PATH="+service.RepoFile("var/lib/libonnxruntime.so.1"),
		"SEGSTREAM_MODEL_PATH="+service.RepoFile("models/default.json"),
	)
	data := filepath.Join("..", "..", "..", "shared", "data", "online_retail_2010_2011.csv.gz")
	items, _, err := replay.ReadRetail([]string{data}, replay.RetailOptions{Until: time.Date(2011, 1, 15, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]*featurestore.Profile{}
	for _, it := range items {
		p := truth[it.Event.UserID]
		if p == nil {
			p = &featurestore.Profile{}
			truth[it.Event.UserID] = p
		}
		p.Apply(it.Event, featurestore.Mark{}, featurestore.DefaultLimits)
	}
	topics := map[events.Family]string{events.FamilyPurchase: "events.purchases", events.FamilyClickstream: "events.clickstream", events.FamilyReview: "events.reviews"}
	// the first half before the service starts, the rest while it runs
	half := len(items) / 2
	if _, err := replay.Send(context.Background(), items[:half], replay.SendConfig{Brokers: []string{addr}, Topics: topics}, nil); err != nil {
		t.Fatal(err)
	}
	start := func() (*exec.Cmd, *bytes.Buffer) {
		c := exec.Command(bin, "run")
		c.Env = env
		var logs bytes.Buffer
		c.Stdout, c.Stderr = &logs, &logs
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c, &logs
	}
	first, _ := start()
	testkit.WaitFor(t, 60*time.Second, func() error {
		if n := len(testkit.ReadTopicIfAny(t, addr, "segments.labels")); n < 30 {
			return fmt.Errorf("%d labels published", n)
		}
		return nil
	})
	sendDone := make(chan error, 1)
	go func() {
		_, err := replay.Send(context.Background(), items[half:], replay.SendConfig{Brokers: []string{addr}, Topics: topics, Speed: 2e6}, nil)
		sendDone <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	t.Logf("killed after %d label messages", len(testkit.ReadTopicIfAny(t, addr, "segments.labels")))
	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
	second, logs2 := start()
	// Best effort, for a test that fails early: on success the process has
	// exited and been waited for, and Kill then returns os.ErrProcessDone.
	defer func() { _ = second.Process.Kill() }()
	store, _ := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	stage, err := labelstage.New(store, nil, nil, nil, labelstage.Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	testkit.WaitFor(t, 180*time.Second, func() error {
		n, err := stage.Pending(ctx)
		if err != nil {
			return fmt.Errorf("label stage: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%d users wait in the label stage", n)
		}
		for u := range truth {
			if ok, _ := rdb.HExists(ctx, store.Keys().Label(u), "doc").Result(); !ok {
				return fmt.Errorf("user %s has no label", u)
			}
			p, err := store.Get(ctx, u)
			if err != nil {
				return err
			}
			if p.Orders() != truth[u].Orders() || p.SpendCents != truth[u].SpendCents || p.RefundCents != truth[u].RefundCents {
				return fmt.Errorf("user %s: profile not at ground truth yet", u)
			}
		}
		return nil
	})
	_ = second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("restarted service exited with %v\n%s", err, logs2)
	}

	// read both topics back with kcat
	docs := map[string]string{} // user@version → document
	lastVer := map[string]int64{}
	final := map[string][]string{}
	for _, l := range kcat(t, addr, "segments.labels") {
		parts := strings.SplitN(l, "\t", 2)
		var d label.Doc
		if err := json.Unmarshal([]byte(parts[1]), &d); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		key := fmt.Sprint(d.UserID, "@", d.Version)
		if prev, ok := docs[key]; ok && prev != parts[1] {
			t.Fatalf("two different documents for %s:\n%s\n%s", key, prev, parts[1])
		}
		docs[key] = parts[1]
		if d.Version < lastVer[d.UserID] {
			t.Fatalf("user %s: version %d published after %d", d.UserID, d.Version, lastVer[d.UserID])
		}
		lastVer[d.UserID] = d.Version
		final[d.UserID] = d.Segments
	}
	changes := map[string][]label.Change{}
	for _, l := range kcat(t, addr, "segments.changes") {
		parts := strings.SplitN(l, "\t", 2)
		var c label.Change
		if err := json.Unmarshal([]byte(parts[1]), &c); err != nil {
			t.Fatal(err)
		}
		changes[c.UserID] = append(changes[c.UserID], c)
	}
	for u, segs := range final {
		// apply each (version, segment, change) once, in version order
		seen := map[string]bool{}
		var cs []label.Change
		for _, c := range changes[u] {
			k := fmt.Sprint(c.Version, c.Segment, c.Change)
			if !seen[k] {
				seen[k] = true
				cs = append(cs, c)
			}
		}
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].Version < cs[j].Version })
		in := map[string]bool{}
		for _, c := range cs {
			in[c.Segment] = c.Change == label.Entered
		}
		var got []string
		for s, ok := range in {
			if ok {
				got = append(got, s)
			}
		}
		want := append([]string(nil), segs...)
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("user %s: changes replay to %v, final document says %v", u, got, want)
		}
	}
	if len(final) != len(truth) {
		t.Fatalf("%d users on segments.labels, want %d", len(final), len(truth))
	}
	t.Logf("%d users, %d documents, %d change messages; consistent after SIGKILL", len(final), len(docs), len(changes))
}

func kcat(t *testing.T, addr, topic string) []string {
	t.Helper()
	out, err := exec.Command("kcat", "-C", "-b", addr, "-t", topic, "-e", "-q", "-f", "%k\t%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
