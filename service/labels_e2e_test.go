package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/label"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

type svc struct {
	*service.Service
	cancel context.CancelFunc
	done   chan error
}

func startService(t testing.TB, addr, prefix, group string, extra ...string) *svc {
	t.Helper()
	return startServiceWith(t, "", addr, prefix, group, extra...)
}

// startServiceWith also reads a YAML config file (for what the
// environment cannot say, such as producer routes).
func startServiceWith(t testing.TB, yamlPath, addr, prefix, group string, extra ...string) *svc {
	t.Helper()
	env := append(testEnv(addr, testkit.RedisAddr(), prefix, group), extra...)
	cfg, err := service.LoadConfig(yamlPath, env)
	if err != nil {
		t.Fatal(err)
	}
	s, err := service.New(cfg, zaptest.NewLogger(t).Named(group), consumer.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &svc{Service: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// testEnv is the tests' service configuration: fast group timings, small
// label waits, the repo's model and ONNX Runtime, no operations listener.
func testEnv(broker, redisAddr, prefix, group string) []string {
	return []string{
		"SEGSTREAM_KAFKA_BROKERS=" + broker,
		"SEGSTREAM_KAFKA_GROUP_ID=" + group,
		"SEGSTREAM_KAFKA_HEARTBEAT_INTERVAL=100ms",
		"SEGSTREAM_KAFKA_SESSION_TIMEOUT=2s",
		"SEGSTREAM_KAFKA_REBALANCE_TIMEOUT=2s",
		"SEGSTREAM_KAFKA_JOIN_GROUP_BACKOFF=50ms",
		"SEGSTREAM_KAFKA_PARTITIONS=3",
		"SEGSTREAM_REDIS_ADDRS=" + redisAddr,
		"SEGSTREAM_FEATURESTORE_PREFIX=" + prefix,
		"SEGSTREAM_HTTP_LISTEN=off",
		"SEGSTREAM_API_LISTEN=127.0.0.1:0",
		"SEGSTREAM_LABELS_COALESCE=20ms",
		"SEGSTREAM_LABELS_POLL_INTERVAL=10ms",
		"SEGSTREAM_ENCODER_MODEL_DIR=" + service.RepoFile("var/models/use-lite"),
		"SEGSTREAM_ENCODER_LIBRARY_PATH=" + service.RepoFile("var/lib/libonnxruntime.so.1"),
	}
}

func (s *svc) stop(t testing.TB) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("service stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("service did not stop within 30s")
	}
}

func metric(t testing.TB, g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func sendEvents(t *testing.T, addr string, evs ...*events.Event) {
	t.Helper()
	var items []replay.Item
	for _, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, replay.Item{Family: ev.Type.Family(), Key: ev.UserID, Value: b, TS: ev.TS, Event: ev})
	}
	_, err := replay.Send(context.Background(), items, replay.SendConfig{Brokers: []string{addr}, Topics: map[events.Family]string{
		events.FamilyClickstream: "events.clickstream", events.FamilyPurchase: "events.purchases", events.FamilyReview: "events.reviews"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func retailSlice(t *testing.T, n int) []*events.Event {
	t.Helper()
	items, _, err := replay.ReadRetail([]string{retailFile()}, replay.RetailOptions{Until: time.Date(2011, 2, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var out []*events.Event
	for _, it := range items[:min(n, len(items))] {
		out = append(out, it.Event)
	}
	return out
}

// kcatRead reads a topic to its end with kcat: key, headers, value per line.
func kcatRead(t *testing.T, addr, topic string) []string {
	t.Helper()
	out, err := exec.Command("kcat", "-C", "-b", addr, "-t", topic, "-e", "-q", "-Z", "-f", "%k\t%h\t%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C %s: %v\n%s", topic, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// checkLabelTopics verifies the label and change topics read by kcat:
// PRODUCT.md's fields, versions strictly increasing per user and no two
// documents under one (user, version).
func checkLabelTopics(t *testing.T, addr string) (docs map[string][]label.Doc, changes []label.Change) {
	t.Helper()
	docs = map[string][]label.Doc{}
	byVersion := map[string]string{}
	for _, l := range kcatRead(t, addr, "segments.labels") {
		parts := strings.SplitN(l, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("kcat line %q", l)
		}
		if parts[2] == "NULL" || parts[2] == "" {
			continue // tombstone
		}
		var d label.Doc
		dec := json.NewDecoder(strings.NewReader(parts[2]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("label document %q: %v", parts[2], err)
		}
		if d.UserID != parts[0] || d.Version < 1 || d.AsOf.IsZero() || d.Model.Name == "" || d.Model.Version == "" || d.Segments == nil || d.Scores == nil {
			t.Fatalf("label document incomplete: %s", parts[2])
		}
		if _, ok := d.Scores["churn_risk"]; !ok {
			t.Fatalf("no churn_risk score: %s", parts[2])
		}
		key := fmt.Sprint(d.UserID, "@", d.Version)
		if prev, ok := byVersion[key]; ok && prev != parts[2] {
			t.Fatalf("two different documents for %s:\n%s\n%s", key, prev, parts[2])
		}
		byVersion[key] = parts[2]
		if ds := docs[d.UserID]; len(ds) > 0 && d.Version < ds[len(ds)-1].Version {
			t.Fatalf("user %s: version %d after %d", d.UserID, d.Version, ds[len(ds)-1].Version)
		}
		docs[d.UserID] = append(docs[d.UserID], d)
	}
	for _, l := range kcatRead(t, addr, "segments.changes") {
		parts := strings.SplitN(l, "\t", 3)
		var c label.Change
		if err := json.Unmarshal([]byte(parts[2]), &c); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(parts[1], "segment="+c.Segment) || (c.Change != "entered" && c.Change != "exited") || c.UserID != parts[0] || c.Version < 1 {
			t.Fatalf("change message %q", l)
		}
		changes = append(changes, c)
	}
	return docs, changes
}

func TestLabelsEndToEnd(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.ApacheKafka(t, 3) // a real broker: the whole path, read back with kcat
	_, prefix := testkit.Redis(t)
	cfgFile := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(cfgFile, []byte("producer:\n  routes:\n    - {segment: low_value, change: entered, topic: alerts.low}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServiceWith(t, cfgFile, addr, prefix, "e2e")
	evs := retailSlice(t, 600)
	users := map[string]bool{}
	for _, e := range evs {
		users[e.UserID] = true
	}
	sendEvents(t, addr, evs...)
	waitAllLabelled(t, s, users)
	docs, changes := checkLabelTopics(t, addr)
	if len(docs) != len(users) {
		t.Fatalf("labels topic has %d users, want %d", len(docs), len(users))
	}
	entered := map[string]int{}
	seen := map[string]bool{} // a change may be delivered again: count each (user, version, segment) once
	dups := 0
	for _, c := range changes {
		k := fmt.Sprint(c.UserID, "@", c.Version, "/", c.Segment, "/", c.Change)
		if seen[k] {
			dups++
			continue
		}
		seen[k] = true
		if c.Change == "entered" {
			entered[c.Segment]++
		}
	}
	if dups > 0 {
		t.Logf("%d change messages delivered twice", dups)
	}
	t.Logf("%d users, %d changes, entries by segment %v, encodes %v (skipped %v)", len(users), len(changes), entered,
		metric(t, s.Registry, "segstream_labels_encodes_total"), metric(t, s.Registry, "segstream_labels_encodes_skipped_total"))
	// the route copies exactly the low_value entries to alerts.low
	alerts := kcatRead(t, addr, "alerts.low")
	distinct := map[string]bool{}
	for _, a := range alerts {
		var c label.Change
		if parts := strings.SplitN(a, "\t", 3); len(parts) == 3 && json.Unmarshal([]byte(parts[2]), &c) == nil {
			distinct[fmt.Sprint(c.UserID, "@", c.Version)] = true
		}
	}
	if len(distinct) == 0 || len(distinct) != entered["low_value"] {
		t.Errorf("alerts.low has %d distinct messages (%d in all), %d low_value entries were published", len(distinct), len(alerts), entered["low_value"])
	}
	for _, a := range alerts {
		if !strings.Contains(a, `"segment":"low_value"`) || !strings.Contains(a, `"change":"entered"`) {
			t.Fatalf("alert %q", a)
		}
	}
	// the slice spans two months: everyone is new; the heads still split
	if entered["new"] != len(users) {
		t.Errorf("%d users entered new, want all %d", entered["new"], len(users))
	}
	if entered["low_value"] == 0 || entered["mid_value"]+entered["high_value"] == 0 {
		t.Errorf("the heads do not split users: %v", entered)
	}
	// everyone is new (at_risk, which takes any recent buyer since issue
	// 12, holds only the few the churn head is surest about), but the
	// churn head still ranks them
	risks := map[float64]bool{}
	for _, ds := range docs {
		risks[ds[len(ds)-1].Scores["churn_risk"]] = true
	}
	if len(risks) < 10 {
		t.Errorf("only %d distinct churn_risk scores over %d users", len(risks), len(docs))
	}
}

// Numeric-only changes re-classify without running the encoder.
func TestNumericChangeSkipsEncoder(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.Kafka(t, 1)
	_, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "numeric")
	ts := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	buy := &events.Event{EventID: "n1", Type: events.TypePurchase, UserID: "n", TS: ts, OrderID: "o1", Currency: "GBP",
		Items: []events.Item{{ProductID: "p", Description: "RED RETROSPOT CAKE STAND", Quantity: 2, UnitPrice: 9.95}}}
	sendEvents(t, addr, buy)
	// labelled at once, encoded beside, labelled again with the embedding
	waitEval := func(n float64) {
		testkit.WaitFor(t, 60*time.Second, func() error {
			if e := metric(t, s.Registry, "segstream_labels_evaluated_total"); e < n {
				return fmt.Errorf("%v evaluations, want %v", e, n)
			}
			return nil
		})
	}
	waitEval(2)
	if enc := metric(t, s.Registry, "segstream_labels_encodes_total"); enc != 1 {
		t.Fatalf("encodes after the first purchase: %v, want 1", enc)
	}
	// a refund and a view: numbers change, text does not
	refund := &events.Event{EventID: "n2", Type: events.TypeRefund, UserID: "n", TS: ts.Add(time.Hour), OrderID: "C1", Currency: "GBP",
		Items: []events.Item{{ProductID: "p", Quantity: 1, UnitPrice: 9.95}}}
	view := &events.Event{EventID: "n3", Type: events.TypeView, UserID: "n", TS: ts.Add(2 * time.Hour), ProductID: "p", Price: 9.95}
	sendEvents(t, addr, refund)
	waitEval(3)
	sendEvents(t, addr, view)
	waitEval(4)
	time.Sleep(200 * time.Millisecond) // an encode would have been queued by now
	if got := metric(t, s.Registry, "segstream_labels_encodes_total"); got != 1 {
		t.Fatalf("numeric-only changes ran the encoder: %v encodes", got)
	}
	if got := metric(t, s.Registry, "segstream_labels_encodes_skipped_total"); got < 2 {
		t.Fatalf("encodes skipped = %v, want >= 2", got)
	}
}

// A silent user moves to dormant by time alone: other users' events move
// the event-time clock, and the due set re-evaluates the silent one.
func TestSilentUserGoesDormantByTimeAlone(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.Kafka(t, 1)
	_, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "silent", "SEGSTREAM_LABELS_DUE_STEP=24h")
	t0 := time.Date(2011, 1, 10, 10, 0, 0, 0, time.UTC)
	var evs []*events.Event
	for i := 0; i < 3; i++ {
		evs = append(evs, &events.Event{EventID: fmt.Sprint("q", i), Type: events.TypePurchase, UserID: "quiet", TS: t0.Add(time.Duration(i) * 24 * time.Hour),
			OrderID: fmt.Sprint("oq", i), Currency: "GBP", Items: []events.Item{{ProductID: "p", Description: "JUMBO BAG RED RETROSPOT", Quantity: 10, UnitPrice: 1.95}}})
	}
	sendEvents(t, addr, evs...)
	testkit.WaitFor(t, 60*time.Second, func() error {
		d, _, err := s.Labels.Label(context.Background(), "quiet")
		if err != nil {
			return fmt.Errorf("no label yet: %w", err)
		}
		if d == nil {
			return errors.New("no label yet")
		}
		return nil
	})
	first, _, _ := s.Labels.Label(context.Background(), "quiet")
	if has(first.Segments, "dormant") {
		t.Fatalf("dormant right after buying: %v", first.Segments)
	}
	// the world goes on for a year without "quiet"
	var others []*events.Event
	for d := 0; d < 365; d += 5 {
		ts := t0.Add(time.Duration(d+5) * 24 * time.Hour)
		others = append(others, &events.Event{EventID: fmt.Sprint("o", d), Type: events.TypeView, UserID: fmt.Sprint("other", d%7), TS: ts, ProductID: "p", Price: 1})
		sendEvents(t, addr, others[len(others)-1])
	}
	testkit.WaitFor(t, 90*time.Second, func() error {
		d, _, _ := s.Labels.Label(context.Background(), "quiet")
		if !has(d.Segments, "dormant") {
			return fmt.Errorf("quiet is %v as of %s", d.Segments, d.AsOf)
		}
		return nil
	})
	last, _, _ := s.Labels.Label(context.Background(), "quiet")
	t.Logf("quiet: %v (v%d) → %v (v%d, as of %s); due re-evaluations %v", first.Segments, first.Version, last.Segments, last.Version, last.AsOf,
		metric(t, s.Registry, "segstream_labels_due_total"))
}

// Erase a user, replay their events: the user stays gone and kcat sees
// the tombstone on the labels topic.
func TestEraseThenReplay(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.ApacheKafka(t, 1) // a real broker: the tombstone read back with kcat
	rdb, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "erase")
	ts := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := &events.Event{EventID: "x1", Type: events.TypeReview, UserID: "gone", TS: ts, ProductID: "p", Rating: 5, Text: "lovely, write to me at me@example.org"}
	sendEvents(t, addr, ev)
	testkit.WaitFor(t, 60*time.Second, func() error {
		if d, _, _ := s.Labels.Label(context.Background(), "gone"); d == nil {
			return fmt.Errorf("not labelled yet")
		}
		return nil
	})
	before, _, _ := s.Labels.Label(context.Background(), "gone")
	for _, seg := range before.Segments {
		if m := members(t, rdb, prefix, seg); !has(m, "gone") {
			t.Fatalf("gone is in %s but not in its member index %v", seg, m)
		}
	}
	if err := s.Labels.Erase(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	for _, seg := range before.Segments {
		if m := members(t, rdb, prefix, seg); has(m, "gone") {
			t.Fatalf("erased, gone is still in the member index of %s", seg)
		}
	}
	testkit.WaitFor(t, 30*time.Second, func() error {
		for _, l := range kcatRead(t, addr, "segments.labels") {
			if strings.HasPrefix(l, "gone\t") && strings.HasSuffix(l, "\tNULL") {
				return nil
			}
		}
		return fmt.Errorf("no tombstone on segments.labels yet")
	})
	ev2 := *ev
	ev2.EventID = "x2" // a replay under new ids, and the original again
	sendEvents(t, addr, ev, &ev2)
	testkit.WaitFor(t, 30*time.Second, func() error {
		if n := metric(t, s.Registry, "segstream_featurestore_events_total"); n < 3 {
			return fmt.Errorf("%v events folded", n)
		}
		return nil
	})
	if _, err := s.Store.Get(context.Background(), "gone"); err == nil {
		t.Fatal("erased user came back")
	}
	if d, erased, _ := s.Labels.Label(context.Background(), "gone"); d != nil || !erased {
		t.Fatalf("label after erase: %+v erased=%v", d, erased)
	}
}

// waitAllLabelled waits until every user has a label and nothing waits in
// the label stage.
func waitAllLabelled[V any](t *testing.T, s *svc, users map[string]V) {
	t.Helper()
	testkit.WaitFor(t, 120*time.Second, func() error {
		n := 0
		for u := range users {
			if d, _, err := s.Labels.Label(context.Background(), u); err == nil && d != nil {
				n++
			}
		}
		if n < len(users) {
			return fmt.Errorf("%d of %d users labelled", n, len(users))
		}
		if n := queued(s); n != 0 {
			return fmt.Errorf("%d users queued", n)
		}
		return nil
	})
}

// queued counts users waiting anywhere in the label stage.
func queued(s *svc) int64 {
	n, err := s.Labels.Pending(context.Background())
	if err != nil {
		return -1
	}
	return n
}

func has(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Two instances in one group split the work; one stops; the other
// finishes; every user ends labelled and the topics stay consistent.
func TestTwoInstancesSplitAndTakeOver(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.ApacheKafka(t, 3) // a real broker's group coordinator
	_, prefix := testkit.Redis(t)
	a := startService(t, addr, prefix, "pair")
	b := startService(t, addr, prefix, "pair")
	testkit.WaitFor(t, 30*time.Second, func() error {
		if len(a.Consumer.Assigned()) == 0 || len(b.Consumer.Assigned()) == 0 {
			return fmt.Errorf("assignments a=%v b=%v", a.Consumer.Assigned(), b.Consumer.Assigned())
		}
		return nil
	})
	evs := retailSlice(t, 400)
	users := map[string]bool{}
	for _, e := range evs {
		users[e.UserID] = true
	}
	sendEvents(t, addr, evs[:200]...)
	testkit.WaitFor(t, 60*time.Second, func() error {
		// both fold their partitions' events (labels go to whichever claims first)
		ea, eb := metric(t, a.Registry, "segstream_consumer_events_in_total"), metric(t, b.Registry, "segstream_consumer_events_in_total")
		if ea == 0 || eb == 0 || ea+eb < 200 {
			return fmt.Errorf("events folded a=%v b=%v", ea, eb)
		}
		return nil
	})
	b.stop(t)
	sendEvents(t, addr, evs[200:]...)
	testkit.WaitFor(t, 120*time.Second, func() error {
		for u := range users {
			if d, _, _ := a.Labels.Label(context.Background(), u); d == nil {
				return fmt.Errorf("user %s not labelled", u)
			}
		}
		if n := queued(a); n != 0 {
			return fmt.Errorf("%d users queued", n)
		}
		return nil
	})
	docs, _ := checkLabelTopics(t, addr)
	if len(docs) != len(users) {
		t.Fatalf("%d users on the labels topic, want %d", len(docs), len(users))
	}
}

// A backlog in the label stage pauses intake (backpressure), and intake
// resumes once it drains.
func TestBacklogPausesIntake(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.ApacheKafka(t, 1)
	_, prefix := testkit.Redis(t)
	// users wait 3 s before labelling: the backlog builds up
	s := startService(t, addr, prefix, "backlog", "SEGSTREAM_LABELS_COALESCE=3s", "SEGSTREAM_LABELS_MAX_BACKLOG=20",
		"SEGSTREAM_KAFKA_MAX_BATCH=1", "SEGSTREAM_LABELS_ENCODE=false")
	ts := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	var evs []*events.Event
	const n = 3000
	for i := 0; i < n; i++ {
		evs = append(evs, &events.Event{EventID: fmt.Sprint("b", i), Type: events.TypeView, UserID: fmt.Sprint("bu", i), TS: ts, ProductID: "p", Price: 1})
	}
	sendEvents(t, addr, evs...)
	testkit.WaitFor(t, 20*time.Second, func() error {
		if metric(t, s.Registry, "segstream_labels_intake_pauses_total") == 0 {
			return fmt.Errorf("intake never paused")
		}
		return nil
	})
	if in := metric(t, s.Registry, "segstream_consumer_events_in_total"); in >= n {
		t.Fatalf("all %v events were taken in despite the backlog", in)
	}
	testkit.WaitFor(t, 90*time.Second, func() error {
		if in := metric(t, s.Registry, "segstream_consumer_events_in_total"); in < n {
			return fmt.Errorf("%v events in", in)
		}
		return nil
	})
}

// The broker itself is killed (SIGKILL) and started again mid-stream: the
// service waits, resumes and loses nothing. Every user's profile holds
// all its events, and the change log read back with kcat, replayed per
// user in version order, gives each user's final segments.
func TestBrokerKilledMidStream(t *testing.T) {
	testkit.NeedModels(t)
	b := testkit.StartApacheKafka(t, 3)
	_, prefix := testkit.Redis(t)
	s := startService(t, b.Addr, prefix, "broker-kill")
	evs := retailSlice(t, 1200)
	users := map[string]int{}
	for _, e := range evs {
		users[e.UserID]++
	}
	sendEvents(t, b.Addr, evs[:600]...)
	testkit.WaitFor(t, 60*time.Second, func() error {
		if n := metric(t, s.Registry, "segstream_featurestore_events_total"); n < 300 {
			return fmt.Errorf("%v events folded", n)
		}
		return nil
	})
	b.Kill(t)
	time.Sleep(3 * time.Second) // the service meets a dead broker
	b.Start(t)
	sendEvents(t, b.Addr, evs[600:]...)
	waitAllLabelled(t, s, users)
	select {
	case err := <-s.done:
		t.Fatalf("the service stopped: %v", err)
	default:
	}
	for u, n := range users {
		p, err := s.Store.Get(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		for _, c := range p.Counts {
			got += c
		}
		if got != uint64(n) {
			t.Fatalf("user %s: %d events folded, %d sent", u, got, n)
		}
	}
	// publishing may still be catching up after the restart
	testkit.WaitFor(t, 60*time.Second, func() error {
		docs, changes := checkLabelTopics(t, b.Addr)
		byUser := map[string][]label.Change{}
		for _, c := range changes {
			byUser[c.UserID] = append(byUser[c.UserID], c)
		}
		for u := range users {
			ds := docs[u]
			if len(ds) == 0 {
				return fmt.Errorf("no document for %s yet", u)
			}
			last := ds[len(ds)-1]
			cur, _, _ := s.Labels.Label(context.Background(), u)
			if cur == nil || last.Version != cur.Version {
				return fmt.Errorf("user %s: newest published version %d, stored %v", u, last.Version, cur)
			}
			chs := byUser[u]
			sort.SliceStable(chs, func(i, j int) bool { return chs[i].Version < chs[j].Version })
			in := map[string]bool{}
			for _, c := range chs {
				in[c.Segment] = c.Change == label.Entered
			}
			var segs []string
			for sg, ok := range in {
				if ok {
					segs = append(segs, sg)
				}
			}
			sort.Strings(segs)
			want := append([]string(nil), last.Segments...)
			sort.Strings(want)
			if strings.Join(segs, ",") != strings.Join(want, ",") {
				t.Fatalf("user %s: the change log gives %v, the newest document %v", u, segs, want)
			}
		}
		return nil
	})
}
