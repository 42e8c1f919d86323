package train

import (
	"math"
	"reflect"
	"testing"
	"unicode"
)

// categoryFixture: three categories of short Chinese texts with small
// vectors; "其他" has no English name.
func categoryFixture() (texts, cats []string, emb [][]float32, names map[string]string) {
	add := func(cat, text string, v ...float32) {
		texts, cats, emb = append(texts, text), append(cats, cat), append(emb, v)
	}
	add("酒店", "酒店房间干净，早餐不错！", 3, 0, 0)
	add("酒店", "房间很大，前台服务好，酒店位置方便。", 0, 4, 0)
	add("酒店", "早餐一般，房间有点小 room 502", 1, 1, 0)
	add("酒店", "订了两晚，没有入住") // not encoded: nil
	add("水果", "火龙果新鲜，不错", 0, 0, 2)
	add("水果", "火龙果很甜，好吃", 0, 1, 1)
	add("水果", "好吃，下次还买火龙果", 0, 0, 5)
	add("其他", "东西不错，物流很快", 1, 0, 1)
	add("其他", "物流慢，东西一般", 2, 0, 2)
	return texts, cats, emb, map[string]string{"酒店": "hotels", "水果": "fruit", "不在": "unused"}
}

func TestCategoryThemes(t *testing.T) {
	texts, cats, emb, names := categoryFixture()
	themes := CategoryThemes(texts, cats, emb, names, 3)
	if len(themes) != 3 {
		t.Fatalf("%d themes, want 3: %+v", len(themes), themes)
	}
	s2 := float32(1 / math.Sqrt2)
	// hotels: mean of the normalised (1,0,0), (0,1,0), (1,1,0)/√2, renormalised
	want := []struct {
		name  string
		size  int
		words []string
		cent  []float32
	}{
		{"fruit", 3, []string{"火龙果", "好吃"}, nil},
		{"hotels", 3, []string{"房间", "早餐", "酒店"}, []float32{s2, s2, 0}},
		{"其他", 2, []string{"东西", "物流"}, []float32{s2, 0, s2}},
	}
	for i, w := range want {
		th := themes[i]
		if th.Name != w.name || th.Size != w.size || !reflect.DeepEqual(th.Words, w.words) {
			t.Errorf("theme %d: %s size %d words %q, want %s %d %q", i, th.Name, th.Size, th.Words, w.name, w.size, w.words)
		}
		if w.cent != nil {
			for j := range w.cent {
				if math.Abs(float64(th.Centroid[j]-w.cent[j])) > 1e-6 {
					t.Errorf("%s centroid %v, want %v", th.Name, th.Centroid, w.cent)
					break
				}
			}
		}
		var n float64
		for _, v := range th.Centroid {
			n += float64(v) * float64(v)
		}
		if math.Abs(n-1) > 1e-6 {
			t.Errorf("%s: centroid norm² %v", th.Name, n)
		}
		for _, word := range th.Words {
			for _, r := range word {
				if !unicode.Is(unicode.Han, r) {
					t.Errorf("%s: word %q has %q", th.Name, word, r)
				}
			}
		}
	}
	// fruit: (0,0,1), (0,1,1)/√2, (0,0,1): the mean's direction
	f := themes[0].Centroid
	if f[0] != 0 || f[1] <= 0 || f[2] <= f[1] || math.Abs(float64(f[1])/float64(f[2])-(1/math.Sqrt2)/(2+1/math.Sqrt2)) > 1e-6 {
		t.Errorf("fruit centroid %v", f)
	}

	// deterministic, and the same from another order of the texts
	if again := CategoryThemes(texts, cats, emb, names, 3); !reflect.DeepEqual(again, themes) {
		t.Errorf("second run differs:\n%+v\n%+v", again, themes)
	}
	perm := []int{8, 3, 0, 6, 2, 7, 5, 1, 4}
	pt, pc, pe := make([]string, len(perm)), make([]string, len(perm)), make([][]float32, len(perm))
	for i, j := range perm {
		pt[i], pc[i], pe[i] = texts[j], cats[j], emb[j]
	}
	shuffled := CategoryThemes(pt, pc, pe, names, 3)
	for i := range themes {
		a, b := themes[i], shuffled[i]
		if a.Name != b.Name || a.Size != b.Size || !reflect.DeepEqual(a.Words, b.Words) {
			t.Errorf("shuffled input: %+v, want %+v", b, a)
		}
		for j := range a.Centroid {
			if math.Abs(float64(a.Centroid[j]-b.Centroid[j])) > 1e-6 {
				t.Errorf("shuffled input: %s centroid %v, want %v", a.Name, b.Centroid, a.Centroid)
				break
			}
		}
	}

	if got := CategoryThemes(texts, cats, emb, names, 0); got[1].Words != nil {
		t.Errorf("words 0: %q", got[1].Words)
	}
	if got := CategoryThemes(nil, nil, nil, names, 3); len(got) != 0 {
		t.Errorf("no texts: %+v", got)
	}
}

// TestCategoryWords: a bigram in every category is no word; a bigram that is
// mostly part of a longer word is that word, once.
func TestCategoryWords(t *testing.T) {
	texts := []string{
		"洗发水很好用，不错", "这个洗发水香味好", "洗发水去屑，头皮不痒", "头皮舒服",
		"热水器安装很快，不错", "热水器加热快", "安装师傅好，加热也快", "没安装，不错",
	}
	cats := []string{"洗发水", "洗发水", "洗发水", "洗发水", "热水器", "热水器", "热水器", "热水器"}
	emb := make([][]float32, len(texts))
	for i := range emb {
		emb[i] = []float32{1, float32(i)}
	}
	themes := CategoryThemes(texts, cats, emb, nil, 5)
	got := map[string][]string{}
	for _, th := range themes {
		got[th.Name] = th.Words
	}
	want := map[string][]string{
		"洗发水": {"洗发水", "头皮"},
		"热水器": {"安装", "加热", "热水器"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("words %q, want %q", got, want)
	}
}

func TestEvalCategoryThemes(t *testing.T) {
	texts, cats, emb, names := categoryFixture()
	themes := CategoryThemes(texts, cats, emb, names, 3) // fruit, hotels, 其他
	held := [][]float32{
		{1, 1, 0},     // hotels: nearest
		{0, 0.1, 1},   // fruit: nearest
		{0.3, 1, 0.5}, // fruit: hotels nearest, fruit second
		{1, 0, 1},     // 其他: nearest
		nil,           // not encoded
		{0, 0, 1},     // a category without a theme
	}
	hc := []string{"酒店", "水果", "水果", "其他", "酒店", "没有"}
	ev := EvalCategoryThemes(themes, hc, held, names)
	if ev.N != 4 || ev.Top1 != 0.75 || ev.Top2 != 1 {
		t.Fatalf("eval %+v", ev)
	}
	if ev.MeanOwn <= ev.MeanOther || ev.MeanOwn > 1 {
		t.Errorf("mean cosine own %v, other %v", ev.MeanOwn, ev.MeanOther)
	}
	fr := ev.PerTheme[0]
	if fr.Theme != "fruit" || fr.N != 2 || fr.Top1 != 0.5 || fr.Top2 != 1 || fr.Confused != "hotels" {
		t.Errorf("fruit %+v", fr)
	}
	if h := ev.PerTheme[1]; h.Theme != "hotels" || h.N != 1 || h.Top1 != 1 || h.Confused != "" || math.Abs(h.MeanOwn-1) > 1e-6 {
		t.Errorf("hotels %+v", h)
	}
}
