package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/sentiment"
)

// corpusReviews returns n reviews of one category (cat, as the corpus
// writes it) and polarity (negative or not) of the Chinese review corpus,
// read as the sentiment model reads it, skipping the first skip of them.
func corpusReviews(t *testing.T, cat string, negative bool, skip, n int) []string {
	t.Helper()
	c, err := sentiment.ReadCorpus(testkit.RepoFile("../shared/data/online_shopping_10_cats.csv.gz"))
	if err != nil {
		t.Skipf("the Chinese review corpus is not here: %v", err)
	}
	var out []string
	for _, r := range c.Reviews {
		if r.Category != cat || r.Negative != negative || len([]rune(r.Text)) < 12 || len([]rune(r.Text)) > 120 {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if out = append(out, r.Text); len(out) == n {
			return out
		}
	}
	t.Fatalf("only %d reviews of %s (negative %v)", len(out), cat, negative)
	return nil
}

// TestReviewsInTwoLanguages: the whole path with real Chinese and English
// reviews on Apache Kafka. Chinese reviews are encoded by the Chinese model
// (detected from the script, or declared with lang) and give Chinese
// interests; their sentiment comes from the Chinese sentiment model (every
// review here has the neutral rating 3, so only the text can make a
// detractor); an English review, without an English sentiment model, is
// scored by its rating.
func TestReviewsInTwoLanguages(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.ApacheKafka(t, 1)
	_, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "reviews")
	ts := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	review := func(user, text, lang string, rating int) *events.Event {
		n++
		return &events.Event{EventID: fmt.Sprint("r", n), Type: events.TypeReview, UserID: user, TS: ts.Add(time.Duration(n) * time.Hour),
			ProductID: "p" + fmt.Sprint(n), Rating: rating, Text: text, Lang: lang}
	}
	var evs []*events.Event
	for _, text := range corpusReviews(t, "酒店", true, 0, 3) {
		evs = append(evs, review("zh-hotel-unhappy", text, "", 3))
	}
	for _, text := range corpusReviews(t, "手机", false, 0, 3) {
		evs = append(evs, review("zh-phone-happy", text, "zh-CN", 3))
	}
	evs = append(evs,
		review("en-unhappy", "Broke after two days, very disappointed", "", 1),
		review("en-unhappy", "The colours are not as shown", "en", 2),
		&events.Event{EventID: "b1", Type: events.TypePurchase, UserID: "en-unhappy", TS: ts, OrderID: "o1", Currency: "GBP",
			Items: []events.Item{{ProductID: "22423", Description: "REGENCY CAKESTAND 3 TIER", Quantity: 1, UnitPrice: 12.75}}})
	sendEvents(t, addr, evs...)

	want := map[string]struct {
		detractor bool
		interest  string // a Chinese theme the user must hold
		models    int    // embeddings stored
	}{
		"zh-hotel-unhappy": {detractor: true, interest: "interest:hotels", models: 1},
		"zh-phone-happy":   {detractor: false, interest: "interest:phones", models: 1},
		"en-unhappy":       {detractor: true, models: 1},
	}
	ctx := context.Background()
	testkit.WaitFor(t, 120*time.Second, func() error {
		for u, w := range want {
			d, _, err := s.Labels.Label(ctx, u)
			if err != nil || d == nil {
				return fmt.Errorf("%s not labelled (%w)", u, err)
			}
			if has(d.Segments, "detractor") != w.detractor {
				return fmt.Errorf("%s: segments %v, detractor %v wanted", u, d.Segments, w.detractor)
			}
			if w.interest != "" && !has(d.Segments, w.interest) {
				return fmt.Errorf("%s: segments %v, no %s", u, d.Segments, w.interest)
			}
		}
		if q := queued(s); q != 0 {
			return fmt.Errorf("%d users queued", q)
		}
		return nil
	})
	for u, w := range want {
		embs, err := s.Labels.Embeddings(ctx, u)
		if err != nil || len(embs) != w.models {
			t.Errorf("%s: embeddings %d (%v), want %d", u, len(embs), err, w.models)
			continue
		}
		zh := strings.HasPrefix(u, "zh-")
		if got := strings.HasPrefix(embs[0].Model, "bge-small-zh"); got != zh {
			t.Errorf("%s: encoded by %s", u, embs[0].Model)
		}
		d, _, _ := s.Labels.Label(ctx, u)
		t.Logf("%s: segments %v, embedding by %s", u, d.Segments, embs[0].Model)
	}
	// a Chinese reviewer holds no English theme: the English model never saw the text
	chinese := map[string]bool{}
	for _, th := range strings.Fields("books clothes computers dairy fruit hotels phones shampoo tablets water_heaters") {
		chinese["interest:"+th] = true
	}
	if d, _, _ := s.Labels.Label(ctx, "zh-hotel-unhappy"); d != nil {
		for k := range d.Scores {
			if strings.HasPrefix(k, "interest:") && !chinese[k] {
				t.Errorf("a Chinese reviewer has the English interest %s", k)
			}
		}
	}
	if got := metric(t, s.Registry, "segstream_sentiment_reviews_total"); got != float64(len(evs)-1) {
		t.Errorf("reviews scored %v, want %d", got, len(evs)-1)
	}
}
