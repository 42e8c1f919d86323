package sentiment

import (
	"math"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Model is a review polarity classifier: hashed character n-gram TF-IDF
// features and logistic regression weights. It is immutable once built
// (Train, Load or Decode) and safe for concurrent use.
//
// Scoring a text: Normalize it; hash every character (rune) n-gram, n in
// MinN..MaxN, of the normalised text with xxhash64 (the n-gram's UTF-8
// bytes) into one of 2^Bits buckets (the low Bits bits); keep the buckets
// the training set gave a feature (the others have no idf and are ignored,
// like an n-gram outside a vocabulary); weight each kept bucket by
// (1 + ln tf) × idf, tf its count in the text; L2-normalise; the score is
// the dot product with the weights plus the bias, P(negative) its logistic.
type Model struct {
	bits       uint8
	minN, maxN uint8
	mask       uint64
	bias       float32
	// cells[bucket] holds the bucket's idf (0: no feature) and weight,
	// 4 bytes (the table of 2^20 buckets is 4 MiB): one slice of pairs so
	// that a lookup touches one cache line, and small, for these lookups
	// are most of Score's time (cache misses).
	cells []cell
	// df of each used bucket in the training documents (the file stores
	// it and recomputes the idf from it) and the weights as stored
	// (quantised); used ascending.
	used   []uint32
	df     []uint32
	qw     []int16
	wscale float32
	info   Info
}

type cell struct {
	idf uint16 // in units of idfUnit
	w   int16  // the stored weight, in units of wscale
}

// idfUnit is the idf's resolution in a cell: idf >= 1, so the rounding
// changes it by at most 0.025%; idfs up to 32 fit (ln(docs/2) + 1 < 32 for
// any corpus under 10^13 documents).
const idfUnit = 1.0 / 2048

// Info describes how a model was trained; the file format stores it.
type Info struct {
	// Lang is the language code the model is for ("zh").
	Lang string
	// Docs is the number of training reviews (the idf's N).
	Docs int
	// NGrams is the number of distinct n-grams with at least MinDF
	// training documents: the size an exact vocabulary would have.
	NGrams int
	// MinDF is the least number of training documents an n-gram needed.
	MinDF int
	// C is the inverse L2 regularisation strength chosen (sklearn's C).
	C float64
	// CVAccuracy is the k-fold cross-validated accuracy of C on the
	// training set (0 when C was given, not chosen), Folds the k.
	CVAccuracy float64
	Folds      int
	// Source, Seed, TestN: the corpus (sha256 of its file), the split's
	// seed and the number of held-out test reviews, when the model was
	// trained by `segstream sentiment train` on a split of a corpus file;
	// `segstream sentiment eval` uses them to evaluate on that held-out
	// part only. Empty / zero otherwise.
	Source string
	Seed   uint64
	TestN  int
}

// Bits is log2 of the number of hash buckets.
func (m *Model) Bits() int { return int(m.bits) }

// NGramRange is the n-gram orders the model uses (1, 3 by default).
func (m *Model) NGramRange() (minN, maxN int) { return int(m.minN), int(m.maxN) }

// Features is the number of buckets that carry a feature.
func (m *Model) Features() int { return len(m.used) }

// Bias is the logistic regression intercept.
func (m *Model) Bias() float64 { return float64(m.bias) }

// Info says how the model was trained.
func (m *Model) Info() Info { return m.info }

// scratch is the per-call working memory of Score; pooled, so a call
// allocates nothing once the pool is warm.
type scratch struct {
	buf  []byte   // normalised text, UTF-8
	offs []int32  // byte offset of every rune of buf, and len(buf)
	ids  []uint32 // buckets of the n-grams, then the distinct ones
	// slots is a small open-addressing table counting the n-grams of a
	// bucket (its tf); a slot belongs to this call when its gen is gen,
	// so the table is never cleared.
	slots []slot
	gen   uint32
}

type slot struct {
	bucket, gen, tf uint32
	c               cell
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 1024), offs: make([]int32, 0, 512), ids: make([]uint32, 0, 1536)}
}}

// maxPooled bounds the scratch a call puts back in the pool: one huge text
// does not pin its buffers for the life of the process.
const maxPooled = 1 << 16

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > maxPooled || cap(s.ids) > 3*maxPooled || len(s.slots) > 8*maxPooled {
		return
	}
	scratchPool.Put(s)
}

// Negative is the probability that text is a negative review.
func (m *Model) Negative(text string) float64 { return sigmoid(m.Score(text)) }

// Score is the log-odds that text is negative: the logistic regression's
// linear score. A text with no known n-gram scores the bias.
func (m *Model) Score(text string) float64 {
	s := getScratch()
	s.buf, s.offs = appendNormalized(s.buf[:0], s.offs[:0], text)
	buf, offs, mask := s.buf, s.offs, m.mask
	nr := len(offs) - 1
	// the buckets of every n-gram: hashing only, no table lookups yet
	ids := s.ids[:0]
	for n := int(m.minN); n <= int(m.maxN); n++ {
		for i := 0; i+n <= nr; i++ {
			ids = append(ids, uint32(xxhash.Sum64(buf[offs[i]:offs[i+n]])&mask))
		}
	}
	// count each bucket's n-grams in the small table; ids keeps the
	// distinct buckets, in order of first appearance
	size := 16
	for size < 2*len(ids) {
		size <<= 1
	}
	if len(s.slots) < size {
		s.slots = make([]slot, size)
		s.gen = 0
	}
	s.gen++
	if s.gen == 0 { // wrapped: stale slots could look current
		clear(s.slots)
		s.gen = 1
	}
	slots, gen, smask, cells := s.slots[:size], s.gen, uint32(size-1), m.cells
	distinct := 0
	for _, b := range ids {
		for j := b & smask; ; j = (j + 1) & smask {
			sl := &slots[j]
			if sl.gen != gen {
				// the cell is read here, not in the sum below: the
				// loads (cache misses, mostly) overlap with this loop
				*sl = slot{bucket: b, gen: gen, tf: 1, c: cells[b]}
				ids[distinct] = j // the slot; the bucket is in it
				distinct++
				break
			}
			if sl.bucket == b {
				sl.tf++
				break
			}
		}
	}
	var dot, ss float64
	for _, j := range ids[:distinct] {
		sl := &slots[j]
		c := sl.c
		v := float64(c.idf) * idfUnit
		if sl.tf > 1 {
			v *= 1 + math.Log(float64(sl.tf))
		}
		dot += v * float64(c.w)
		ss += v * v
	}
	s.ids = ids
	putScratch(s)
	if ss == 0 {
		return float64(m.bias)
	}
	return dot*float64(m.wscale)/math.Sqrt(ss) + float64(m.bias)
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Normalize is the text a model sees: BOMs and zero-width characters
// dropped, letters lower-cased (unicode.ToLower), every run of whitespace
// (unicode.IsSpace) one space, none at either end; invalid UTF-8 bytes
// become U+FFFD. Full-width forms ("！", "ＯＫ") are kept: folding them to
// ASCII did not help on the Chinese corpus (accuracy 0.9354 with, 0.9364
// without, on the same split). It depends on nothing but the Unicode
// tables of the Go release, so it is deterministic.
func Normalize(text string) string {
	buf, _ := appendNormalized(nil, nil, text)
	return string(buf)
}

// appendNormalized appends the normalised text to buf and the byte offset
// of each of its runes to offs, then len(buf) (so rune i is
// buf[offs[i]:offs[i+1]]); offs is relative to the appended part and must
// be empty on entry.
func appendNormalized(buf []byte, offs []int32, text string) ([]byte, []int32) {
	base := len(buf)
	space := false
	for i := 0; i < len(text); {
		r := rune(text[i])
		if r < utf8.RuneSelf {
			i++
			switch {
			case r == ' ' || ('\t' <= r && r <= '\r'):
				space = len(buf) > base
				continue
			case 'A' <= r && r <= 'Z':
				r += 'a' - 'A'
			}
			if space {
				offs = append(offs, int32(len(buf)-base))
				buf = append(buf, ' ')
				space = false
			}
			offs = append(offs, int32(len(buf)-base))
			buf = append(buf, byte(r))
			continue
		}
		var size int
		r, size = utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case 0x4e00 <= r && r <= 0x9fff: // CJK ideographs: no case, not space
			if space {
				offs = append(offs, int32(len(buf)-base))
				buf = append(buf, ' ')
				space = false
			}
			offs = append(offs, int32(len(buf)-base))
			buf = utf8.AppendRune(buf, r)
			continue
		case r == '\ufeff' || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060':
			continue
		case unicode.IsSpace(r):
			space = len(buf) > base
			continue
		}
		r = unicode.ToLower(r)
		if space {
			offs = append(offs, int32(len(buf)-base))
			buf = append(buf, ' ')
			space = false
		}
		offs = append(offs, int32(len(buf)-base))
		buf = utf8.AppendRune(buf, r)
	}
	offs = append(offs, int32(len(buf)-base))
	return buf, offs
}

// appendHashes appends the xxhash64 of every n-gram, n in minN..maxN, of
// the normalised text in buf (rune offsets offs) to dst: the same n-grams,
// in the same order, that Score hashes.
func appendHashes(dst []uint64, buf []byte, offs []int32, minN, maxN int) []uint64 {
	nr := len(offs) - 1
	for n := minN; n <= maxN; n++ {
		for i := 0; i+n <= nr; i++ {
			dst = append(dst, xxhash.Sum64(buf[offs[i]:offs[i+n]]))
		}
	}
	return dst
}

// idf is the smoothed inverse document frequency of a feature found in df
// of docs training documents (scikit-learn's smooth_idf):
// ln((1+docs)/(1+df)) + 1.
func idf(docs int, df uint32) float32 {
	return float32(math.Log(float64(1+docs)/float64(1+df)) + 1)
}

// build fills cells from used, df, qw and wscale (the stored form).
func (m *Model) build() {
	m.mask = 1<<m.bits - 1
	m.cells = make([]cell, 1<<m.bits)
	for k, b := range m.used {
		m.cells[b] = cell{idf: uint16(math.Round(float64(idf(m.info.Docs, m.df[k])) / idfUnit)), w: m.qw[k]}
	}
}
