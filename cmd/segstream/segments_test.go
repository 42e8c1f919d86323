package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
)

// `segstream segments`: check refuses a bad file naming segment, field
// and position (exit 1); preview counts members over the profiles in
// Redis (equal to a count made here from the events) and writes nothing;
// apply publishes to the topic and list shows the definition from it.
func TestSegmentsCLI(t *testing.T) {
	testkit.NeedModels(t)
	bin := build(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(good, []byte("segments:\n  - name: frequent\n    description: three purchases or more\n    enter: count(\"purchase\") >= 3\n  - name: frequent_active\n    enter: segment(\"frequent\") && segment(\"active\")\n"), 0o644))
	must(os.WriteFile(bad, []byte("segments:\n  - name: broken\n    enter: spend_in(30) > \"x\"\n"), 0o644))

	out, err := cmdRun(os.Environ(), bin, "segments", "check", good)
	if err != nil || !strings.Contains(out, "ok  frequent ") {
		t.Fatalf("check good: %v\n%s", err, out)
	}
	out, err = cmdRun(os.Environ(), bin, "segments", "check", bad)
	if err == nil || !strings.Contains(out, `bad.yaml:3:`) || !strings.Contains(out, `segment "broken": enter:`) || !strings.Contains(out, `spend_in(30) > \"x\"`) {
		t.Fatalf("check bad: %v\n%s", err, out)
	}

	// profiles in Redis, folded by the store (no service running)
	rdb, prefix := testkit.Redis(t)
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	must(err)
	evs := testkit.RetailSlice(t)
	recs := make([]events.Record, len(evs))
	purchases := map[string]int{}
	for i, e := range evs {
		recs[i] = events.Record{Event: e, Source: "t/0", Offset: int64(i)}
		if e.Type == events.TypePurchase {
			purchases[e.UserID]++
		}
	}
	_, err = store.Fold(context.Background(), recs)
	must(err)
	want := 0
	for _, n := range purchases {
		if n >= 3 {
			want++
		}
	}
	keysBefore, _ := rdb.Keys(context.Background(), prefix+":*").Result()
	env := append(os.Environ(), "SEGSTREAM_REDIS_ADDRS="+testkit.RedisAddr(), "SEGSTREAM_FEATURESTORE_PREFIX="+prefix,
		"SEGSTREAM_MODEL_PATH="+testkit.RepoFile("models/default.json"))
	out, err = cmdRun(env, bin, "segments", "preview", good)
	if err != nil {
		t.Fatalf("preview: %v\n%s", err, out)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "frequent ") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 2 || f[1] != fmt.Sprint(want) {
		t.Fatalf("preview says %q, want %d members (users with 3+ purchases)\n%s", line, want, out)
	}
	keysAfter, _ := rdb.Keys(context.Background(), prefix+":*").Result()
	if len(keysAfter) != len(keysBefore) {
		t.Fatalf("preview wrote to Redis: %d keys before, %d after", len(keysBefore), len(keysAfter))
	}

	addr := testkit.Kafka(t, 1)
	kenv := append(append([]string(nil), env...), "SEGSTREAM_KAFKA_BROKERS="+addr)
	out, err = cmdRun(kenv, bin, "segments", "apply", good)
	if err != nil || !strings.Contains(out, "published frequent") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err = cmdRun(kenv, bin, "segments", "list")
	if err != nil || !strings.Contains(out, "frequent_active") || !strings.Contains(out, "segments.definitions/0@") || !strings.Contains(out, "at_risk") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = cmdRun(kenv, bin, "segments", "delete", "frequent_active")
	if err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	out, err = cmdRun(kenv, bin, "segments", "list")
	if err != nil || strings.Contains(out, "frequent_active") {
		t.Fatalf("list after delete: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
