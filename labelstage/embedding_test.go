package labelstage

import (
	"context"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/lang"
)

// twoModels routes Chinese texts to model "zh-1" and the rest to "en-1"
// and counts what each model encoded.
type twoModels struct {
	mu  sync.Mutex
	got map[string][]string
	sig uint64
}

func (m *twoModels) Parts(texts, langs []string) []TextPart {
	by := map[string][]string{}
	var order []string
	for i, t := range texts {
		model := "en-1"
		if lang.Of(t, langs[i]) == lang.Chinese {
			model = "zh-1"
		}
		if _, ok := by[model]; !ok {
			order = append(order, model)
		}
		by[model] = append(by[model], t)
	}
	out := make([]TextPart, len(order))
	for i, model := range order {
		out[i] = TextPart{Model: model, Text: strings.Join(by[model], " | ")}
	}
	return out
}

func (m *twoModels) Encode(_ context.Context, model string, texts []string) ([][]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.got == nil {
		m.got = map[string][]string{}
	}
	m.got[model] = append(m.got[model], texts...)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), float32(len(model))}
	}
	return out, nil
}

func (m *twoModels) Signature() uint64 { return 7 + m.sig }

func (m *twoModels) encoded(model string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got[model]...)
}

func TestEmbeddingRecordRoundTrip(t *testing.T) {
	r := embRecord{TextHash: 42, Sig: 9, Parts: []embPart{
		{Model: "use-lite@1", Hash: 5, Vector: []float32{0.5, -1, 3}},
		{Model: "bge-small-zh@2", Hash: 6, Vector: []float32{1, 2}},
	}}
	b := encodeEmbRecord(r)
	got, ok := decodeEmbRecord(b)
	if !ok || !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: %v %+v", ok, got)
	}
	for n := 0; n < len(b); n++ {
		if _, ok := decodeEmbRecord(b[:n]); ok && n > 9 {
			t.Fatalf("a record cut to %d of %d bytes decoded", n, len(b))
		}
	}
	// a version-1 record: [8 text hash][2 len(model)][model][floats]
	v1 := binary.LittleEndian.AppendUint64(nil, 77)
	v1 = binary.LittleEndian.AppendUint16(v1, 3)
	v1 = append(v1, "old"...)
	v1 = binary.LittleEndian.AppendUint32(v1, math.Float32bits(0.25))
	old, ok := decodeEmbRecord(v1)
	if !ok || old.TextHash != 77 || old.Sig != 0 || len(old.Parts) != 1 || old.Parts[0].Model != "old" || old.Parts[0].Vector[0] != 0.25 {
		t.Fatalf("version 1: %v %+v", ok, old)
	}
}

// A profile with English and Chinese texts is encoded by both models, each
// with its own texts (a review's declared language first, else the
// script); the segmenter gets both embeddings; a new Chinese review
// re-encodes the Chinese part only; a new routing (signature) re-encodes.
func TestEncodeRoutesTextsByLanguage(t *testing.T) {
	h := newHarness(t, Config{})
	enc := &twoModels{}
	h.st.enc = enc
	h.fold("u1", events.TypeReview, "lovely red tea cup")
	h.foldReview("u1", "酒店很干净，服务很好", "")
	h.foldReview("u1", "bien", "zh") // declared Chinese: the Chinese model
	h.evaluate()
	if n := h.encode(); n != 1 {
		t.Fatalf("encoded %d users", n)
	}
	en, zh := enc.encoded("en-1"), enc.encoded("zh-1")
	if len(en) != 1 || en[0] != "lovely red tea cup" {
		t.Fatalf("English model got %q", en)
	}
	if len(zh) != 1 || !strings.Contains(zh[0], "酒店很干净") || !strings.Contains(zh[0], "bien") || strings.Contains(zh[0], "tea") {
		t.Fatalf("Chinese model got %q", zh)
	}
	h.evaluate()
	embs := h.seg.embeddings("u1")
	if len(embs) != 2 || modelsOf(embs) != "zh-1,en-1" {
		t.Fatalf("segmenter got %v", embs)
	}
	// another Chinese review: the English part is kept, not encoded again
	h.foldReview("u1", "物流太慢了", "")
	h.evaluate()
	h.encode()
	if en, zh := enc.encoded("en-1"), enc.encoded("zh-1"); len(en) != 1 || len(zh) != 2 || !strings.Contains(zh[1], "物流太慢了") {
		t.Fatalf("after a Chinese review: en %q zh %q", en, zh)
	}
	// the routing changed (say a new model for a language): encoded again
	enc.sig = 1
	h.evaluate()
	if n := h.encode(); n != 1 {
		t.Fatalf("a new routing encoded %d users, want 1", n)
	}
	h.evaluate()
	if n := h.encode(); n != 0 {
		t.Fatalf("an unchanged profile encoded again: %d", n)
	}
}

// A version-1 record (one model, from before routing) is used until the
// profile is encoded again, and the profile is queued for that at once.
func TestVersion1EmbeddingIsUsedThenReplaced(t *testing.T) {
	h := newHarness(t, Config{})
	h.fold("u3", events.TypeReview, "lovely red tea cup")
	p, err := h.store.Get(context.Background(), "u3")
	if err != nil {
		t.Fatal(err)
	}
	v1 := binary.LittleEndian.AppendUint64(nil, p.TextHash)
	v1 = binary.LittleEndian.AppendUint16(v1, uint16(len("fake-enc-1")))
	v1 = append(v1, "fake-enc-1"...)
	v1 = binary.LittleEndian.AppendUint32(v1, math.Float32bits(9))
	v1 = binary.LittleEndian.AppendUint32(v1, math.Float32bits(1))
	if err := h.rdb.Set(context.Background(), h.st.sp.Embedding("u3"), v1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	h.evaluate()
	if v := h.seg.embedding("u3"); len(v) != 2 || v[0] != 9 {
		t.Fatalf("the version-1 embedding was not used: %v", v)
	}
	if n := h.encode(); n != 1 {
		t.Fatalf("the version-1 record was not replaced (%d encoded)", n)
	}
	embs, err := h.st.Embeddings(context.Background(), "u3")
	if err != nil || len(embs) != 1 || embs[0].Vector[0] != float32(len("lovely red tea cup")) {
		t.Fatalf("after encoding: %v %v", embs, err)
	}
}

// The encoder waits while evaluations run, at most labels.encode_yield,
// and not at all when off or when nothing is being evaluated.
func TestEncoderYieldsToEvaluations(t *testing.T) {
	st := &Stage{cfg: Config{EncodeYield: 80 * time.Millisecond}}
	ctx := context.Background()
	took := func() time.Duration { t0 := time.Now(); st.yieldToLabels(ctx); return time.Since(t0) }
	if d := took(); d > 20*time.Millisecond {
		t.Fatalf("waited %s with no evaluation running", d)
	}
	st.evaluating.Add(1)
	if d := took(); d < 80*time.Millisecond {
		t.Fatalf("waited %s while an evaluation ran, want the 80ms bound", d)
	}
	go func() { time.Sleep(20 * time.Millisecond); st.evaluating.Add(-1) }()
	if d := took(); d < 15*time.Millisecond || d > 70*time.Millisecond {
		t.Fatalf("waited %s, want until the evaluation ended (about 20ms)", d)
	}
	st.cfg.EncodeYield = 0
	st.evaluating.Add(1)
	if d := took(); d > 20*time.Millisecond {
		t.Fatalf("waited %s with the yield off", d)
	}
}

// modelsOf names the models of embeddings.
func modelsOf(embs []classifier.Embedding) string {
	ms := make([]string, len(embs))
	for i, e := range embs {
		ms[i] = e.Model
	}
	return strings.Join(ms, ",")
}
