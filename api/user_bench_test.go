package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/segments"
)

// newUserServer serves the API over a real Redis holding one user with a
// folded profile (40 events) and a label document like the service's.
func newUserServer(b *testing.B) http.Handler {
	rdb, prefix := testkit.Redis(b)
	ctx := context.Background()
	store, err := featurestore.New(rdb, featurestore.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := labelstage.New(store, nil, nil, nil, labelstage.Config{NoEncoder: true}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := keyspace.LoadScripts(ctx, rdb); err != nil {
		b.Fatal(err)
	}
	live, err := segments.NewDefaultLive(segments.Options{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	var recs []events.Record
	for i := 0; i < 40; i++ {
		ev := &events.Event{EventID: fmt.Sprint("e", i), Type: events.TypeView, UserID: "u1", TS: t0.Add(time.Duration(i) * time.Hour), ProductID: "p", Category: fmt.Sprint("cat", i%5)}
		if i%4 == 0 {
			ev.Type, ev.OrderID, ev.Currency = events.TypePurchase, fmt.Sprint("o", i), "GBP"
			ev.Items = []events.Item{{ProductID: "p1", Description: "RED TEA CUP", Quantity: 2, UnitPrice: 1.5}}
		}
		recs = append(recs, events.Record{Event: ev, Source: "t/0", Offset: int64(i)})
	}
	if _, err := store.Fold(ctx, recs); err != nil {
		b.Fatal(err)
	}
	doc := `{"user_id":"u1","version":3,"as_of":"2011-03-02T11:00:00Z","segments":["new","mid_value","interest:kitchen"],"scores":{"churn_risk":0.4123,"value_tier_none":0.2,"value_tier_mid":0.7,"value_tier_high":0.1,"interest:kitchen":0.61,"interest:garden":0.2},"model":{"name":"segstream-gbdt","version":"2026-11-30"},"reasons":[{"segment":"new","input":"days_since_first_event","value":1.0417,"contribution":0},{"segment":"mid_value","input":"value_logp_mid","value":-0.3567,"contribution":0},{"segment":"mid_value","input":"bgnbd_logit_p_buy90","value":0.8,"contribution":0.31},{"segment":"interest:kitchen","input":"interests","value":0.61,"contribution":0.61}]}`
	if err := rdb.HSet(ctx, keyspace.NewKeys(prefix).Label("u1"), "ver", 3, "doc", doc, "published", 3, "erased", "0").Err(); err != nil {
		b.Fatal(err)
	}
	cfg := api.Config{}
	cfg.SetDefaults()
	return api.New(cfg, api.Deps{Labels: st, Live: live}, nil)
}

// BenchmarkGetUserHandler is GET /v1/users/{id} in the handler alone (one
// Redis round trip, the summary, the JSON), without the HTTP transport.
func BenchmarkGetUserHandler(b *testing.B) {
	h := newUserServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/users/u1", nil))
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGetUserParallel is the handler under 64 concurrent requests:
// concurrent reads share Redis round trips.
func BenchmarkGetUserParallel(b *testing.B) {
	h := newUserServer(b)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/users/u1", nil))
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
}
