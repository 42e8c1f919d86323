package sentiment

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Review is one labelled review of a corpus file.
type Review struct {
	// Row is the review's 0-based data row in its source file (the header
	// is not a row); a split names reviews by it.
	Row      int
	Category string
	Negative bool
	// Text is the review with the BOM dropped and whitespace collapsed to
	// single spaces (the model normalises further, see Normalize).
	Text string
}

// Corpus is a labelled review file, de-duplicated.
type Corpus struct {
	Reviews []Review
	// SHA256 is the hex sha256 of the file's bytes as stored (compressed
	// or not): a model records the corpus it was trained on by it.
	SHA256 string
	// Rows is the number of data rows read, Empty how many of them had no
	// text, Duplicates how many repeated an earlier text with the same
	// label, Conflicting how many distinct texts carried both labels (all
	// their rows are dropped).
	Rows, Empty, Duplicates, Conflicting int
}

// ReadCorpus reads a labelled review file: CSV (gzip-compressed when its
// name ends in .gz or it starts with the gzip magic) with a header naming
// the columns label and review, and optionally cat and row (the source row
// of a held-out file that `segstream sentiment train --test-out` wrote).
// The label is 1 positive, 0 negative (the ChineseNlpCorpus convention).
//
// Texts are cleaned as docs/sentiment/REPORT.md did (BOM dropped,
// whitespace collapsed), empty ones skipped, and exact duplicates
// removed: the first row of a text is kept, a text that appears with both
// labels is dropped altogether.
func ReadCorpus(path string) (*Corpus, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	var r io.Reader = bytes.NewReader(raw)
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	c, err := readCorpus(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.SHA256 = hex.EncodeToString(sum[:])
	return c, nil
}

func readCorpus(r io.Reader) (*Corpus, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: want a CSV header with label and review columns")
		}
		return nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	li, ok1 := col["label"]
	ti, ok2 := col["review"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("header %q: want columns label and review (and optionally cat, row)", head)
	}
	ci, hasCat := col["cat"]
	ri, hasRow := col["row"]

	type first struct {
		negative bool
		conflict bool
	}
	c := &Corpus{}
	seen := map[string]*first{}
	var reviews []Review
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		c.Rows++
		if len(rec) <= max(li, ti) {
			return nil, fmt.Errorf("row %d: %d fields", row+1, len(rec))
		}
		var neg bool
		switch strings.TrimSpace(rec[li]) {
		case "0":
			neg = true
		case "1":
		default:
			return nil, fmt.Errorf("row %d: label %q: want 0 (negative) or 1 (positive)", row+1, rec[li])
		}
		text := cleanText(rec[ti])
		if text == "" {
			c.Empty++
			continue
		}
		rv := Review{Row: row, Negative: neg, Text: text}
		if hasCat && ci < len(rec) {
			rv.Category = rec[ci]
		}
		if hasRow && ri < len(rec) {
			n, err := strconv.Atoi(strings.TrimSpace(rec[ri]))
			if err != nil {
				return nil, fmt.Errorf("row %d: row %q: %w", row+1, rec[ri], err)
			}
			rv.Row = n
		}
		if f, ok := seen[text]; ok {
			c.Duplicates++
			if f.negative != neg && !f.conflict {
				f.conflict = true
				c.Conflicting++
			}
			continue
		}
		seen[text] = &first{negative: neg}
		reviews = append(reviews, rv)
	}
	c.Reviews = reviews[:0:0]
	for _, rv := range reviews {
		if f := seen[rv.Text]; !f.conflict {
			c.Reviews = append(c.Reviews, rv)
		}
	}
	if len(c.Reviews) == 0 {
		return nil, errors.New("no labelled reviews")
	}
	return c, nil
}

// cleanText drops BOMs and collapses whitespace runs to one space, trimmed
// (Python's " ".join(s.replace("\ufeff", "").split()), as the report).
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\ufeff':
		case unicode.IsSpace(r):
			space = b.Len() > 0
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Texts returns the texts and labels of the reviews at the given indexes
// into c.Reviews (all of them when idx is nil).
func (c *Corpus) Texts(idx []int) (texts []string, negative []bool) {
	if idx == nil {
		idx = make([]int, len(c.Reviews))
		for i := range idx {
			idx[i] = i
		}
	}
	texts = make([]string, len(idx))
	negative = make([]bool, len(idx))
	for k, i := range idx {
		texts[k] = c.Reviews[i].Text
		negative[k] = c.Reviews[i].Negative
	}
	return texts, negative
}

// Split divides c's reviews into a training and a held-out test part of
// testN reviews, stratified by category × label: every stratum gives the
// test part its share (largest remainders settle the rounding) of reviews
// drawn by a PCG generator seeded with seed. It is deterministic: the same
// corpus, testN and seed give the same split. Both parts are returned as
// ascending indexes into c.Reviews.
func (c *Corpus) Split(testN int, seed uint64) (train, test []int, err error) {
	n := len(c.Reviews)
	if testN <= 0 || testN >= n {
		return nil, nil, fmt.Errorf("test size %d: want 1..%d", testN, n-1)
	}
	strata := map[string][]int{}
	var keys []string
	for i, rv := range c.Reviews {
		k := rv.Category + "\x00" + strconv.FormatBool(rv.Negative)
		if _, ok := strata[k]; !ok {
			keys = append(keys, k)
		}
		strata[k] = append(strata[k], i)
	}
	slices.Sort(keys)
	// quotas: floor of the exact share, then one more for the largest
	// remainders (ties by stratum name) until testN is reached
	type quota struct {
		key  string
		n    int
		frac float64
	}
	qs := make([]quota, len(keys))
	total := 0
	for i, k := range keys {
		exact := float64(len(strata[k])) * float64(testN) / float64(n)
		qs[i] = quota{key: k, n: int(exact), frac: exact - float64(int(exact))}
		total += qs[i].n
	}
	order := make([]int, len(qs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case qs[a].frac > qs[b].frac:
			return -1
		case qs[a].frac < qs[b].frac:
			return 1
		}
		return 0
	})
	for i := 0; total < testN; i++ {
		qs[order[i%len(order)]].n++
		total++
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5e9e_57a7_0000_0001))
	isTest := make([]bool, n)
	for _, q := range qs {
		members := slices.Clone(strata[q.key])
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		for _, i := range members[:q.n] {
			isTest[i] = true
		}
	}
	for i, t := range isTest {
		if t {
			test = append(test, i)
		} else {
			train = append(train, i)
		}
	}
	return train, test, nil
}
