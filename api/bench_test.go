package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/segments"
)

// newMembersServer serves the API over a real Redis whose "new" segment
// has n members (entered on 50 distinct seconds, so most share a score).
func newMembersServer(t testing.TB, n int) (*httptest.Server, *redis.Client, string) {
	rdb, prefix := testkit.Redis(t)
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := labelstage.New(store, nil, nil, nil, labelstage.Config{NoEncoder: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyspace.LoadScripts(context.Background(), rdb); err != nil {
		t.Fatal(err)
	}
	live, err := segments.NewDefaultLive(segments.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := keyspace.NewKeys(prefix).Members("new")
	for i := 0; i < n; i += 10000 {
		var zs []redis.Z
		for j := i; j < min(n, i+10000); j++ {
			zs = append(zs, redis.Z{Score: float64(1_300_000_000 + j%50), Member: fmt.Sprintf("user-%07d", j)})
		}
		if err := rdb.ZAdd(context.Background(), key, zs...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := api.Config{}
	cfg.SetDefaults()
	srv := httptest.NewServer(api.New(cfg, api.Deps{Labels: st, Live: live}, nil))
	t.Cleanup(srv.Close)
	return srv, rdb, key
}

func getMembers(t testing.TB, base, cursor string) api.Members {
	q := base + "/v1/segments/new/members?limit=1000"
	if cursor != "" {
		q += "&cursor=" + url.QueryEscape(cursor)
	}
	resp, err := http.Get(q)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var m api.Members
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", q, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Pages of 1,000 walk a 100,000-member index exactly once, in its order.
func TestMembersPagesWalkTheIndex(t *testing.T) {
	srv, rdb, key := newMembersServer(t, 100_000)
	want, err := rdb.ZRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	i, cursor := 0, ""
	for {
		m := getMembers(t, srv.URL, cursor)
		if m.Size != 100_000 {
			t.Fatalf("size %d", m.Size)
		}
		for _, x := range m.Members {
			if x.UserID != want[i] {
				t.Fatalf("member %d: %s, want %s", i, x.UserID, want[i])
			}
			i++
		}
		if cursor = m.NextCursor; cursor == "" {
			break
		}
	}
	if i != len(want) {
		t.Fatalf("walked %d of %d", i, len(want))
	}
}

// BenchmarkMembersPage is one 1,000-member page (from the middle of a
// 100,000-member segment) over HTTP: the read, the JSON, the transfer.
func BenchmarkMembersPage(b *testing.B) {
	srv, _, _ := newMembersServer(b, 100_000)
	cursor := ""
	for k := 0; k < 50; k++ {
		cursor = getMembers(b, srv.URL, cursor).NextCursor
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if m := getMembers(b, srv.URL, cursor); len(m.Members) != 1000 {
			b.Fatalf("%d members", len(m.Members))
		}
	}
}
