package train

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode"

	"github.com/segstream/segstream/classifier"
)

// LearnThemes clusters the embeddings of texts into k themes with k-means
// (cosine, k-means++ seeding with seed) and names each by the words with
// the highest lift × frequency in its texts. Deterministic for a seed.
func LearnThemes(texts []string, emb [][]float32, k int, seed uint64) []classifier.Theme {
	n := len(emb)
	if n == 0 || k <= 0 {
		return nil
	}
	k = min(k, n)
	dim := len(emb[0])
	X := make([][]float64, n)
	for i, e := range emb {
		X[i] = normalise64(e)
	}
	rng := rand.New(rand.NewPCG(seed, 0x7468656d6573))
	cent := [][]float64{append([]float64(nil), X[rng.IntN(n)]...)}
	d2 := make([]float64, n)
	for len(cent) < k {
		var sum float64
		for i, x := range X {
			best := math.Inf(1)
			for _, c := range cent {
				best = math.Min(best, 1-dot(x, c))
			}
			d2[i] = math.Max(best, 0)
			sum += d2[i]
		}
		t := rng.Float64() * sum
		pick := n - 1
		for i, v := range d2 {
			if t -= v; t <= 0 {
				pick = i
				break
			}
		}
		cent = append(cent, append([]float64(nil), X[pick]...))
	}
	assign := make([]int, n)
	for it := 0; it < 50; it++ {
		changed := 0
		for i, x := range X {
			bk, bs := 0, math.Inf(-1)
			for c := range cent {
				if s := dot(x, cent[c]); s > bs {
					bk, bs = c, s
				}
			}
			if assign[i] != bk || it == 0 {
				changed++
			}
			assign[i] = bk
		}
		for c := range cent {
			sum := make([]float64, dim)
			cnt := 0
			for i, x := range X {
				if assign[i] == c {
					cnt++
					for j, v := range x {
						sum[j] += v
					}
				}
			}
			if cnt > 0 {
				cent[c] = normalise64f(sum)
			}
		}
		if changed == 0 {
			break
		}
	}
	// name by words
	docWords := make([][]string, n)
	total := map[string]int{}
	for i, t := range texts {
		docWords[i] = themeWords(t)
		for _, w := range docWords[i] {
			total[w]++
		}
	}
	themes := make([]classifier.Theme, 0, k)
	used := map[string]bool{}
	for c := range cent {
		cnt := map[string]int{}
		size := 0
		for i := range X {
			if assign[i] == c {
				size++
				for _, w := range docWords[i] {
					cnt[w]++
				}
			}
		}
		if size == 0 {
			continue
		}
		type ws struct {
			w string
			s float64
		}
		var cands []ws
		for w, v := range cnt {
			if v < 2 {
				continue
			}
			frac := float64(v) / float64(size)
			lift := frac / (float64(total[w]) / float64(n))
			cands = append(cands, ws{w, frac * math.Log(1+lift)})
		}
		sort.Slice(cands, func(a, b int) bool {
			if cands[a].s != cands[b].s {
				return cands[a].s > cands[b].s
			}
			return cands[a].w < cands[b].w
		})
		var words []string
		for _, c := range cands {
			if len(words) == 3 {
				break
			}
			words = append(words, c.w)
		}
		name := strings.Join(words, "-")
		if name == "" {
			name = "misc"
		}
		for base, i := name, 2; used[name]; i++ {
			name = base + "-" + string(rune('0'+i))
		}
		used[name] = true
		cf := make([]float32, dim)
		for j, v := range cent[c] {
			cf[j] = float32(v)
		}
		themes = append(themes, classifier.Theme{Name: name, Words: words, Size: size, Centroid: cf})
	}
	sort.SliceStable(themes, func(a, b int) bool { return themes[a].Size > themes[b].Size })
	return themes
}

var stopWords = map[string]bool{"of": true, "set": true, "and": true, "the": true, "in": true, "with": true, "a": true, "for": true, "s": true, "pack": true, "box": true, "small": true, "large": true, "mini": true, "assorted": true, "design": true, "colour": true, "piece": true}

func themeWords(t string) []string {
	f := strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !unicode.IsLetter(r) })
	seen := map[string]bool{}
	var out []string
	for _, w := range f {
		if len(w) < 3 || stopWords[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func normalise64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return normalise64f(out)
}

func normalise64f(v []float64) []float64 {
	n := math.Sqrt(dot(v, v))
	if n == 0 {
		return v
	}
	for i := range v {
		v[i] /= n
	}
	return v
}
