package encoder

import (
	"strings"
	"unicode"
)

// ProfileSeparator joins the texts of a profile.
const ProfileSeparator = " | "

// ProfileText builds the one text a profile contributes to its embedding from
// the profile's texts, most recent first: each text is trimmed and its
// whitespace collapsed; empty texts and repeats (compared case-insensitively)
// are dropped; the rest are joined with ProfileSeparator, most recent first,
// until the model's token limit: the text that would cross it is cut at a
// word boundary so that the result has fewer than maxTokens tokens (with tok;
// special tokens included), and older texts are left out. The result depends
// only on its inputs. maxTokens <= 0 means tok.MaxTokens(); a nil tok joins
// everything.
func ProfileText(texts []string, maxTokens int, tok Tokenizer) string {
	if tok != nil && (maxTokens <= 0 || maxTokens > tok.MaxTokens()) {
		maxTokens = tok.MaxTokens()
	}
	seen := make(map[string]struct{}, len(texts))
	all := make([]string, 0, len(texts))
	for _, t := range texts {
		t = strings.Join(strings.FieldsFunc(t, unicode.IsSpace), " ")
		if t == "" {
			continue
		}
		key := strings.ToLower(t)
		if _, dup := seen[key]; dup {
			continue
		}
		seen[key] = struct{}{}
		all = append(all, t)
	}
	whole := strings.Join(all, ProfileSeparator)
	if tok == nil || fits(tok, whole, maxTokens) {
		return whole // one tokenization for a profile that fits whole
	}
	// The longest run of whole texts that fits: more text never has fewer
	// tokens, so a binary search finds the same texts as adding them one by
	// one (log n tokenizations instead of n).
	lo, hi := 0, len(all)-1 // all[:lo] fits; all[:hi+1] does not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(tok, strings.Join(all[:mid], ProfileSeparator), maxTokens) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	parts := all[:lo:lo]
	// Keep the longest word prefix of the text that crosses the limit.
	words := strings.Fields(all[lo])
	wlo, whi := 0, len(words) // words[:wlo] fits; words[:whi+1] does not
	for wlo < whi {
		mid := (wlo + whi + 1) / 2
		if fits(tok, strings.Join(append(parts, strings.Join(words[:mid], " ")), ProfileSeparator), maxTokens) {
			wlo = mid
		} else {
			whi = mid - 1
		}
	}
	if wlo > 0 {
		parts = append(parts, strings.Join(words[:wlo], " "))
	}
	return strings.Join(parts, ProfileSeparator)
}

// fits reports whether s has fewer than max tokens: the tokenizer stops at
// its limit, so only a count below it proves nothing was cut.
func fits(tok Tokenizer, s string, max int) bool {
	tk, err := tok.Tokenize(s)
	if err != nil {
		return false
	}
	return !tk.Truncated && len(tk.IDs) < max
}
