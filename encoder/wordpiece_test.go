package encoder

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const miniLMTokenizer = "../testdata/encoder/all-minilm-l6-v2/tokenizer.json"

// TestWordPieceMiniLM checks sugarme with the real all-MiniLM-L6-v2
// tokenizer.json: BERT normalisation (lower case, accents stripped, CJK
// characters split), WordPiece, [CLS]/[SEP], truncation to max tokens.
func TestWordPieceMiniLM(t *testing.T) {
	tok, err := NewWordPieceTokenizer(miniLMTokenizer, 128)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"plain", "Hello world", []string{"[CLS]", "hello", "world", "[SEP]"}},
		{"punctuation", "Hello, world!", []string{"[CLS]", "hello", ",", "world", "!", "[SEP]"}},
		// Greedy longest match first: "una" and "##ffa" are in the vocabulary.
		{"subwords", "unaffable", []string{"[CLS]", "una", "##ffa", "##ble", "[SEP]"}},
		{"accents stripped", "Café Naïve", []string{"[CLS]", "cafe", "naive", "[SEP]"}},
		// Inputs that made sugarme's own normalizers panic; BERT applies no NFKC.
		{"ligature and accents", "ﬁancé ™é …ü", []string{"[CLS]", "ﬁ", "##ance", "™", "##e", "…", "u", "[SEP]"}},
		{"cjk split", "中文评论", []string{"[CLS]", "中", "文", "[UNK]", "[UNK]", "[SEP]"}},
		{"product", "WHITE HANGING HEART T-LIGHT HOLDER", []string{"[CLS]", "white", "hanging", "heart", "t", "-", "light", "holder", "[SEP]"}},
		{"empty", "", []string{"[CLS]", "[SEP]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tok.TokenStrings(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("TokenStrings(%q) = %q, want %q", tc.text, got, tc.want)
			}
			ids, err := tok.Tokenize(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids.IDs) != len(tc.want) || len(ids.TypeIDs) != len(ids.IDs) {
				t.Errorf("Tokenize(%q): %d ids, %d type ids, want %d", tc.text, len(ids.IDs), len(ids.TypeIDs), len(tc.want))
			}
			if len(ids.IDs) > 0 && (ids.IDs[0] != 101 || ids.IDs[len(ids.IDs)-1] != 102) {
				t.Errorf("Tokenize(%q) = %v, want [CLS]=101 first and [SEP]=102 last", tc.text, ids.IDs)
			}
		})
	}
	long, err := tok.Tokenize(strings.Repeat("word ", 400))
	if err != nil {
		t.Fatal(err)
	}
	if len(long.IDs) != 128 || !long.Truncated || long.IDs[0] != 101 || long.IDs[127] != 102 {
		t.Errorf("long text: %d ids (truncated %v), first %d last %d; want 128 ending in [SEP]", len(long.IDs), long.Truncated, long.IDs[0], long.IDs[len(long.IDs)-1])
	}
}

// tinyBertWant recomputes what the synthetic model built by
// tools/encoder/make_tiny_bert.py gives for one token sequence.
func tinyBertWant(ids, types []int64, withTypes bool) []float32 {
	const dim = 32
	v := make([]float64, dim)
	for s, id := range ids {
		for k := 0; k < dim; k++ {
			x := math.Sin(float64(id+1)*0.37*float64(k+1)) + 0.5*math.Cos(float64(s)*0.11*float64(k+1))
			if withTypes {
				x += 0.25 * float64(types[s]+1) * float64(k%3-1)
			}
			v[k] += x
		}
	}
	out := make([]float32, dim)
	var ss float64
	for k := range v {
		v[k] /= float64(len(ids))
		ss += v[k] * v[k]
	}
	for k := range v {
		out[k] = float32(v[k] / math.Sqrt(ss))
	}
	return out
}

// TestBertStyleEncoder runs the BERT input style end to end with the real
// MiniLM tokenizer and a synthetic model whose output is known in closed form:
// padding, attention mask, token type ids, masked mean pooling and L2.
func TestBertStyleEncoder(t *testing.T) {
	for _, variant := range []struct {
		name      string
		dir       string
		withTypes bool
	}{
		{"token_type_ids", "var/models/tiny-bert", true},
		{"no_token_type_ids", "var/models/tiny-bert/no-type-ids", false},
	} {
		t.Run(variant.name, func(t *testing.T) {
			dir := requireFile(t, variant.dir+"/model.onnx")
			enc := newTestEncoder(t, Config{ModelDir: filepath.Dir(dir), MaxBatch: 8})
			if enc.Dim() != 32 {
				t.Fatalf("Dim() = %d, want 32", enc.Dim())
			}
			// Different lengths in one batch, so padding is exercised.
			texts := []string{"Hello world", "", "A much longer review text, with punctuation; and UNUSUAL words: unaffable!",
				"中文评论", "short", strings.Repeat("long ", 300)}
			vecs, err := enc.Encode(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			tok := enc.Tokenizer()
			for i, text := range texts {
				tk, err := tok.Tokenize(text)
				if err != nil {
					t.Fatal(err)
				}
				want := tinyBertWant(tk.IDs, tk.TypeIDs, variant.withTypes)
				if c := cosine(vecs[i], want); c < 0.99999 {
					t.Errorf("%q: cosine %.7f to the closed-form embedding", text, c)
				}
				var n float64
				for _, x := range vecs[i] {
					n += float64(x) * float64(x)
				}
				if math.Abs(n-1) > 1e-4 {
					t.Errorf("%q: |v|^2 = %f, want 1 (L2)", text, n)
				}
			}
		})
	}
}
