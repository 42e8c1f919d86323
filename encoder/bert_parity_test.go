package encoder

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"

	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"unicode/utf8"
)

// bertModels are the BERT-family models tools/encoder/setup.sh unpacks, with
// the folder of their token fixtures (the -q models share their float model's
// tokenizer.json).
var bertModels = []struct {
	name, tokens string
	dim          int
}{
	{"all-minilm-l6-v2", "all-minilm-l6-v2", 384},
	{"all-minilm-l6-v2-q", "all-minilm-l6-v2", 384},
	{"bge-small-zh-v15", "bge-small-zh-v15", 512},
	{"bge-small-zh-v15-q", "bge-small-zh-v15", 512},
}

// bertModelDir is var/models/NAME, or the test stops (requireFile: Fatal on
// CI, Skip elsewhere).
func bertModelDir(tb testing.TB, name string) string {
	tb.Helper()
	requireFile(tb, "var/models/"+name+"/model.onnx")
	return requireFile(tb, "var/models/"+name)
}

// TestBertParityTokenIDs: the port of tokenizers' BERT pipeline gives the ids
// of Hugging Face tokenizers itself (tools/encoder/reference.py) on every
// fixture text: English and Chinese reviews, mixed scripts, full-width forms,
// emoji, stress cases, texts far past max tokens.
func TestBertParityTokenIDs(t *testing.T) {
	for _, m := range bertModels {
		if m.name != m.tokens {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			dir := bertModelDir(t, m.name)
			spec, err := LoadSpec(dir)
			if err != nil {
				t.Fatal(err)
			}
			doc := loadFixture(t, filepath.Join(m.tokens, "tokens.json.gz"))
			if len(doc.Texts) < 4000 {
				t.Fatalf("%d fixture texts, want at least 4000", len(doc.Texts))
			}
			tok, err := NewWordPieceTokenizer(filepath.Join(dir, "tokenizer.json"), spec.MaxTokens)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Engine() != "bert" {
				t.Fatalf("engine %s, want the bert port", tok.Engine())
			}
			equal, truncated := 0, 0
			byKind := map[string][2]int{}
			for _, x := range doc.Texts {
				got, err := tok.Tokenize(x.Text)
				if err != nil {
					t.Fatalf("%q: %v", x.Text, err)
				}
				k := byKind[x.Kind]
				k[1]++
				if slices.Equal(got.IDs, x.IDs) {
					equal++
					k[0]++
				} else {
					t.Errorf("%s %q:\n got %v\nwant %v", x.Kind, cutRunes(x.Text, 120), got.IDs, x.IDs)
				}
				if got.Truncated {
					truncated++
					if len(got.IDs) != spec.MaxTokens {
						t.Errorf("%q: truncated to %d ids, want %d", cutRunes(x.Text, 60), len(got.IDs), spec.MaxTokens)
					}
				}
				if len(got.TypeIDs) != len(got.IDs) {
					t.Errorf("%q: %d type ids for %d ids", cutRunes(x.Text, 60), len(got.TypeIDs), len(got.IDs))
				}
				byKind[x.Kind] = k
			}
			if truncated == 0 {
				t.Error("no fixture text reached max tokens")
			}
			t.Logf("token ids equal on %d of %d texts (%d truncated to %d); by kind: %v",
				equal, len(doc.Texts), truncated, spec.MaxTokens, fmtKinds(byKind))
		})
	}
}

// TestBertParityEmbeddings: the whole Encode path (batches of 16, padded)
// against the same ONNX file run by Python onnxruntime one text at a time
// with the model's own pooling and L2 normalisation.
func TestBertParityEmbeddings(t *testing.T) {
	for _, m := range bertModels {
		t.Run(m.name, func(t *testing.T) {
			dir := bertModelDir(t, m.name)
			doc := loadFixture(t, filepath.Join(m.name, "embeddings.json.gz"))
			enc := newTestEncoder(t, Config{ModelDir: dir, MaxBatch: 16})
			if enc.Dim() != m.dim {
				t.Fatalf("Dim() = %d, want %d", enc.Dim(), m.dim)
			}
			// In order of length, so that a batch pads little (the order does not
			// change a float model's output: TestEncode* check batched equals alone).
			order := make([]int, len(doc.Texts))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return len(doc.Texts[order[a]].IDs) < len(doc.Texts[order[b]].IDs) })
			texts := make([]string, len(doc.Texts))
			for i, j := range order {
				texts[i] = doc.Texts[j].Text
			}
			sorted, err := enc.Encode(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			vecs := make([][]float32, len(sorted))
			for i, j := range order {
				vecs[j] = sorted[i]
			}
			worst, worstText := 1.0, ""
			var cs []float64
			for i, x := range doc.Texts {
				want := decodeEmb(t, x.Emb)
				c := cosine(vecs[i], want)
				cs = append(cs, c)
				if c < worst {
					worst, worstText = c, x.Text
				}
				if c < 0.9999 {
					t.Errorf("%s %q: cosine %.6f to the onnxruntime reference", x.Kind, cutRunes(x.Text, 80), c)
				}
			}
			sort.Float64s(cs)
			t.Logf("embeddings: %d texts through Encode (max batch %d), cosine to the reference: min %.9f (1 - min = %.1e, %q), median %.9f",
				len(cs), enc.cfg.MaxBatch, worst, 1-worst, cutRunes(worstText, 40), cs[len(cs)/2])
		})
	}
}

// TestInt8BatchDependence shows why the int8 models' spec.json caps max_batch
// at 1: their activations are quantised with one scale per run, computed over
// the whole batch, so a text batched with another gets another embedding.
func TestInt8BatchDependence(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: bertModelDir(t, "all-minilm-l6-v2-q")})
	if enc.cfg.MaxBatch != 1 {
		t.Fatalf("MaxBatch %d, want 1 (spec.json max_batch)", enc.cfg.MaxBatch)
	}
	a, _ := enc.tok.Tokenize("Works as described.")
	b, _ := enc.tok.Tokenize("The keyboard is really worthwhile in usefulness and is sturdy enough that I do not expect it to break.")
	var buf packBuf
	alone, err := enc.run.run([]Tokens{a}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	both, err := enc.run.run([]Tokens{a, b}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	c := cosine(alone[0], both[0])
	t.Logf("int8 model: cosine %.6f between a text alone and the same text batched with a longer one", c)
	if c > 0.9999 {
		t.Errorf("cosine %.6f: the int8 output no longer depends on the batch; max_batch 1 may be dropped", c)
	}
	fenc := newTestEncoder(t, Config{ModelDir: bertModelDir(t, "all-minilm-l6-v2")})
	alone, _ = fenc.run.run([]Tokens{a}, &buf)
	both, _ = fenc.run.run([]Tokens{a, b}, &buf)
	if c := cosine(alone[0], both[0]); c < 0.99999 {
		t.Errorf("float model: cosine %.7f between alone and batched, want 1", c)
	}
}

// TestBertNormalizerSweep: BertNormalizer on every Unicode scalar value, one
// at a time, equals tokenizers' normalize_str (testdata/encoder/bert-sweep.json.gz,
// written by tools/encoder/reference.py) for both configurations in use:
// lowercase + strip accents (all-MiniLM-L6-v2) and neither (bge-small-zh-v1.5).
func TestBertNormalizerSweep(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "testdata", "encoder", "bert-sweep.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tokenizers string `json:"tokenizers"`
		Configs    map[string]struct {
			Removed [][2]rune         `json:"removed"`
			Padded  [][2]rune         `json:"padded"`
			Changed map[string]string `json:"changed"`
		} `json:"configs"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if want := "tokenizers " + doc.Tokenizers; want != bertTablesVersion {
		t.Errorf("berttables.go is from %s, the sweep from %s: run tools/encoder/reference.sh", bertTablesVersion, want)
	}
	for name, lower := range map[string]bool{"lower_strip": true, "plain": false} {
		c, ok := doc.Configs[name]
		if !ok {
			t.Fatalf("no %s config in the sweep", name)
		}
		p := &bertPipeline{clean: true, chinese: true, lower: lower, strip: lower}
		in := func(rs [][2]rune, r rune) bool {
			i := sort.Search(len(rs), func(i int) bool { return rs[i][1] >= r })
			return i < len(rs) && rs[i][0] <= r
		}
		changed := make(map[rune]string, len(c.Changed))
		for k, v := range c.Changed {
			cp, err := strconv.ParseUint(k, 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			changed[rune(cp)] = v
		}
		bad := 0
		for r := rune(0); r <= utf8.MaxRune; r++ {
			if 0xD800 <= r && r <= 0xDFFF {
				continue
			}
			want := string(r)
			switch s, ok := changed[r]; {
			case in(c.Removed, r):
				want = ""
			case ok:
				want = s
			case in(c.Padded, r):
				want = " " + want + " "
			}
			if got := p.normalizeString(string(r)); got != want {
				if bad++; bad <= 20 {
					t.Errorf("%s: U+%04X: got %+q, want %+q", name, r, got, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d code points differ", name, bad)
		}
	}
}

// TestBertPortMatchesSugarmeWordPiece: where sugarme's pipeline is right (the
// plain fixture texts), the port and sugarme agree; the texts where they differ
// are the sugarme defects docs/encoder.md lists, each checked here by kind.
func TestBertPortMatchesSugarmeWordPiece(t *testing.T) {
	path := requireFile(t, "var/models/bge-small-zh-v15/tokenizer.json")
	port, err := NewWordPieceTokenizer(path, 512)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := newSugarmeWordPiece(path, 512)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text  string
		equal bool
	}{
		{"非常好，物流很快。", true},
		{"iPhone13很好用 USB接口", true},
		{"good\u3000quality 全角空格", false}, // U+3000: whitespace in tokenizers, not in sugarme
		{"no\u00a0break", false},          // U+00A0 likewise
		{"点赞\ue00e", false},               // private use: removed by tokenizers' clean_text, kept by sugarme
		{"[UNK] [PAD]", false},            // special tokens in the text: tokenizers matches [UNK], sugarme does not
		{"line\u2028separator", false},    // U+2028
	} {
		a, _ := port.Tokenize(tc.text)
		b, _ := sm.Tokenize(tc.text)
		if slices.Equal(a.IDs, b.IDs) != tc.equal {
			t.Errorf("%q: port %v, sugarme %v; equal %v, want %v", tc.text, a.IDs, b.IDs, !tc.equal, tc.equal)
		}
	}
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + fmt.Sprintf("… (%d runes)", utf8.RuneCountInString(s))
}
