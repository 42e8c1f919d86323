package classifier_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
)

func zhThemes() *classifier.ThemeSet {
	return &classifier.ThemeSet{Format: classifier.ThemeSetFormat, FormatVersion: 1, Encoder: "zh-model@1", Dim: 3, Language: "zh",
		Themes: []classifier.Theme{
			{Name: "hotels", Words: []string{"酒店"}, Size: 10, Centroid: []float32{1, 0, 0}},
			{Name: "phones", Words: []string{"手机"}, Size: 10, Centroid: []float32{0, 1, 0}},
		}}
}

func TestThemeSetChecksAndFiles(t *testing.T) {
	ts := zhThemes()
	path := filepath.Join(t.TempDir(), "themes.json")
	if err := ts.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := classifier.LoadThemeSet(path)
	if err != nil || got.Encoder != ts.Encoder || len(got.Themes) != 2 || got.Themes[1].Name != "phones" {
		t.Fatalf("load: %+v %v", got, err)
	}
	for name, breakIt := range map[string]func(*classifier.ThemeSet){
		"centroid of another dim": func(s *classifier.ThemeSet) { s.Themes[0].Centroid = []float32{1, 0} },
		"a name twice":            func(s *classifier.ThemeSet) { s.Themes[1].Name = "hotels" },
		"no encoder":              func(s *classifier.ThemeSet) { s.Encoder = "" },
		"another format":          func(s *classifier.ThemeSet) { s.Format = "x" },
		"no themes":               func(s *classifier.ThemeSet) { s.Themes = nil },
	} {
		s := zhThemes()
		breakIt(s)
		if err := s.Check(); !errors.Is(err, classifier.ErrBadModel) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := classifier.DecodeThemeSet([]byte(`{"format":"segstream.themes","format_version":1,"encoder":"e","dim":1,"themes":[{"name":"a","centroid":[1]}],"extra":1}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
}

// A profile embedded by two models: the model's own embedding scores its
// themes, the Chinese one the Chinese themes; an embedding of a model
// nobody reads is ignored.
func TestSegmenterReadsEveryModelsThemes(t *testing.T) {
	m, err := classifier.Load(defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := classifier.NewSegmenterFor(m, defaultDefs(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := seg.AddThemes(zhThemes()); err != nil {
		t.Fatal(err)
	}
	own := &classifier.ThemeSet{Format: classifier.ThemeSetFormat, FormatVersion: 1, Encoder: m.Embedding.Encoder, Dim: m.Embedding.Dim,
		Themes: []classifier.Theme{{Name: "x", Centroid: make([]float32, m.Embedding.Dim)}}}
	if err := seg.AddThemes(own); err == nil {
		t.Error("a theme file of the model's own encoder was accepted")
	}
	if got := seg.Encoders(); !slices.Equal(got, []string{m.Embedding.Encoder, "zh-model@1"}) {
		t.Errorf("Encoders %v", got)
	}
	p := segmenterProfile(t)
	asOf := time.Unix(p.LastSeen, 0).UTC()
	v := featurestore.NewView(p, asOf)
	embs := []classifier.Embedding{
		{Model: "zh-model@1", Vector: []float32{0.6, 0.8, 0}},
		{Model: m.Embedding.Encoder, Vector: slices.Clone(m.Themes[0].Centroid)},
		{Model: "unread@1", Vector: []float32{1}},
	}
	d, err := seg.Label(p, v, embs, nil, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Scores[label.ScoreInterest("hotels")]; got != label.Round(0.6) {
		t.Errorf("hotels %v, want 0.6", got)
	}
	if got := d.Scores[label.ScoreInterest("phones")]; got != label.Round(0.8) {
		t.Errorf("phones %v, want 0.8", got)
	}
	if got := d.Scores[label.ScoreInterest(m.Themes[0].Name)]; got != 1 {
		t.Errorf("the model's own first theme %v, want 1", got)
	}
	// only the Chinese embedding: Chinese interests, no English ones
	d2, err := seg.Label(p, v, embs[:1], nil, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d2.Segments, classifier.InterestPrefix+"phones") {
		t.Errorf("segments %v: no interest:phones", d2.Segments)
	}
	for k := range d2.Scores {
		if strings.HasPrefix(k, "interest:") && k != "interest:hotels" && k != "interest:phones" {
			t.Errorf("score %s without the model's embedding", k)
		}
	}
}
