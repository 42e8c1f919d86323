package sentiment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// TrainOptions configure Train. The zero value is the default everywhere.
type TrainOptions struct {
	// Lang is the language code recorded in the model ("zh").
	Lang string
	// Bits is log2 of the number of hash buckets, 10..26 (default 20).
	Bits int
	// MinN, MaxN: the character n-gram orders (default 1 and 3).
	MinN, MaxN int
	// MinDF is the least number of training documents an n-gram needs to
	// make a feature (default 2).
	MinDF int
	// Cs are the candidate inverse regularisation strengths (C, as in
	// scikit-learn: the objective is ||w||²/2 + C·Σ log-loss); with more
	// than one, C is chosen by Folds-fold cross-validated accuracy on the
	// training texts (default 1, 3, 10, 30, 100).
	Cs []float64
	// Folds for choosing C (default 5), stratified by label, drawn with Seed.
	Folds int
	Seed  uint64
	// MaxIter bounds the L-BFGS iterations of one fit (default 300); Tol
	// stops a fit when an iteration lowers the objective by less than
	// Tol relative to it (default 1e-7).
	MaxIter int
	Tol     float64
	// Workers compute the gradient in parallel (default GOMAXPROCS). The
	// result does not depend on it: the partial sums are always the same
	// fixed partitions, added in order.
	Workers int
	// Log reports progress (the C search, each fit); nil: nothing.
	Log *zap.Logger
}

func (o *TrainOptions) defaults() error {
	if o.Bits == 0 {
		o.Bits = 20
	}
	if o.MinN == 0 {
		o.MinN = 1
	}
	if o.MaxN == 0 {
		o.MaxN = 3
	}
	if o.MinDF == 0 {
		o.MinDF = 2
	}
	if len(o.Cs) == 0 {
		o.Cs = []float64{1, 3, 10, 30, 100}
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.MaxIter == 0 {
		o.MaxIter = 300
	}
	if o.Tol == 0 {
		o.Tol = 1e-7
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	switch {
	case o.Bits < 10 || o.Bits > 26:
		return fmt.Errorf("bits %d: want 10..26", o.Bits)
	case o.MinN < 1 || o.MaxN < o.MinN || o.MaxN > 8:
		return fmt.Errorf("n-gram range %d..%d: want 1 <= min <= max <= 8", o.MinN, o.MaxN)
	case o.MinDF < 1:
		return fmt.Errorf("min df %d: want >= 1", o.MinDF)
	case len(o.Cs) > 1 && o.Folds < 2:
		return fmt.Errorf("folds %d: want >= 2 to choose among %d values of C", o.Folds, len(o.Cs))
	}
	for _, c := range o.Cs {
		if !(c > 0) || math.IsInf(c, 0) {
			return fmt.Errorf("candidate C %v: want > 0", c)
		}
	}
	return nil
}

// Train fits a Model on texts labelled negative[i] (true: a negative
// review). Features: hashed character n-grams (see Model) of the n-grams
// found in at least MinDF texts, TF-IDF weighted with the idf of the
// training texts; classifier: L2-regularised logistic regression fitted by
// L-BFGS, C chosen by stratified k-fold cross-validation on these texts
// only. Deterministic: the same texts and options give the same model,
// byte for byte once saved, whatever Workers.
//
// The weights are quantised as the file stores them before Train returns,
// so the model Train returns scores exactly as the one Load reads back.
func Train(texts []string, negative []bool, opts TrainOptions) (*Model, error) {
	if len(texts) != len(negative) {
		return nil, fmt.Errorf("%d texts, %d labels", len(texts), len(negative))
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	nneg := 0
	for _, v := range negative {
		if v {
			nneg++
		}
	}
	if nneg == 0 || nneg == len(texts) {
		return nil, errors.New("training texts of one class only: want negative and positive ones")
	}
	log := opts.Log
	start := time.Now()
	x, vec := vectorize(texts, opts)
	log.Info("sentiment: features",
		zap.Int("docs", len(texts)), zap.Int("ngrams", vec.ngrams), zap.Int("features", len(vec.used)),
		zap.Int("bits", opts.Bits), zap.Int("nnz", len(x.idx)), zap.Duration("took", time.Since(start)))

	y := make([]float64, len(negative))
	for i, v := range negative {
		if v {
			y[i] = 1
		}
	}
	all := make([]int32, len(texts))
	for i := range all {
		all[i] = int32(i)
	}
	c := opts.Cs[0]
	var cvAcc float64
	folds := 0
	if len(opts.Cs) > 1 {
		c, cvAcc = chooseC(x, y, opts)
		folds = opts.Folds
	}
	t := time.Now()
	w, iters := fitLR(x, x.transpose(nil), y, all, c, nil, opts)
	log.Info("sentiment: final fit", zap.Float64("C", c), zap.Int("iterations", iters),
		zap.Duration("took", time.Since(t)), zap.Duration("total", time.Since(start)))

	m := &Model{
		bits: uint8(opts.Bits), minN: uint8(opts.MinN), maxN: uint8(opts.MaxN),
		used: vec.used, df: vec.df,
		info: Info{
			Lang: opts.Lang, Docs: len(texts), NGrams: vec.ngrams, MinDF: opts.MinDF,
			C: c, CVAccuracy: cvAcc, Folds: folds,
		},
	}
	m.quantise(w[:len(w)-1], w[len(w)-1])
	m.build()
	return m, nil
}

// SetSplit records the corpus and split a model was trained on (see Info).
func (m *Model) SetSplit(source string, seed uint64, testN int) {
	m.info.Source, m.info.Seed, m.info.TestN = source, seed, testN
}

// quantise stores weights as int16 with one scale (max |w| / 32767): the
// rounding error, at most 1.5e-5 of the largest weight, changes no score
// measurably.
func (m *Model) quantise(w []float64, bias float64) {
	maxAbs := 0.0
	for _, v := range w {
		maxAbs = max(maxAbs, math.Abs(v))
	}
	m.wscale = 1
	if maxAbs > 0 {
		m.wscale = float32(maxAbs / 32767)
	}
	m.qw = make([]int16, len(w))
	for k, v := range w {
		m.qw[k] = int16(math.Round(v / float64(m.wscale)))
	}
	m.bias = float32(bias)
}

// csr is the training matrix: row i's features are idx[ptr[i]:ptr[i+1]]
// (ascending) with values val (TF-IDF, L2-normalised rows).
type csr struct {
	ptr []int64
	idx []int32
	val []float32
	d   int // columns
}

type vocab struct {
	used   []uint32 // buckets with a feature, ascending; column k is used[k]
	df     []uint32
	ngrams int
}

// vectorize builds the feature matrix of the training texts.
func vectorize(texts []string, o TrainOptions) (*csr, *vocab) {
	mask := uint64(1)<<o.Bits - 1
	// hashes of every text's n-grams, with repeats, in parallel
	hs := make([][]uint64, len(texts))
	parallel(len(texts), o.Workers, func(i int) {
		s := getScratch()
		s.buf, s.offs = appendNormalized(s.buf[:0], s.offs[:0], texts[i])
		hs[i] = appendHashes(nil, s.buf, s.offs, o.MinN, o.MaxN)
		putScratch(s)
	})
	isUsed, ngrams := usedBuckets(hs, o.MinDF, mask)
	col := make([]int32, mask+1)
	v := &vocab{ngrams: ngrams}
	for b, u := range isUsed {
		col[b] = -1
		if u {
			col[b] = int32(len(v.used))
			v.used = append(v.used, uint32(b))
		}
	}
	v.df = make([]uint32, len(v.used))
	// rows: each text's used buckets, their tf, then TF-IDF
	x := &csr{ptr: make([]int64, len(texts)+1), d: len(v.used)}
	type run struct {
		col int32
		tf  int32
	}
	rows := make([][]run, len(texts))
	parallel(len(texts), o.Workers, func(i int) {
		cs := make([]int32, 0, len(hs[i]))
		for _, h := range hs[i] {
			if c := col[h&mask]; c >= 0 {
				cs = append(cs, c)
			}
		}
		slices.Sort(cs)
		var r []run
		for a := 0; a < len(cs); {
			b := a + 1
			for b < len(cs) && cs[b] == cs[a] {
				b++
			}
			r = append(r, run{cs[a], int32(b - a)})
			a = b
		}
		rows[i] = r
		hs[i] = nil
	})
	for i, r := range rows {
		for _, e := range r {
			v.df[e.col]++
		}
		x.ptr[i+1] = x.ptr[i] + int64(len(r))
	}
	idfs := make([]float64, len(v.used))
	for k, d := range v.df {
		idfs[k] = float64(idf(len(texts), d))
	}
	x.idx = make([]int32, x.ptr[len(texts)])
	x.val = make([]float32, len(x.idx))
	for i, r := range rows {
		off := x.ptr[i]
		ss := 0.0
		for k, e := range r {
			val := idfs[e.col]
			if e.tf > 1 {
				val *= 1 + math.Log(float64(e.tf))
			}
			x.idx[off+int64(k)] = e.col
			x.val[off+int64(k)] = float32(val)
			ss += val * val
		}
		if ss > 0 {
			inv := 1 / math.Sqrt(ss)
			for k := range r {
				x.val[off+int64(k)] = float32(float64(x.val[off+int64(k)]) * inv)
			}
		}
		rows[i] = nil
	}
	return x, v
}

// usedBuckets counts the document frequency of every n-gram (the texts'
// distinct hashes, sorted together, counted by runs) and marks the buckets
// of those found in at least minDF texts; ngrams is their number.
func usedBuckets(hs [][]uint64, minDF int, mask uint64) (isUsed []bool, ngrams int) {
	total := 0
	for _, h := range hs {
		total += len(h)
	}
	distinct := make([]uint64, 0, total)
	for _, h := range hs {
		u := slices.Clone(h)
		slices.Sort(u)
		distinct = append(distinct, slices.Compact(u)...)
	}
	slices.Sort(distinct)
	isUsed = make([]bool, mask+1)
	for i := 0; i < len(distinct); {
		j := i + 1
		for j < len(distinct) && distinct[j] == distinct[i] {
			j++
		}
		if j-i >= minDF {
			ngrams++
			isUsed[distinct[i]&mask] = true
		}
		i = j
	}
	return isUsed, ngrams
}

// parallel runs f(0..n-1) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	if workers <= 1 || n < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, 256)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// chooseC returns the C of opts.Cs with the best stratified k-fold
// cross-validated accuracy (the smaller C on a tie) and that accuracy.
func chooseC(x *csr, y []float64, o TrainOptions) (float64, float64) {
	n := len(y)
	fold := make([]int, n)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0xc0ffee))
	for _, label := range []float64{0, 1} {
		var idx []int
		for i, v := range y {
			if v == label {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for k, i := range idx {
			fold[i] = k % o.Folds
		}
	}
	cs := slices.Clone(o.Cs)
	slices.Sort(cs)
	correct := make([]int, len(cs))
	for f := range o.Folds {
		var tr, te []int32
		for i := range n {
			if fold[i] == f {
				te = append(te, int32(i))
			} else {
				tr = append(tr, int32(i))
			}
		}
		keep := make([]bool, n)
		for _, i := range tr {
			keep[i] = true
		}
		xt := x.transpose(keep)
		var w []float64
		for ci, c := range cs {
			t := time.Now()
			var iters int
			w, iters = fitLR(x, xt, y, tr, c, w, o) // warm start from the smaller C
			ok := 0
			for _, i := range te {
				if (x.dot(w, int(i)) > 0) == (y[i] == 1) {
					ok++
				}
			}
			correct[ci] += ok
			o.Log.Info("sentiment: cross-validation", zap.Int("fold", f+1), zap.Int("folds", o.Folds),
				zap.Float64("C", c), zap.Float64("accuracy", float64(ok)/float64(len(te))),
				zap.Int("iterations", iters), zap.Duration("took", time.Since(t)))
		}
	}
	best := 0
	for ci := range cs {
		if correct[ci] > correct[best] {
			best = ci
		}
	}
	for ci, c := range cs {
		o.Log.Info("sentiment: C", zap.Float64("C", c), zap.Float64("cv_accuracy", float64(correct[ci])/float64(n)),
			zap.Bool("chosen", ci == best))
	}
	return cs[best], float64(correct[best]) / float64(n)
}

// dot is row i's score under parameters w (weights, then the bias).
func (x *csr) dot(w []float64, i int) float64 {
	s := w[x.d]
	for k := x.ptr[i]; k < x.ptr[i+1]; k++ {
		s += w[x.idx[k]] * float64(x.val[k])
	}
	return s
}

// fitLR minimises ||w||²/2 + C·Σ_rows log(1 + exp(-s·(w·x + b))), s = ±1
// (the bias not regularised), by L-BFGS from w0 (nil: zero). It returns
// the weights followed by the bias, and the iterations run. The objective
// is divided by C·len(rows) for a well scaled problem.
//
// The margins are computed row by row and the gradient column by column
// (xt, the transpose), each entry a sum in a fixed order: the result does
// not depend on the number of workers.
func fitLR(x, xt *csr, y []float64, rows []int32, c float64, w0 []float64, o TrainOptions) ([]float64, int) {
	d := x.d + 1
	n := float64(len(rows))
	lambda := 1 / (c * n)
	e := make([]float64, len(y)) // dloss/dz of each row; 0 outside rows
	loss := make([]float64, len(rows))
	const chunk = 1024
	fg := func(w, g []float64) float64 {
		parallel((len(rows)+chunk-1)/chunk, o.Workers, func(p int) {
			for k := p * chunk; k < min(len(rows), (p+1)*chunk); k++ {
				i := int(rows[k])
				z := x.dot(w, i)
				// loss log(1+e^{-sz}), s = 2y-1; its derivative in z is σ(z) - y
				if y[i] == 1 {
					loss[k] = softplus(-z)
				} else {
					loss[k] = softplus(z)
				}
				e[i] = sigmoid(z) - y[i]
			}
		})
		parallel((x.d+chunk-1)/chunk, o.Workers, func(p int) {
			for j := p * chunk; j < min(x.d, (p+1)*chunk); j++ {
				s := 0.0
				for k := xt.ptr[j]; k < xt.ptr[j+1]; k++ {
					s += e[xt.idx[k]] * float64(xt.val[k])
				}
				g[j] = s/n + lambda*w[j]
			}
		})
		f, gb := 0.0, 0.0
		for _, l := range loss {
			f += l
		}
		for _, i := range rows {
			gb += e[i]
		}
		g[x.d] = gb / n
		f /= n
		for k := 0; k < x.d; k++ {
			f += lambda / 2 * w[k] * w[k]
		}
		return f
	}
	w := make([]float64, d)
	if w0 != nil {
		copy(w, w0)
	}
	iters := lbfgs(w, fg, o.MaxIter, o.Tol)
	return w, iters
}

// transpose is x's transpose (column j's rows ascending) with the rows
// not in keep left out (keep empty: all rows).
func (x *csr) transpose(keep []bool) *csr {
	t := &csr{ptr: make([]int64, x.d+1)}
	rows := len(x.ptr) - 1
	t.d = rows
	for i := range rows {
		if len(keep) > 0 && !keep[i] {
			continue
		}
		for k := x.ptr[i]; k < x.ptr[i+1]; k++ {
			t.ptr[x.idx[k]+1]++
		}
	}
	for j := range x.d {
		t.ptr[j+1] += t.ptr[j]
	}
	t.idx = make([]int32, t.ptr[x.d])
	t.val = make([]float32, t.ptr[x.d])
	next := slices.Clone(t.ptr[:x.d])
	for i := range rows {
		if len(keep) > 0 && !keep[i] {
			continue
		}
		for k := x.ptr[i]; k < x.ptr[i+1]; k++ {
			j := x.idx[k]
			t.idx[next[j]] = int32(i)
			t.val[next[j]] = x.val[k]
			next[j]++
		}
	}
	return t
}

func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}
