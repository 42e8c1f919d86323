package encoder

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"
)

// routerModels are a cheap pair for the router tests: USE-lite for English and
// the int8 bge for Chinese.
func routerModels(t *testing.T) []LanguageModel {
	t.Helper()
	bertModelDir(t, "bge-small-zh-v15-q")
	useLiteDir(t)
	return []LanguageModel{{Language: "en", ModelDir: "use-lite"}, {Language: "zh", ModelDir: "bge-small-zh-v15-q"}}
}

func TestRouterEncode(t *testing.T) {
	models := routerModels(t)
	reg := prometheus.NewRegistry()
	r, err := NewRouter(Config{LibraryPath: ortLib(t)}, models, "en", zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	if got := strings.Join(r.Languages(), ","); got != "en,zh" || r.Default() != "en" {
		t.Fatalf("Languages %s, Default %s", got, r.Default())
	}
	en, _ := r.For("en")
	zh, _ := r.For("zh")
	if other, lang := r.For("fr"); other != en || lang != "en" {
		t.Errorf("For(fr) = %v, %s; want the default (en)", other, lang)
	}
	texts := []string{"Great product, fast delivery!", "非常好，物流很快。", "", "iPhone13很好用", "Works as described."}
	got, err := r.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	wantLang := []string{"en", "zh", "en", "zh", "en"}
	for i, e := range got {
		enc, _ := r.For(wantLang[i])
		if e.Language != wantLang[i] || e.ModelVersion != enc.ModelVersion() || len(e.Vector) != enc.Dim() {
			t.Errorf("%q: language %s, version %s, %d dims; want %s, %s, %d", texts[i], e.Language, e.ModelVersion,
				len(e.Vector), wantLang[i], enc.ModelVersion(), enc.Dim())
		}
		direct, err := enc.Encode(context.Background(), []string{texts[i]})
		if err != nil {
			t.Fatal(err)
		}
		if c := cosine(e.Vector, direct[0]); c < 0.999999 {
			t.Errorf("%q: routed and direct embeddings differ (cosine %.7f)", texts[i], c)
		}
	}
	if en.Dim() != 512 || zh.Dim() != 512 || en.ModelVersion() == zh.ModelVersion() {
		t.Errorf("dims %d %d, versions %s %s", en.Dim(), zh.Dim(), en.ModelVersion(), zh.ModelVersion())
	}
	// Both encoders' metrics on one registry, told apart by the model label.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	models2 := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "segstream_encoder_texts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "model" {
					models2[l.GetValue()] = true
				}
			}
		}
	}
	if !models2["use-lite"] || !models2["bge-small-zh-v15-q"] {
		t.Errorf("texts_total model labels %v, want use-lite and bge-small-zh-v15-q", models2)
	}
	// ProfileText picks the model of the profile's texts.
	if text, lang := r.ProfileText([]string{"质量很好", "物流快"}); lang != "zh" || text == "" {
		t.Errorf("ProfileText: %q, %s", text, lang)
	}
	// A replaced detector: an unknown language goes to the default's model.
	r.Detect = func(string) string { return "fr" }
	got, err = r.Encode(context.Background(), []string{"bonjour"})
	if err != nil || got[0].Language != "en" || got[0].ModelVersion != en.ModelVersion() {
		t.Errorf("unknown language: %+v, %v", got, err)
	}
}

func TestRouterPerTextErrors(t *testing.T) {
	models := routerModels(t)
	r, err := NewRouter(Config{LibraryPath: ortLib(t)}, models, "", zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	zh, _ := r.For("zh")
	zh.tok = failingTokenizer{zh.tok}
	texts := []string{"good", "很好 bad 的", "fine", "非常好", "好 bad 好"}
	got, err := r.Encode(context.Background(), texts)
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, ErrTokenize) || len(be.Failed) != 2 || be.Failed[1] == nil || be.Failed[4] == nil {
		t.Fatalf("want a BatchError for indices 1 and 4 (positions in the call), got %v", err)
	}
	for i, e := range got {
		if failed := i == 1 || i == 4; failed != (e.Vector == nil) {
			t.Errorf("text %d: vector %d dims, failed %v", i, len(e.Vector), failed)
		}
	}
	if _, err := r.Encode(context.Background(), nil); err != nil {
		t.Errorf("Encode(nil): %v", err)
	}
}

func TestNewRouterErrors(t *testing.T) {
	lib := ortLib(t)
	for _, tc := range []struct {
		name   string
		models []LanguageModel
		def    string
		want   string
	}{
		{"none", nil, "", "no model"},
		{"empty entry", []LanguageModel{{Language: "en"}}, "", "must be set"},
		{"missing model", []LanguageModel{{Language: "en", ModelDir: "no-such-model"}}, "", "no-such-model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRouter(Config{LibraryPath: lib}, tc.models, tc.def, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	models := routerModels(t)
	if _, err := NewRouter(Config{LibraryPath: lib}, append(models, LanguageModel{Language: "en", ModelDir: "use-lite"}), "", nil, nil); err == nil ||
		!strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate language: %v", err)
	}
	if _, err := NewRouter(Config{LibraryPath: lib}, models, "fr", nil, nil); err == nil || !strings.Contains(err.Error(), "fr") {
		t.Errorf("default without a model: %v", err)
	}
	// One model for two languages: one Encoder, closed once.
	r, err := NewRouter(Config{LibraryPath: lib}, []LanguageModel{{"en", "use-lite"}, {"zh", "use-lite"}}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.For("en")
	b, _ := r.For("zh")
	if a != b || len(r.owned) != 1 {
		t.Errorf("two encoders for one model")
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if _, err := RouterOf(map[string]*Encoder{"en": a}, "zh"); err == nil {
		t.Error("RouterOf without the default language's encoder: no error")
	}
}

// ProfileParts gives each model the texts of its language (declared, else
// detected), newest first, as that model's ProfileText; EncodeWith encodes
// with the model of a part's version; Routing names the models.
func TestRouterProfileParts(t *testing.T) {
	models := routerModels(t)
	r, err := NewRouter(Config{LibraryPath: ortLib(t)}, models, "en", zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	en, _ := r.For("en")
	zh, _ := r.For("zh")
	texts := []string{"酒店很干净，服务很好", "LOVELY RED TEA CUP", "bien", "物流太慢了", "GREEN MUG"}
	langs := []string{"", "", "zh-CN", "", ""}
	parts := r.ProfileParts(texts, langs)
	if len(parts) != 2 {
		t.Fatalf("parts %+v", parts)
	}
	if parts[0].Model != zh.ModelVersion() || parts[0].Language != "zh" || parts[0].Text != zh.ProfileText([]string{"酒店很干净，服务很好", "bien", "物流太慢了"}) {
		t.Errorf("Chinese part %+v", parts[0])
	}
	if parts[1].Model != en.ModelVersion() || parts[1].Language != "en" || parts[1].Text != "LOVELY RED TEA CUP | GREEN MUG" {
		t.Errorf("English part %+v", parts[1])
	}
	// a declared language without a model goes to the default's
	if p := r.ProfileParts([]string{"très bien"}, []string{"fr"}); len(p) != 1 || p[0].Language != "en" {
		t.Errorf("French: %+v", p)
	}
	if p := r.ProfileParts(nil, nil); len(p) != 0 {
		t.Errorf("no texts: %+v", p)
	}
	vecs, err := r.EncodeWith(context.Background(), parts[0].Model, []string{parts[0].Text})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := zh.Encode(context.Background(), []string{parts[0].Text})
	if err != nil {
		t.Fatal(err)
	}
	if c := cosine(vecs[0], direct[0]); c < 0.999999 {
		t.Errorf("EncodeWith and the model differ: cosine %.7f", c)
	}
	if _, err := r.EncodeWith(context.Background(), "no-such-model", []string{"x"}); !errors.Is(err, ErrConfig) {
		t.Errorf("an unknown model: %v", err)
	}
	if got, want := r.Routing(), "en="+en.ModelVersion()+",zh="+zh.ModelVersion()+",default=en"; got != want {
		t.Errorf("Routing %q, want %q", got, want)
	}
}
