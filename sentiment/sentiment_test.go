package sentiment

import (
	"os"
	"strings"
	"testing"
)

// corpusPath is the real review corpus (see /work/shared/data/README.md);
// tests that need it skip without it.
const corpusPath = "../../shared/data/online_shopping_10_cats.csv.gz"

// committedModel is the model the service ships.
const committedModel = "../models/sentiment-zh.bin"

func testCorpus(t testing.TB) *Corpus {
	t.Helper()
	path := corpusPath
	if _, err := os.Stat(path); err != nil {
		path = "/work/shared/data/online_shopping_10_cats.csv.gz"
		if _, err := os.Stat(path); err != nil {
			t.Skipf("corpus not found: %v", err)
		}
	}
	c, err := ReadCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// toyTexts are a tiny hand-made training set for the tests that need a
// model but not a good one.
func toyTexts() (texts []string, negative []bool) {
	pos := []string{"很好", "非常好用", "质量很好，很喜欢", "满意，下次还来", "不错不错", "很满意", "物流快，很好", "好评", "喜欢", "推荐购买"}
	neg := []string{"很差", "质量太差", "差评", "不满意，退货", "垃圾", "非常失望", "太差了，不推荐", "坏了", "很失望", "别买"}
	for i := range 3 {
		for _, s := range pos {
			texts = append(texts, strings.Repeat(s, i+1))
			negative = append(negative, false)
		}
		for _, s := range neg {
			texts = append(texts, strings.Repeat(s, i+1))
			negative = append(negative, true)
		}
	}
	return texts, negative
}

func toyModel(t testing.TB) *Model {
	t.Helper()
	texts, neg := toyTexts()
	m, err := Train(texts, neg, TrainOptions{Lang: "zh", Bits: 12, MinDF: 1, Cs: []float64{10}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\ufeff  Hello   WORLD\t\n", "hello world"},
		{"质量\u3000很好 \r\n 好", "质量 很好 好"},
		{"ÄÖ iPhone13很好用", "äö iphone13很好用"},
		{"a\u200bb", "ab"},
		{"\xff坏", "\ufffd坏"},
		{"   ", ""},
		{"！ＯＫ", "！ｏｋ"},
	} {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// the rune offsets cover the text exactly
	buf, offs := appendNormalized(nil, nil, " Ab 质量 ")
	if string(buf) != "ab 质量" || len(offs) != 6 || offs[5] != int32(len(buf)) || offs[3] != 3 || offs[4] != 6 {
		t.Errorf("appendNormalized: %q %v", buf, offs)
	}
}

func TestScoreNoFeatures(t *testing.T) {
	m := toyModel(t)
	for _, s := range []string{"", "   ", "\ufeff"} {
		if got := m.Score(s); got != m.Bias() {
			t.Errorf("Score(%q) = %v, want the bias %v", s, got, m.Bias())
		}
	}
	if p := m.Negative(""); p <= 0 || p >= 1 {
		t.Errorf("Negative(\"\") = %v", p)
	}
}

func TestNegativeAllocs(t *testing.T) {
	m := toyModel(t)
	text := strings.Repeat("质量很好，物流也快，非常满意！", 4)
	m.Negative(text)
	if n := testing.AllocsPerRun(200, func() { m.Negative(text) }); n > 0 {
		t.Errorf("Negative allocates %v times per call, want 0", n)
	}
	long := strings.Repeat("很好", 50000) // beyond the pooled scratch: still right
	if p := m.Negative(long); p > 0.5 {
		t.Errorf("Negative(long positive) = %v", p)
	}
}

func TestConcurrentScore(t *testing.T) {
	m := toyModel(t)
	texts, _ := toyTexts()
	want := make([]float64, len(texts))
	for i, s := range texts {
		want[i] = m.Score(s)
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 50 {
				for i, s := range texts {
					ok = ok && m.Score(s) == want[i]
				}
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent Score differs")
		}
	}
}
