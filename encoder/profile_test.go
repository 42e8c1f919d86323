package encoder

import (
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
