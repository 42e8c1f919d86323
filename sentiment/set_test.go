package sentiment

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/events"
)

func TestAnnotate(t *testing.T) {
	set := NewSet(map[string]*Model{"zh": toyModel(t)})
	review := func(text, lang string, rating int, s events.Sentiment) *events.Event {
		return &events.Event{Type: events.TypeReview, Text: text, Lang: lang, Rating: rating, Sentiment: s}
	}
	for _, c := range []struct {
		name string
		ev   *events.Event
		want events.Sentiment
		src  Source
	}{
		{"zh text, the model", review("质量太差，很失望", "", 5, 0), events.SentimentNegative, SourceModel},
		{"zh text, positive", review("很好，很满意", "", 1, 0), events.SentimentPositive, SourceModel},
		{"declared zh-CN", review("很差", "zh-CN", 0, 0), events.SentimentNegative, SourceModel},
		{"given kept", review("质量太差", "", 1, events.SentimentPositive), events.SentimentPositive, SourceGiven},
		{"given neutral kept", review("很好", "", 5, events.SentimentNeutral), events.SentimentNeutral, SourceGiven},
		{"English, no English model: rating", review("terrible, broke in a day", "", 1, 0), events.SentimentNegative, SourceRating},
		{"English rating 3", review("it is ok", "", 3, 0), events.SentimentNeutral, SourceRating},
		{"English rating 4", review("nice", "en", 4, 0), events.SentimentPositive, SourceRating},
		{"declared en over Chinese text", review("很差", "en", 5, 0), events.SentimentPositive, SourceRating},
		{"empty zh text: rating", review("", "zh", 2, 0), events.SentimentNegative, SourceRating},
		{"blank text: rating", review("   ", "", 5, 0), events.SentimentPositive, SourceRating},
		{"no text, no rating", review("", "", 0, 0), events.SentimentUnknown, SourceNone},
		{"English, no rating", review("meh", "", 0, 0), events.SentimentUnknown, SourceNone},
		{"rating out of range", review("meh", "", 6, 0), events.SentimentUnknown, SourceNone},
		{"not a review", &events.Event{Type: events.TypePurchase, Text: "很差", Rating: 1}, events.SentimentUnknown, SourceNone},
		{"not a review, sentiment kept", &events.Event{Type: events.TypeView, Sentiment: events.SentimentNeutral}, events.SentimentNeutral, SourceNone},
	} {
		before := *c.ev
		src := set.Annotate(c.ev)
		if c.ev.Sentiment != c.want || src != c.src {
			t.Errorf("%s: %v by %v, want %v by %v", c.name, c.ev.Sentiment, src, c.want, c.src)
		}
		after := *c.ev
		after.Sentiment = before.Sentiment
		if after.Text != before.Text || after.Rating != before.Rating || after.Lang != before.Lang || after.Type != before.Type {
			t.Errorf("%s: Annotate changed more than the sentiment", c.name)
		}
	}
	// no models at all: everything by rating
	ev := review("质量太差", "", 4, 0)
	if src := NewSet(nil).Annotate(ev); src != SourceRating || ev.Sentiment != events.SentimentPositive {
		t.Errorf("empty set: %v by %v", ev.Sentiment, src)
	}
	for s, name := range map[Source]string{SourceNone: "none", SourceGiven: "given", SourceModel: "model", SourceRating: "rating", 9: "unknown"} {
		if s.String() != name {
			t.Errorf("Source(%d) = %q, want %q", s, s.String(), name)
		}
	}
}

func TestThreshold(t *testing.T) {
	set := NewSet(nil)
	if set.Classify(0.51) != events.SentimentNegative || set.Classify(0.5) != events.SentimentPositive {
		t.Error("default threshold 0.5")
	}
	band, err := set.WithThreshold(0.6, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[float64]events.Sentiment{0.1: events.SentimentPositive, 0.39: events.SentimentPositive, 0.5: events.SentimentNeutral, 0.75: events.SentimentNeutral, 0.81: events.SentimentNegative} {
		if got := band.Classify(p); got != want {
			t.Errorf("Classify(%v) = %v, want %v", p, got, want)
		}
	}
	if set.Classify(0.55) != events.SentimentNegative {
		t.Error("WithThreshold changed the original set")
	}
	for _, c := range [][2]float64{{0, 0}, {1, 0}, {0.5, -0.1}, {0.5, 0.6}, {0.9, 0.2}} {
		if _, err := set.WithThreshold(c[0], c[1]); err == nil {
			t.Errorf("threshold %v, band %v: no error", c[0], c[1])
		}
	}
}

func TestLoadSet(t *testing.T) {
	dir := t.TempDir()
	m := toyModel(t)
	path := filepath.Join(dir, "zh.bin")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	set, err := LoadSet(map[string]string{"zh": path})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Languages(); len(got) != 1 || got[0] != "zh" || set.Model("zh") == nil || set.Model("en") != nil {
		t.Errorf("languages %v", got)
	}
	if _, err := LoadSet(map[string]string{"en": path}); err == nil || !strings.Contains(err.Error(), `model for "zh"`) {
		t.Errorf("a zh model loaded as en: %v", err)
	}
	if _, err := LoadSet(map[string]string{"zh": filepath.Join(dir, "missing.bin")}); err == nil {
		t.Error("missing file: no error")
	}
}
