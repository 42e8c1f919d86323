package train

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/segments"
)

// The encoder is the classifier's one text-encoder interface (checked here:
// package train does not import the encoder, which needs ONNX Runtime).
var _ classifier.TextEncoder = (*encoder.Encoder)(nil)

// requireEncoder starts the default encoder, or skips when its model is not
// set up; on CI (CI=true) a missing model fails the test instead.
func requireEncoder(t *testing.T) *encoder.Encoder {
	t.Helper()
	const model = "../../var/models/use-lite/model.onnx"
	if _, err := os.Stat(model); err != nil {
		msg := model + " is missing: run tools/encoder/setup.sh (from the repo root) first"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	enc, err := encoder.New(encoder.Config{ModelDir: "../../var/models/use-lite"}, nil, nil)
	if err != nil {
		t.Fatalf("starting the encoder: %v (run tools/encoder/setup.sh)", err)
	}
	t.Cleanup(func() {
		if err := enc.Close(); err != nil {
			t.Errorf("closing the encoder: %v", err)
		}
	})
	return enc
}

// TestTextEndToEnd trains with the real encoder on the slice: the text
// model takes the embedding, themes are learned and named, interests come
// out of Decide and explanations group the text as one input.
func TestTextEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a few hundred texts")
	}
	enc := requireEncoder(t)
	evs := sliceEvents(t)
	var cat []string
	seen := map[string]bool{}
	for _, ev := range evs {
		for _, it := range ev.Items {
			d := strings.Join(strings.Fields(it.Description), " ")
			if ev.Type == events.TypePurchase && len(d) > 3 && !seen[d] && len(cat) < 300 {
				seen[d] = true
				cat = append(cat, d)
			}
		}
	}
	p := DefaultProtocol()
	p.TrainCutoffs = p.TrainCutoffs[len(p.TrainCutoffs)-4:]
	res, err := Run(t.Context(), evs, Config{Protocol: p, Seed: 2, L2Grid: []float64{1e-2}, Text: enc, Themes: 6, Catalogue: cat})
	if err != nil {
		t.Fatal(err)
	}
	m := res.WithText
	if m == nil || m.TextDim() != enc.Dim() || len(m.Themes) != 6 {
		t.Fatalf("text model missing or malformed")
	}
	for _, th := range m.Themes {
		if th.Name == "" || len(th.Words) == 0 {
			t.Fatalf("unnamed theme %+v", th.Words)
		}
	}
	// Round trip and score with a real embedding.
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := classifier.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	e := res.Data.Val.Examples[0]
	var texts []string
	for _, tv := range e.View.Texts {
		texts = append(texts, tv.Text)
	}
	vecs, err := enc.Encode(t.Context(), []string{enc.ProfileText(texts)})
	if err != nil {
		t.Fatal(err)
	}
	s := m2.Score(e.View, vecs[0])
	cs, bias := m2.Contributions(s, "churn", 1)
	sum := bias
	named := false
	for _, c := range cs {
		sum += c.Contribution
		named = named || strings.HasPrefix(c.Input, classifier.TextFeature+":")
	}
	if d := sum - s.ChurnLogit; d > 1e-9 || d < -1e-9 || !named {
		t.Fatalf("text explanation: sum off by %g, named=%v", d, named)
	}
	m3 := *m2
	m3.Rules.InterestMinSim = 0.01
	defs, err := segments.NewDefaultLive(segments.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := classifier.NewSegmenterFor(&m3, defs)
	if err != nil {
		t.Fatal(err)
	}
	prof := &featurestore.Profile{UserID: "u", FirstSeen: e.View.FirstSeen.Unix(), LastSeen: e.View.LastSeen.Unix()}
	d, err := seg.Label(prof, e.View, seg.Own(vecs[0]), nil, e.View.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	segs := d.Segments
	if !slices.ContainsFunc(segs, func(x string) bool { return strings.HasPrefix(x, classifier.InterestPrefix) }) {
		t.Fatalf("no interest segment: %v", segs)
	}
	t.Logf("segments %v; themes %v", segs, func() (n []string) {
		for _, th := range m2.Themes {
			n = append(n, th.Name)
		}
		return
	}())
}

// TestCachedEncoderDelegates checks that the cache is transparent: the same
// profile text, dimension, version and vectors as the encoder it wraps, and
// the same vectors again from the file after Save.
func TestCachedEncoderDelegates(t *testing.T) {
	enc := requireEncoder(t)
	dir := t.TempDir()
	ce, err := NewCachedEncoder(enc, dir)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"  RED  cake stand ", "red cake stand", "WHITE HANGING HEART T-LIGHT HOLDER"}
	if got, want := ce.ProfileText(texts), encoder.ProfileText(texts, 0, enc.Tokenizer()); got != want || got != enc.ProfileText(texts) {
		t.Fatalf("profile text %q, encoder %q", got, want)
	}
	if ce.Dim() != enc.Dim() || ce.ModelVersion() != enc.ModelVersion() {
		t.Fatal("dimension or version differ from the encoder's")
	}
	in := []string{ce.ProfileText(texts), "JUMBO BAG RED RETROSPOT"}
	want, err := enc.Encode(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ce.Encode(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if err := ce.Save(); err != nil {
		t.Fatal(err)
	}
	re, err := NewCachedEncoder(enc, dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := re.Encode(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !slices.Equal(got[i], want[i]) || !slices.Equal(again[i], want[i]) {
			t.Fatalf("text %d: cached vectors differ from the encoder's", i)
		}
	}
}
