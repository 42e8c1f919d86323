package train

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
)

// CategoryThemes makes one theme per category of labelled texts (cats[i]
// is the category of texts[i], emb[i] its embedding): the centroid is the
// mean of the L2-normalised embeddings of the category's texts,
// renormalised; Name is names[category] (the category itself where names
// has none); Size the number of the category's texts with an embedding (a
// nil emb[i], a text the encoder rejected, is left out of the centroid);
// Words the category's most characteristic Chinese character bigrams, at
// most words of them (see categoryWords). The themes are ordered by name.
// Deterministic: the same input gives the same themes.
func CategoryThemes(texts []string, cats []string, emb [][]float32, names map[string]string, words int) []classifier.Theme {
	byCat := map[string][]int{}
	for i, c := range cats {
		byCat[c] = append(byCat[c], i)
	}
	order := make([]string, 0, len(byCat))
	for c := range byCat {
		order = append(order, c)
	}
	sort.Strings(order)
	df := make(map[string]map[string]int, len(byCat))
	for _, c := range order {
		df[c] = bigramDocFreq(texts, byCat[c])
	}
	themes := make([]classifier.Theme, 0, len(order))
	for _, c := range order {
		var sum []float64
		size := 0
		for _, i := range byCat[c] {
			if len(emb[i]) == 0 {
				continue
			}
			if sum == nil {
				sum = make([]float64, len(emb[i]))
			}
			if len(emb[i]) != len(sum) {
				continue // not this model's vector: cannot be averaged in
			}
			x := normalise64(emb[i])
			for j, v := range x {
				sum[j] += v
			}
			size++
		}
		if size == 0 {
			continue
		}
		sum = normalise64f(sum)
		cent := make([]float32, len(sum))
		for j, v := range sum {
			cent[j] = float32(v)
		}
		name := names[c]
		if name == "" {
			name = c
		}
		themes = append(themes, classifier.Theme{
			Name: name, Words: categoryWords(c, texts, byCat[c], df, words), Size: size, Centroid: cent,
		})
	}
	sort.SliceStable(themes, func(a, b int) bool { return themes[a].Name < themes[b].Name })
	return themes
}

// stopHan are function characters (particles, pronouns, adverbs) whose
// bigrams say little about a category ("的书", "是蒙", "很好").
var stopHan = map[rune]bool{
	'的': true, '了': true, '是': true, '很': true, '也': true, '都': true, '就': true, '还': true,
	'在': true, '和': true, '我': true, '你': true, '他': true, '她': true, '它': true, '那': true,
	'吗': true, '呢': true, '吧': true, '啊': true, '呀': true, '哦': true, '么': true,
}

// hanBigrams are the distinct bigrams of two adjacent Han characters in t,
// neither a stopHan; a bigram with punctuation, a digit, a latin letter or
// a space in it is skipped.
func hanBigrams(t string) map[string]bool {
	out := map[string]bool{}
	var prev rune
	for _, r := range t {
		if !wordRune(r) {
			prev = 0
			continue
		}
		if prev != 0 {
			out[string([]rune{prev, r})] = true
		}
		prev = r
	}
	return out
}

// bigramDocFreq counts, for each bigram, the texts of idx it occurs in.
func bigramDocFreq(texts []string, idx []int) map[string]int {
	df := map[string]int{}
	for _, i := range idx {
		for b := range hanBigrams(texts[i]) {
			df[b]++
		}
	}
	return df
}

// categoryWords are the at most k words of category c: its bigrams of
// highest TF-IDF, the categories being the documents (tf the share of c's
// texts the bigram occurs in, at least 2 of them; idf ln(C/n), n the number
// of the C categories whose texts have it), each extended to the longer
// word it is mostly part of (see extendWord: "发水" is "洗发水"). A word
// that contains a word already chosen, or is part of one, is skipped. Ties
// go to the smaller string.
func categoryWords(c string, texts []string, idx []int, df map[string]map[string]int, k int) []string {
	if k <= 0 || len(idx) == 0 {
		return nil
	}
	type cand struct {
		w string
		s float64
	}
	nCat := float64(len(df))
	var cands []cand
	for b, v := range df[c] {
		if v < 2 {
			continue
		}
		n := 0
		for _, d := range df {
			if d[b] > 0 {
				n++
			}
		}
		if n == len(df) {
			continue // idf 0: in every category
		}
		cands = append(cands, cand{b, float64(v) / float64(len(idx)) * math.Log(nCat/float64(n))})
	}
	sort.Slice(cands, func(a, b int) bool {
		if cands[a].s != cands[b].s {
			return cands[a].s > cands[b].s
		}
		return cands[a].w < cands[b].w
	})
	var words []string
next:
	for _, cd := range cands {
		if len(words) == k {
			break
		}
		w := extendWord(cd.w, texts, idx)
		for _, o := range words {
			if strings.Contains(o, w) || strings.Contains(w, o) {
				continue next
			}
		}
		words = append(words, w)
	}
	return words
}

// maxWordRunes is the longest word extendWord makes.
const maxWordRunes = 4

// extendWord extends w, one character at a time up to maxWordRunes, by the
// character most often before or after it, as long as at least 3 in 4 of
// the texts of idx with w have that longer word: a bigram that is mostly a
// part of a longer word ("辨率" of "分辨率", "王者" of "王者荣耀") becomes that
// word.
func extendWord(w string, texts []string, idx []int) string {
	for utf8.RuneCountInString(w) < maxWordRunes {
		nw := 0
		ext := map[string]int{}
		for _, i := range idx {
			t := texts[i]
			if !strings.Contains(t, w) {
				continue
			}
			nw++
			seen := map[string]bool{}
			for off := 0; ; {
				j := strings.Index(t[off:], w)
				if j < 0 {
					break
				}
				j += off
				if r, size := utf8.DecodeLastRuneInString(t[:j]); size > 0 && wordRune(r) {
					seen[string(r)+w] = true
				}
				if r, size := utf8.DecodeRuneInString(t[j+len(w):]); size > 0 && wordRune(r) {
					seen[w+string(r)] = true
				}
				_, size := utf8.DecodeRuneInString(t[j:])
				off = j + size
			}
			for e := range seen {
				ext[e]++
			}
		}
		best, bn := "", 0
		for e, n := range ext {
			if n > bn || (n == bn && e < best) {
				best, bn = e, n
			}
		}
		if best == "" || 4*bn < 3*nw {
			break
		}
		w = best
	}
	return w
}

// wordRune is a Han character that is not a stopHan.
func wordRune(r rune) bool { return unicode.Is(unicode.Han, r) && !stopHan[r] }

// ThemeEval is how well themes find the category of held-out texts: each
// text's nearest theme (the highest cosine) against the theme of its
// category.
type ThemeEval struct {
	N          int     // texts with an embedding and a theme for their category
	Top1, Top2 float64 // share whose own theme is the nearest, among the two nearest
	// MeanOwn is the mean cosine to the own theme, MeanOther to the nearest
	// of the other themes.
	MeanOwn, MeanOther float64
	PerTheme           []ThemeEvalRow // in the themes' order
}

// ThemeEvalRow is ThemeEval for the texts of one theme's category.
type ThemeEvalRow struct {
	Theme              string
	N                  int
	Top1, Top2         float64
	MeanOwn, MeanOther float64
	// Confused is the theme most often nearest instead ("" if none).
	Confused string
}

// EvalCategoryThemes scores themes made by CategoryThemes (with the same
// names) on texts of known categories (cats[i], emb[i]); texts without an
// embedding or whose category has no theme are not counted.
func EvalCategoryThemes(themes []classifier.Theme, cats []string, emb [][]float32, names map[string]string) ThemeEval {
	ti := make(map[string]int, len(themes))
	for i, t := range themes {
		ti[t.Name] = i
	}
	type acc struct {
		n, top1, top2  int
		own, other     float64
		nearestInstead map[int]int
	}
	per := make([]acc, len(themes))
	var ev ThemeEval
	sims := make([]float64, len(themes))
	for i, c := range cats {
		name := names[c]
		if name == "" {
			name = c
		}
		own, ok := ti[name]
		if !ok || len(emb[i]) == 0 {
			continue
		}
		for j, t := range themes {
			sims[j] = num.Cosine32(emb[i], t.Centroid)
		}
		rank, best, bestJ := 0, math.Inf(-1), -1
		for j, s := range sims {
			if j == own {
				continue
			}
			if s > sims[own] || (s == sims[own] && j < own) {
				rank++
			}
			if s > best {
				best, bestJ = s, j
			}
		}
		a := &per[own]
		a.n++
		a.own += sims[own]
		if bestJ >= 0 {
			a.other += best
		}
		if rank == 0 {
			a.top1++
		} else {
			if a.nearestInstead == nil {
				a.nearestInstead = map[int]int{}
			}
			a.nearestInstead[bestJ]++
		}
		if rank <= 1 {
			a.top2++
		}
	}
	var top1, top2 int
	for i, a := range per {
		row := ThemeEvalRow{Theme: themes[i].Name, N: a.n}
		if a.n > 0 {
			row.Top1, row.Top2 = float64(a.top1)/float64(a.n), float64(a.top2)/float64(a.n)
			row.MeanOwn, row.MeanOther = a.own/float64(a.n), a.other/float64(a.n)
		}
		most := 0
		for j := range themes {
			if v := a.nearestInstead[j]; v > most {
				most, row.Confused = v, themes[j].Name
			}
		}
		ev.PerTheme = append(ev.PerTheme, row)
		ev.N += a.n
		top1 += a.top1
		top2 += a.top2
		ev.MeanOwn += a.own
		ev.MeanOther += a.other
	}
	if ev.N > 0 {
		n := float64(ev.N)
		ev.Top1, ev.Top2 = float64(top1)/n, float64(top2)/n
		ev.MeanOwn, ev.MeanOther = ev.MeanOwn/n, ev.MeanOther/n
	}
	return ev
}
