package encoder

import (
	"strings"
	"unicode/utf8"
)

// exactLattice is a Go port of the original JavaScript tokenizer's Viterbi
// (@energetic-ai/embeddings 0.2.0, lib/tokenizer.ts), evaluation order and
// float64 arithmetic included. sugarme's Unigram Viterbi finds a best-scoring
// segmentation too, but not always the same one; the encoder uses this port
// for the words where the two are known to differ (see needsExact):
//
//   - ties: two segmentations with equal scores. The original keeps the
//     later candidate ("score >= best", start positions ascending), sugarme the
//     earlier ("newScore > bestScore"). Scores are real numbers, so a tie
//     needs the same pieces in another order; two adjacent pieces swapped,
//     x·y = y·x, happens only when x and y are powers of one string u
//     (Lyndon-Schützenberger), so words holding a square u·u (|u| >= 2) or a
//     cube c·c·c (one character) come here. Other arrangements are not ruled
//     out by that argument; FuzzUnigramTokenize and TestUnigramParityRouting
//     compare the routed result with this port alone.
//   - unknown characters: the original gives an unknown character score 0 and
//     only where no piece starts; sugarme a penalty, and wherever no
//     one-character piece starts.
//   - the original's "best === 0" test, which makes it replace a zero-score
//     candidate ("▁:", "▁:)", ... have null scores) at the start of a text.
type exactLattice struct {
	pieces     map[string]pieceRef
	maxRunes   int
	unkID      int
	singleRune map[rune]bool
	runeLen    []int    // symbols per piece id, 1 for reserved ones
	zeroFirst  []string // zero-score pieces that start with "▁"
}

type pieceRef struct {
	id    int
	score float64
}

func newExactLattice(vocab []pieceScore, unkID int) *exactLattice {
	l := &exactLattice{pieces: make(map[string]pieceRef, len(vocab)), unkID: unkID, singleRune: map[rune]bool{}, runeLen: make([]int, len(vocab))}
	for id, p := range vocab {
		l.runeLen[id] = 1
		if strings.HasPrefix(p.piece, " ") { // reserved: never matched
			continue
		}
		n := utf8.RuneCountInString(p.piece)
		l.runeLen[id] = n
		// A later duplicate replaces an earlier one, as in the original's trie.
		l.pieces[p.piece] = pieceRef{id: id, score: p.score}
		l.maxRunes = max(l.maxRunes, n)
		if n == 1 {
			r, _ := utf8.DecodeRuneInString(p.piece)
			l.singleRune[r] = true
		}
		if p.score == 0 && strings.HasPrefix(p.piece, metaspace) {
			l.zeroFirst = append(l.zeroFirst, p.piece)
		}
	}
	return l
}

type pieceScore struct {
	piece string
	score float64
}

// needsExact reports whether word (which starts with "▁") may be segmented
// differently by sugarme than by the original; first marks a text's first word.
func (l *exactLattice) needsExact(word string, first bool) bool {
	if first {
		for _, p := range l.zeroFirst {
			if strings.HasPrefix(word, p) {
				return true
			}
		}
	}
	var rs [64]rune
	runes := rs[:0]
	for _, r := range word {
		if !l.singleRune[r] {
			return true
		}
		runes = append(runes, r)
	}
	n := len(runes)
	for i := 0; i+3 <= n; i++ { // a cube of one character
		if runes[i] == runes[i+1] && runes[i+1] == runes[i+2] {
			return true
		}
	}
	for u := 2; 2*u <= n && u <= l.maxRunes; u++ { // a square of 2+ characters
		for i := 0; i+2*u <= n; i++ {
			j := 0
			for j < u && runes[i+j] == runes[i+u+j] {
				j++
			}
			if j == u {
				return true
			}
		}
	}
	return false
}

// segment returns the original's ids for one word. base is the original's
// running best score at the word's start (the sum of the scores of the
// text's earlier pieces; 0 for the first word), which its "=== 0" test sees.
// Runs of unknown ids are not merged here. It also returns the score sum.
func (l *exactLattice) segment(word string, base float64, ids []int64) ([]int64, float64) {
	// Rune boundaries in bytes: offs[i] is where symbol i starts.
	offs := make([]int, 0, len(word)+1)
	for i := range word {
		offs = append(offs, i)
	}
	n := len(offs)
	offs = append(offs, len(word))
	type edge struct {
		start, id int
		score     float64
	}
	// ends[e] lists the edges ending at e, by ascending start (the original
	// walks an object keyed by start position: integer keys ascend).
	ends := make([][]edge, n+1)
	for i := 0; i < n; i++ {
		matched := false
		for k := 1; k <= l.maxRunes && i+k <= n; k++ {
			if p, ok := l.pieces[word[offs[i]:offs[i+k]]]; ok {
				ends[i+k] = append(ends[i+k], edge{start: i, id: p.id, score: p.score})
				matched = true
			}
		}
		if !matched { // unknown: id 0 of length 1 and score 0
			ends[i+1] = append(ends[i+1], edge{start: i, id: l.unkID, score: 0})
		}
	}
	best := make([]float64, n+1)
	words := make([]int, n+1) // 0 where unset, as in the original
	best[0] = base
	for e := 1; e <= n; e++ {
		for _, ed := range ends[e] {
			s := ed.score + best[ed.start]
			if best[e] == 0 || s >= best[e] {
				best[e] = s
				words[e] = ed.id
			}
		}
	}
	// Back from the end by the length of each chosen piece (the unknown and
	// unset entries are id 0, one symbol long).
	startLen := len(ids)
	for it := n; it > 0; {
		id := words[it]
		ids = append(ids, int64(id))
		it -= l.runeLen[id]
	}
	// Reverse the part appended for this word.
	for i, j := startLen, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids, best[n]
}
