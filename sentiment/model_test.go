package sentiment

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
)

// clearReviews are real reviews of the corpus's held-out test part (the
// split the committed model records: seed 14, 10,000 reviews), by source
// row: the committed model never saw them.
var clearReviews = []struct {
	row      int
	text     string
	negative bool
}{
	{2258, "这本书就是垃圾，一点用处都没有。", true},
	{15433, "电池太差，MP3音质太差。", true},
	{22505, "发来的都是烂的，差评，建议不要购买", true},
	{46876, "很不满意，质量太差", true},
	{61048, "卫生不好，有异味，服务态度很差，垃圾酒店", true},
	{14172, "外观漂亮，手感好，挺好用！", false},
	{19512, "好吃，脆甜新鲜，非常好，送货快，满意。", false},
	{36292, "宝贝很好，很好用，大赞哦", false},
	{50301, "超值性价比。配置好，性价比高，键盘处磨砂做工不错，重量适中。", false},
	{56391, "很好,服务很好,环境很好,价格也还不错,很满意", false},
}

func loadCommitted(t testing.TB) *Model {
	t.Helper()
	m, err := Load(committedModel)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCommittedModel(t *testing.T) {
	m := loadCommitted(t)
	info := m.Info()
	if info.Lang != "zh" || m.Bits() != 20 || info.Seed != 14 || info.TestN != 10000 || info.Docs < 50000 {
		t.Errorf("committed model: %+v, %d bits", info, m.Bits())
	}
	set := NewSet(map[string]*Model{"zh": m})
	for _, r := range clearReviews {
		ev := &events.Event{Type: events.TypeReview, Text: r.text, Rating: 3}
		want := events.SentimentPositive
		if r.negative {
			want = events.SentimentNegative
		}
		if src := set.Annotate(ev); src != SourceModel || ev.Sentiment != want {
			t.Errorf("row %d %q: %v by %v (P(negative) %.3f), want %v", r.row, r.text, ev.Sentiment, src, m.Negative(r.text), want)
		}
	}
}

// TestCommittedModelHeldOut checks, with the corpus, that the reviews
// above are in the committed model's held-out part, not its training
// part, and that the model still scores its figures there.
func TestCommittedModelHeldOut(t *testing.T) {
	m := loadCommitted(t)
	c := testCorpus(t)
	if c.SHA256 != m.Info().Source {
		t.Skipf("corpus sha256 %s is not the one the model was trained on (%s)", c.SHA256, m.Info().Source)
	}
	_, test, err := c.Split(m.Info().TestN, m.Info().Seed)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int]int{}
	for _, i := range test {
		rows[c.Reviews[i].Row] = i
	}
	for _, r := range clearReviews {
		i, ok := rows[r.row]
		if !ok {
			t.Errorf("row %d is not in the held-out test part", r.row)
			continue
		}
		if rv := c.Reviews[i]; rv.Text != r.text || rv.Negative != r.negative {
			t.Errorf("row %d is %q (negative %v), want %q (%v)", r.row, rv.Text, rv.Negative, r.text, r.negative)
		}
	}
	texts, neg := c.Texts(test)
	mt := Evaluate(m, texts, neg, DefaultThreshold)
	t.Logf("committed model on its %d held-out reviews: %s", len(test), mt)
	if mt.Accuracy < 0.93 { // 0.9364 when committed (docs/sentiment/go_model.md)
		t.Errorf("held-out accuracy %.4f, want >= 0.93", mt.Accuracy)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNegative scores the committed model's held-out test reviews
// in turn (the clear reviews above without the corpus). cpu-ns/op is the
// process's CPU time per review: on a machine shared with other jobs it is
// steadier than ns/op.
func BenchmarkNegative(b *testing.B) {
	m := loadCommitted(b)
	var texts []string
	for _, r := range clearReviews {
		texts = append(texts, r.text)
	}
	if c := testCorpus(b); c.SHA256 == m.Info().Source {
		_, test, err := c.Split(m.Info().TestN, m.Info().Seed)
		if err != nil {
			b.Fatal(err)
		}
		texts, _ = c.Texts(test)
	}
	texts = slices.Clip(texts)
	b.ReportAllocs()
	c0 := cpuTime()
	n := 0
	sum := 0.0
	for b.Loop() {
		sum += m.Negative(texts[n%len(texts)])
		n++
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(n), "cpu-ns/op")
	if sum < 0 {
		b.Fatal("negative probabilities")
	}
}
