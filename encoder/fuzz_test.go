package encoder

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func useLiteTokenizer(tb testing.TB) *UnigramTokenizer {
	tb.Helper()
	tok, err := NewUnigramTokenizer(requireFile(tb, DefaultModelDir+"/tokenizer.json"), 128, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

var fuzzSeeds = []string{
	"", " ", "ﬁancé", "™é", "…ü", "!!!!!", "?????", "-----", ": leading", ":)", "▁", "▁▁x", "<s>", "</s>",
	"extra_token_id_1", "\ufffd", "\xff\xfe invalid utf-8", "a\x00b", "tab\tnew\nline", "中文评论 很好",
	"👨‍👩‍👧‍👦", "e\u0301\u0301\u0301", "hahaha mamama", "www.example.com", "WHITE HANGING HEART T-LIGHT HOLDER",
}

// FuzzUnigramTokenize checks, for any input: no panic escapes; at most 128
// ids, each in the vocabulary and none of the reserved ids 1-5; no two
// unknown ids in a row; the same ids twice; and the same ids when every word
// goes through the port of the original's Viterbi (so routing words to
// sugarme changes nothing).
func FuzzUnigramTokenize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	tok := useLiteTokenizer(f)
	ref := useLiteTokenizer(f)
	ref.forceExact = true
	f.Fuzz(func(t *testing.T, text string) {
		got, err := tok.Tokenize(text)
		if err != nil {
			t.Fatalf("Tokenize(%q): %v", text, err)
		}
		if len(got.IDs) > 128 {
			t.Fatalf("%d ids", len(got.IDs))
		}
		for i, id := range got.IDs {
			if id < 0 || id >= int64(tok.VocabSize()) || (id >= 1 && id <= 5) {
				t.Fatalf("id %d at %d out of range or reserved", id, i)
			}
			if i > 0 && id == 0 && got.IDs[i-1] == 0 {
				t.Fatalf("two unknown ids in a row at %d: %v", i, got.IDs)
			}
		}
		again, _ := tok.Tokenize(text)
		if !slices.Equal(got.IDs, again.IDs) {
			t.Fatalf("not deterministic: %v then %v", got.IDs, again.IDs)
		}
		exact, err := ref.Tokenize(text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.IDs, exact.IDs) {
			t.Fatalf("sugarme routing differs from the original's Viterbi on %q:\n got %v\nwant %v", text, got.IDs, exact.IDs)
		}
	})
}

// FuzzWordPieceTokenize: no panic escapes the BERT pipeline (the port), ids are
// bounded and framed by [CLS] and [SEP].
func FuzzWordPieceTokenize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	tok, err := NewWordPieceTokenizer(miniLMTokenizer, 128)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := tok.Tokenize(text)
		if err != nil {
			return // a per-text error is allowed; a panic is not
		}
		if len(got.IDs) < 2 || len(got.IDs) > 128 || got.IDs[0] != 101 || got.IDs[len(got.IDs)-1] != 102 {
			t.Fatalf("Tokenize(%q) = %v", text, got.IDs)
		}
	})
}

// TestUnigramParityRouting cross-checks on every fixture text that the words
// routed to sugarme get the same ids from the port of the original's Viterbi.
func TestUnigramParityRouting(t *testing.T) {
	tok := useLiteTokenizer(t)
	ref := useLiteTokenizer(t)
	ref.forceExact = true
	for _, name := range []string{"use-lite-parity.json.gz", "use-lite-tokens.json.gz"} {
		for _, x := range loadFixture(t, name).Texts {
			a, _ := tok.Tokenize(x.Text)
			b, _ := ref.Tokenize(x.Text)
			if !slices.Equal(a.IDs, b.IDs) {
				t.Errorf("%q: routed %v, all-port %v", x.Text, a.IDs, b.IDs)
			}
		}
	}
}

// TestUnigramMemoryBounded feeds many distinct texts and checks that the heap
// stays bounded: sugarme's Unigram cache would keep every one of them for ten
// minutes; the tokenizer rebuilds its model every unigramResetEvery texts.
func TestUnigramMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tok := useLiteTokenizer(t)
	resets := 0
	tok.OnReset = func() { resets++ }
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	distinct := func(i int) string {
		return fmt.Sprintf("customer %d bought item %x and wrote review number %d about it", i, i*7919, i)
	}
	for i := 0; i < 5000; i++ {
		if _, err := tok.Tokenize(distinct(i)); err != nil {
			t.Fatal(err)
		}
	}
	before := heap()
	if raceEnabled {
		t.Skip("a memory test; too slow under -race")
	}
	const n = 60000
	for i := 5000; i < 5000+n; i++ {
		if _, err := tok.Tokenize(distinct(i)); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	t.Logf("heap %d KiB before, %d KiB after %d more distinct texts; %d cache resets", before>>10, after>>10, n, resets)
	if resets < n/unigramResetEvery-1 {
		t.Errorf("%d resets, want about %d", resets, n/unigramResetEvery)
	}
	if after > before+16<<20 {
		t.Errorf("heap grew by %d MiB over %d distinct texts", (after-before)>>20, n)
	}
}

func TestUnigramTokenizeEdges(t *testing.T) {
	tok := useLiteTokenizer(t)
	tests := []struct {
		name string
		text string
		n    int // expected id count, -1: don't check
	}{
		{"empty", "", 0},
		{"invalid utf-8", "\xff\xfe", -1},
		{"huge", strings.Repeat("ab ", 4<<20), 128},
		{"nul bytes", string(make([]byte, 10<<20)), 2}, // "▁" and one merged unknown
		{"huge word", string(slices.Repeat([]byte("a"), 1<<20)), 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tok.Tokenize(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if tc.n >= 0 && len(got.IDs) != tc.n {
				t.Errorf("%d ids, want %d", len(got.IDs), tc.n)
			}
		})
	}
	if !utf8.ValidString(cutUTF8("héllo", 2)) {
		t.Error("cutUTF8 split a rune")
	}
}
