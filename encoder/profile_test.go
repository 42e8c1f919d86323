package encoder

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestProfileText(t *testing.T) {
	tok, err := NewWordPieceTokenizer(miniLMTokenizer, 16)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		texts []string
		max   int
		want  string
	}{
		{"empty", nil, 0, ""},
		{"dedupe and order", []string{"Red mug", "  blue   teapot ", "red MUG", "", "scarf"}, 0, "Red mug | blue teapot | scarf"},
		{"cut at the limit", []string{"one two three", "four five six seven eight nine ten eleven twelve thirteen fourteen", "older text"}, 0, "one two three | four five six seven eight nine ten eleven twelve"},
		{"smaller limit", []string{"one two three", "four five"}, 6, "one two three"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ProfileText(tc.texts, tc.max, tok)
			if got != tc.want {
				t.Errorf("ProfileText = %q, want %q", got, tc.want)
			}
			if again := ProfileText(tc.texts, tc.max, tok); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
			tk, err := tok.Tokenize(got)
			if err != nil {
				t.Fatal(err)
			}
			limit := tc.max
			if limit <= 0 {
				limit = tok.MaxTokens()
			}
			if tk.Truncated || len(tk.IDs) >= limit && got != "" {
				t.Errorf("%q has %d tokens, limit %d", got, len(tk.IDs), limit)
			}
		})
	}
	if got := ProfileText([]string{"a", "b", "a"}, 0, nil); got != "a | b" {
		t.Errorf("nil tokenizer: %q", got)
	}
}

func TestProfileTextUnigram(t *testing.T) {
	tok, err := NewUnigramTokenizer(requireFile(t, DefaultModelDir+"/tokenizer.json"), 128, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ring []string
	for i := 0; i < 100; i++ {
		ring = append(ring, strings.Repeat("vintage christmas decoration ", 1+i%4)+string(rune('a'+i%26)))
	}
	got := ProfileText(ring, 0, tok)
	tk, _ := tok.Tokenize(got)
	if tk.Truncated || len(tk.IDs) >= 128 || len(tk.IDs) < 100 {
		t.Errorf("profile text has %d tokens (truncated %v), want just under 128", len(tk.IDs), tk.Truncated)
	}
	if !strings.HasPrefix(got, ring[0]) {
		t.Errorf("most recent text first: %q", got[:40])
	}
}

// profileTextOneByOne is the definition ProfileText's binary search must
// equal: add the texts one by one while the join fits, then cut the first
// that does not at a word boundary.
func profileTextOneByOne(texts []string, maxTokens int, tok Tokenizer) string {
	if maxTokens <= 0 || maxTokens > tok.MaxTokens() {
		maxTokens = tok.MaxTokens()
	}
	seen := map[string]struct{}{}
	var parts []string
	for _, t := range texts {
		t = strings.Join(strings.Fields(t), " ")
		if t == "" {
			continue
		}
		if _, dup := seen[strings.ToLower(t)]; dup {
			continue
		}
		seen[strings.ToLower(t)] = struct{}{}
		if fits(tok, strings.Join(append(parts[:len(parts):len(parts)], t), ProfileSeparator), maxTokens) {
			parts = append(parts, t)
			continue
		}
		words := strings.Fields(t)
		keep := 0
		for keep < len(words) && fits(tok, strings.Join(append(parts[:len(parts):len(parts)], strings.Join(words[:keep+1], " ")), ProfileSeparator), maxTokens) {
			keep++
		}
		if keep > 0 {
			parts = append(parts, strings.Join(words[:keep], " "))
		}
		break
	}
	return strings.Join(parts, ProfileSeparator)
}

// The binary searches give exactly the texts of adding them one by one, on
// random rings of real product descriptions, with both tokenizer kinds.
func TestProfileTextEqualsOneByOne(t *testing.T) {
	uni, err := NewUnigramTokenizer(requireFile(t, DefaultModelDir+"/tokenizer.json"), 128, 0)
	if err != nil {
		t.Fatal(err)
	}
	wp, err := NewWordPieceTokenizer(miniLMTokenizer, 24)
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields("WHITE HANGING HEART T-LIGHT HOLDER REGENCY CAKESTAND 3 TIER JUMBO BAG RED RETROSPOT " +
		"PARTY BUNTING ASSORTED COLOUR BIRD ORNAMENT SET OF 3 CAKE TINS PANTRY DESIGN PACK OF 72 RETROSPOT CAKE CASES " +
		"lovely mug, arrived broken :( the teapot is great — five stars ☕ 很好 非常满意")
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 150; i++ {
		ring := make([]string, 1+r.IntN(12))
		for j := range ring {
			n := 1 + r.IntN(14)
			var b []string
			for k := 0; k < n; k++ {
				b = append(b, words[r.IntN(len(words))])
			}
			ring[j] = strings.Join(b, " ")
		}
		for _, tok := range []Tokenizer{uni, wp} {
			if got, want := ProfileText(ring, 0, tok), profileTextOneByOne(ring, 0, tok); got != want {
				t.Fatalf("ring %q:\n got %q\nwant %q", ring, got, want)
			}
		}
	}
}

// A ring of ten recent item descriptions, as a buyer's profile holds.
func BenchmarkProfileText(b *testing.B) {
	tok, err := NewUnigramTokenizer(requireFile(b, DefaultModelDir+"/tokenizer.json"), 128, 0)
	if err != nil {
		b.Fatal(err)
	}
	ring := []string{"WHITE HANGING HEART T-LIGHT HOLDER", "REGENCY CAKESTAND 3 TIER", "JUMBO BAG RED RETROSPOT",
		"PARTY BUNTING", "ASSORTED COLOUR BIRD ORNAMENT", "SET OF 3 CAKE TINS PANTRY DESIGN", "PACK OF 72 RETROSPOT CAKE CASES",
		"LUNCH BAG RED RETROSPOT", "SET OF 6 SPICE TINS PANTRY DESIGN", "NATURAL SLATE HEART CHALKBOARD", "HEART OF WICKER SMALL",
		"PAPER CHAIN KIT 50'S CHRISTMAS", "VICTORIAN GLASS HANGING T-LIGHT", "HOT WATER BOTTLE KEEP CALM"}
	for _, impl := range []struct {
		name string
		f    func([]string, int, Tokenizer) string
	}{{"binary", ProfileText}, {"one_by_one", profileTextOneByOne}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				impl.f(ring, 0, tok)
			}
		})
	}
}
