package cli

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/internal/testkit"
)

// themesZhFile is the committed theme file of the Chinese model, made by
// `segstream themes` (docs/encoder/themes-zh.md).
const (
	themesZhFile  = "models/themes-zh.json"
	themesZhModel = "var/models/bge-small-zh-v15-q"
)

// zhModelDir is the Chinese model's folder, or the test is skipped (fails
// under CI): tools/encoder/setup.sh sets the model up unless --no-bert, and
// tools/setup.sh the ONNX Runtime library.
func zhModelDir(t *testing.T, runtime bool) string {
	t.Helper()
	need := []string{themesZhModel + "/model.onnx", themesZhModel + "/spec.json", themesZhModel + "/tokenizer.json"}
	if runtime && os.Getenv(encoder.EnvLibraryPath) == "" {
		need = append(need, encoder.DefaultLibraryPath)
	}
	for _, p := range need {
		if _, err := os.Stat(testkit.RepoFile(p)); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: run tools/setup.sh (make test does): %v", p, err)
			}
			t.Skipf("%s missing (tools/encoder/setup.sh sets it up unless --no-bert): %v", p, err)
		}
	}
	return testkit.RepoFile(themesZhModel)
}

func loadThemesZh(t *testing.T) *classifier.ThemeSet {
	t.Helper()
	ts, err := classifier.LoadThemeSet(testkit.RepoFile(themesZhFile))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestThemesZhFile: the committed file loads, has the ten review
// categories' themes with words, unit centroids and no name of the
// classifier's own themes, and was made by the model now in var/models.
func TestThemesZhFile(t *testing.T) {
	ts := loadThemesZh(t)
	var names, want []string
	for _, th := range ts.Themes {
		names = append(names, th.Name)
		if len(th.Words) == 0 || th.Size < 100 {
			t.Errorf("%s: words %q, size %d", th.Name, th.Words, th.Size)
		}
		var n float64
		for _, v := range th.Centroid {
			n += float64(v) * float64(v)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Errorf("%s: centroid norm² %v", th.Name, n)
		}
	}
	for _, n := range reviewCategoryNames {
		want = append(want, n)
	}
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("themes %q, want %q", names, want)
	}
	if ts.Language != "zh" || ts.Dim != 512 || !strings.Contains(ts.Source, "online_shopping_10_cats") {
		t.Errorf("language %q, dim %d, source %q", ts.Language, ts.Dim, ts.Source)
	}
	m, err := classifier.Load(testkit.RepoFile("models/default.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range m.Themes {
		if i := sort.SearchStrings(want, th.Name); i < len(want) && want[i] == th.Name {
			t.Errorf("theme name %q is in both %s and models/default.json", th.Name, themesZhFile)
		}
	}

	dir := zhModelDir(t, false)
	spec, err := encoder.LoadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Encoder != spec.ModelVersion || ts.Dim != spec.Dim {
		t.Errorf("%s: encoder %s dim %d, but %s is %s dim %d: rerun segstream themes (docs/encoder/themes-zh.md)",
			themesZhFile, ts.Encoder, ts.Dim, themesZhModel, spec.ModelVersion, spec.Dim)
	}
}

// TestThemesZhHeldOut: real reviews of the corpus held out from the
// centroids' sample (seed 1; segstream themes --held-out lists them) are,
// encoded by the real model, nearest to their own category's theme. About
// four in five held-out reviews are (docs/encoder/themes-zh.md); these are
// plain ones of each kind, which a working file and encoder must place.
func TestThemesZhHeldOut(t *testing.T) {
	dir := zhModelDir(t, true)
	ts := loadThemesZh(t)
	reviews := []struct{ theme, text string }{
		{"hotels", "房间很大,老公每次去都定那里,在郑州算是不错的酒店."},
		{"hotels", "酒店有餐厅但只提供早餐,没有午饭和晚饭,要跑到酒店外面自己找饭店去吃,非常不方便."},
		{"phones", "配件齐全。照片效果不错，而且有自拍、闪光灯性能。手机的一般性能也行了，象信号，铃声都能接受。"},
		{"phones", "爱死机，铃声太小，背景灯也不够亮"},
		{"fruit", "送货很快 第二天早上到 送货员服务态度好 苹果很好吃 很甜 很脆 包装很好。 买了六箱 才花102 真划算。"},
		{"fruit", "苹果不新鲜，有4~5是皱皮的。你说碰坏还好说，竟然是不新鲜。对京东生鲜开始怀疑了质量。申请退货。"},
		{"books", "很后悔,不怎么样的一本书,千万别买"},
		{"dairy", "这算是我最爱喝的酸奶了，但是印上蒙牛我就不想再买了。"},
	}
	enc, err := encoder.New(encoder.Config{ModelDir: dir}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = enc.Close() }) // nothing written
	texts := make([]string, len(reviews))
	for i, r := range reviews {
		texts[i] = r.text
	}
	vecs, err := enc.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reviews {
		own, best, bestName := math.Inf(-1), math.Inf(-1), ""
		for _, th := range ts.Themes {
			s := classifier.Cosine(vecs[i], th.Centroid)
			if th.Name == r.theme {
				own = s
			} else if s > best {
				best, bestName = s, th.Name
			}
		}
		t.Logf("%s: own %.4f, best other %s %.4f: %s", r.theme, own, bestName, best, r.text)
		if own <= best {
			t.Errorf("%q: nearest theme %s (%.4f), not %s (%.4f)", r.text, bestName, best, r.theme, own)
		}
	}
}

// TestThemesCmd runs the command on a small corpus in the file's format
// (a byte order mark, repeats, a review in two categories).
func TestThemesCmd(t *testing.T) {
	dir := zhModelDir(t, true)
	tmp := t.TempDir()
	corpus := filepath.Join(tmp, "reviews.csv")
	rows := "\ufeffcat,label,review\n" +
		"酒店,1,房间干净，早餐丰富，前台服务好\n酒店,0,酒店隔音太差，房间有异味\n酒店,1,位置方便，酒店设施新\n酒店,1,入住很顺利，早餐不错\n酒店,1,入住很顺利，早餐不错\n" +
		"水果,1,苹果新鲜，很甜很脆\n水果,0,水果烂了好几个，不新鲜\n水果,1,火龙果个头大，好吃\n水果,1,橙子汁多，下次还买\n" +
		"书籍,1,这本书写得很好，作者文笔细腻\n书籍,0,\"书的印刷很差,错字多\"\n书籍,1,故事感人，孩子很喜欢读\n书籍,1,送货快\n水果,1,送货快\n书籍,1,内容丰富，值得一读\n"
	if err := os.WriteFile(corpus, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	out, held := filepath.Join(tmp, "themes.json"), filepath.Join(tmp, "held.csv")
	stdout, stderr, code := run(t, "themes", "--model", dir, "--reviews", corpus, "--per-category", "2", "--holdout", "1", "--seed", "3",
		"--out", out, "--held-out", held)
	if code != 0 {
		t.Fatalf("themes: %d\n%s\n%s", code, stdout, stderr)
	}
	for _, s := range []string{"3 themes of ", "from 6 reviews, 3 held out", "held-out: 3 reviews: nearest theme top-1 ", "| hotels | 酒店 | 4 | 2 | 1 |", "| books |"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	if !strings.Contains(stderr, "themes: encoding") || !strings.Contains(stderr, `"duplicates_dropped": 3`) {
		t.Errorf("log:\n%s", stderr)
	}
	ts, err := classifier.LoadThemeSet(out)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := encoder.LoadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Themes) != 3 || ts.Encoder != spec.ModelVersion || ts.Dim != spec.Dim || ts.Language != "zh" || !strings.Contains(ts.Source, "reviews.csv") {
		t.Errorf("theme set %s dim %d %q %q, %d themes", ts.Encoder, ts.Dim, ts.Language, ts.Source, len(ts.Themes))
	}
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || strings.Join(recs[0], ",") != "cat,review" {
		t.Errorf("held-out file: %q", recs)
	}

	// a missing flag is a usage error
	if _, _, code := run(t, "themes", "--reviews", corpus); code != 2 {
		t.Errorf("without --out: exit %d, want 2", code)
	}
}
