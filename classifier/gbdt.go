package classifier

import (
	"math"
	"sort"
)

// GBDT is a small gradient-boosted tree ensemble (second-order boosting of
// depth-limited regression trees on histogram bins, as in XGBoost and
// LightGBM) over the standardised numeric inputs. It outputs one logit per
// output: Outputs is 1 for a binary head (the logit of class 1) and the
// number of classes for a multiclass head (softmax over the outputs).
// Scoring walks Rounds×Outputs trees of at most 2^Depth leaves: a few
// microseconds per user.
type GBDT struct {
	Outputs int        `json:"outputs"`
	Base    []float64  `json:"base"`  // initial logit per output
	Trees   [][]Tree   `json:"trees"` // [round][output]
	Config  GBDTConfig `json:"config"`
	Inputs  int        `json:"inputs"` // how many leading inputs the trees read
	Log     FitLog     `json:"fit"`
	Gains   []float64  `json:"gains,omitempty"` // total split gain per input (importance)
}

// Tree is one regression tree; node 0 is the root.
type Tree struct {
	Nodes []GBDTNode `json:"n"`
}

// GBDTNode is a split (F >= 0: go to L when x[F] <= T, else R) or a leaf
// (F < 0). V is the node's output (for a split, the output it would have as
// a leaf: explanations attribute V(child) - V(node) to the split's input).
type GBDTNode struct {
	F int32   `json:"f"`
	T float64 `json:"t,omitempty"`
	L int32   `json:"l,omitempty"`
	R int32   `json:"r,omitempty"`
	V float64 `json:"v"`
}

// GBDTConfig are the boosting hyper-parameters.
type GBDTConfig struct {
	MaxRounds int     `json:"max_rounds"` // default 600
	LR        float64 `json:"lr"`         // shrinkage; default 0.05
	Depth     int     `json:"depth"`      // default 3
	MinHess   float64 `json:"min_hess"`   // minimum hessian sum per child; default 10
	Lambda    float64 `json:"lambda"`     // L2 on leaf outputs; default 1
	Bins      int     `json:"bins"`       // histogram bins per input; default 64
	Patience  int     `json:"patience"`   // rounds without validation improvement; default 40
	Balanced  bool    `json:"balanced"`   // class weights n/(classes·n_k)
}

func (c *GBDTConfig) setDefaults() {
	if c.MaxRounds == 0 {
		c.MaxRounds = 600
	}
	if c.LR == 0 {
		c.LR = 0.05
	}
	if c.Depth == 0 {
		c.Depth = 3
	}
	if c.MinHess == 0 {
		c.MinHess = 10
	}
	if c.Lambda == 0 {
		c.Lambda = 1
	}
	if c.Bins == 0 {
		c.Bins = 64
	}
	if c.Patience == 0 {
		c.Patience = 40
	}
}

// leaf walks t for x and returns the leaf index.
func (t *Tree) leaf(x []float64) int {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.F < 0 {
			return i
		}
		if x[n.F] <= n.T {
			i = int(n.L)
		} else {
			i = int(n.R)
		}
	}
}

// Logits writes the outputs' logits for x into out (len Outputs).
func (g *GBDT) Logits(x, out []float64) []float64 {
	copy(out, g.Base)
	for _, round := range g.Trees {
		for k := range round {
			t := &round[k]
			out[k] += t.Nodes[t.leaf(x)].V
		}
	}
	return out
}

// Attribute adds to contrib[j] the path attribution of output k's logit to
// input j (for each tree, V(child) - V(node) of every split on j along x's
// path) and returns the rest of the logit: Base[k] plus the roots' values,
// so that the result plus the sum of the additions is the logit.
func (g *GBDT) Attribute(x []float64, k int, contrib []float64) float64 {
	bias := g.Base[k]
	for _, round := range g.Trees {
		t := &round[k]
		i := 0
		bias += t.Nodes[0].V
		for t.Nodes[i].F >= 0 {
			n := &t.Nodes[i]
			next := int(n.R)
			if x[n.F] <= n.T {
				next = int(n.L)
			}
			contrib[n.F] += t.Nodes[next].V - n.V
			i = next
		}
	}
	return bias
}

// probs turns logits into class probabilities (binary: 2 classes).
func (g *GBDT) probs(z []float64, out []float64) []float64 {
	if g.Outputs == 1 {
		p := 1 / (1 + math.Exp(-z[0]))
		out[0], out[1] = 1-p, p
		return out
	}
	copy(out, z)
	softmaxInPlace(out[:g.Outputs])
	return out
}

// binner maps inputs to histogram bins: bin b holds x <= cuts[b] (and above
// cuts[b-1]); the last bin holds everything above the last cut.
type binner struct{ cuts [][]float64 }

func newBinner(X [][]float64, d, bins int) binner {
	b := binner{cuts: make([][]float64, d)}
	col := make([]float64, len(X))
	for j := 0; j < d; j++ {
		for i, x := range X {
			col[i] = x[j]
		}
		sort.Float64s(col)
		var cuts []float64
		for q := 1; q < bins; q++ {
			v := col[min(len(col)-1, q*len(col)/bins)]
			if len(cuts) == 0 || v > cuts[len(cuts)-1] {
				cuts = append(cuts, v)
			}
		}
		// The maximum needs no cut of its own.
		if n := len(cuts); n > 0 && cuts[n-1] >= col[len(col)-1] {
			cuts = cuts[:n-1]
		}
		b.cuts[j] = cuts
	}
	return b
}

func (b binner) bin(j int, x float64) uint8 {
	return uint8(sort.SearchFloat64s(b.cuts[j], x))
}

// FitGBDT boosts trees on the first d inputs of X for labels y in [0,
// classes), stopping when the validation log-loss has not improved for
// Patience rounds and keeping the best round. Deterministic.
func FitGBDT(X [][]float64, y []int, Xv [][]float64, yv []int, classes, d int, cfg GBDTConfig) *GBDT {
	cfg.setDefaults()
	n := len(X)
	outs := classes
	if classes == 2 {
		outs = 1
	}
	bn := newBinner(X, d, cfg.Bins)
	cols := make([][]uint8, d) // column-major bins
	for j := 0; j < d; j++ {
		cols[j] = make([]uint8, n)
		for i, x := range X {
			cols[j][i] = bn.bin(j, x[j])
		}
	}
	sw := make([]float64, n)
	cw := make([]float64, classes)
	for k := range cw {
		cw[k] = 1
	}
	if cfg.Balanced {
		cw = ClassWeights(y, classes)
	}
	for i := range sw {
		sw[i] = cw[y[i]]
	}
	// Base: log prior (weighted).
	prior := make([]float64, classes)
	var wsum float64
	for i := range y {
		prior[y[i]] += sw[i]
		wsum += sw[i]
	}
	g := &GBDT{Outputs: outs, Base: make([]float64, outs), Config: cfg, Inputs: d, Gains: make([]float64, d)}
	if outs == 1 {
		p := math.Min(math.Max(prior[1]/wsum, 1e-6), 1-1e-6)
		g.Base[0] = math.Log(p / (1 - p))
	} else {
		for k := range g.Base {
			g.Base[k] = math.Log(math.Max(prior[k]/wsum, 1e-6))
		}
	}
	F := make([][]float64, n)
	for i := range F {
		F[i] = append([]float64(nil), g.Base...)
	}
	Fv := make([][]float64, len(Xv))
	for i := range Fv {
		Fv[i] = append([]float64(nil), g.Base...)
	}
	grad, hess := make([]float64, n), make([]float64, n)
	P := make([][]float64, n)
	for i := range P {
		P[i] = make([]float64, classes)
	}
	pv := make([]float64, classes)
	valLoss := func() float64 {
		var s, w float64
		for i := range Fv {
			g.probs(Fv[i], pv)
			wi := cw[yv[i]]
			s -= wi * math.Log(math.Max(pv[yv[i]], 1e-15))
			w += wi
		}
		return s / w
	}
	best, bestRound, since := valLoss(), 0, 0
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	tb := &treeBuilder{cols: cols, cuts: bn.cuts, cfg: cfg, grad: grad, hess: hess, gains: g.Gains}
	r := 0
	for r = 1; r <= cfg.MaxRounds; r++ {
		for i := range F {
			g.probs(F[i], P[i])
		}
		round := make([]Tree, outs)
		for k := 0; k < outs; k++ {
			c := k
			if outs == 1 {
				c = 1
			}
			for i := range F {
				yk := 0.0
				if y[i] == c {
					yk = 1
				}
				p := P[i][c]
				grad[i] = sw[i] * (p - yk)
				hess[i] = sw[i] * math.Max(p*(1-p), 1e-6)
			}
			round[k] = tb.build(all)
			t := &round[k]
			for i := range F {
				F[i][k] += t.Nodes[tb.leafBinned(t, i)].V
			}
			for i := range Fv {
				Fv[i][k] += t.Nodes[t.leaf(Xv[i])].V
			}
		}
		g.Trees = append(g.Trees, round)
		vl := valLoss()
		if vl < best-1e-7 {
			best, bestRound, since = vl, r, 0
		} else if since++; since >= cfg.Patience {
			break
		}
	}
	g.Trees = g.Trees[:bestRound]
	g.Log = FitLog{Epochs: min(r, cfg.MaxRounds), BestEpoch: bestRound, ValLoss: best}
	return g
}

type treeBuilder struct {
	cols       [][]uint8
	cuts       [][]float64
	cfg        GBDTConfig
	grad, hess []float64
	gains      []float64
	// split thresholds as bins, per node of the tree being built (for
	// leafBinned)
	bins []int
}

// leafBinned walks t for training row i using its bins.
func (tb *treeBuilder) leafBinned(t *Tree, i int) int {
	j := 0
	for t.Nodes[j].F >= 0 {
		n := &t.Nodes[j]
		if int(tb.cols[n.F][i]) <= tb.bins[j] {
			j = int(n.L)
		} else {
			j = int(n.R)
		}
	}
	return j
}

func (tb *treeBuilder) build(rows []int) Tree {
	var t Tree
	tb.bins = tb.bins[:0]
	tb.grow(&t, rows, 0)
	return t
}

func (tb *treeBuilder) grow(t *Tree, rows []int, depth int) int32 {
	var G, H float64
	for _, i := range rows {
		G += tb.grad[i]
		H += tb.hess[i]
	}
	lam := tb.cfg.Lambda
	id := int32(len(t.Nodes))
	t.Nodes = append(t.Nodes, GBDTNode{F: -1, V: -G / (H + lam) * tb.cfg.LR})
	tb.bins = append(tb.bins, -1)
	if depth >= tb.cfg.Depth || H < 2*tb.cfg.MinHess {
		return id
	}
	parent := G * G / (H + lam)
	bestGain, bestF, bestB := 1e-9, -1, -1
	nb := tb.cfg.Bins + 1
	hg, hh := make([]float64, nb), make([]float64, nb)
	for f, col := range tb.cols {
		clear(hg)
		clear(hh)
		for _, i := range rows {
			b := col[i]
			hg[b] += tb.grad[i]
			hh[b] += tb.hess[i]
		}
		var gl, hl float64
		for b := 0; b < len(tb.cuts[f]); b++ {
			gl += hg[b]
			hl += hh[b]
			hr := H - hl
			if hl < tb.cfg.MinHess {
				continue
			}
			if hr < tb.cfg.MinHess {
				break
			}
			gr := G - gl
			gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent
			if gain > bestGain {
				bestGain, bestF, bestB = gain, f, b
			}
		}
	}
	if bestF < 0 {
		return id
	}
	tb.gains[bestF] += bestGain
	var left, right []int
	col := tb.cols[bestF]
	for _, i := range rows {
		if int(col[i]) <= bestB {
			left = append(left, i)
		} else {
			right = append(right, i)
		}
	}
	t.Nodes[id].F = int32(bestF)
	t.Nodes[id].T = tb.cuts[bestF][bestB]
	tb.bins[id] = bestB
	l := tb.grow(t, left, depth+1)
	r := tb.grow(t, right, depth+1)
	t.Nodes[id].L, t.Nodes[id].R = l, r
	return id
}

// check reports whether every split reads an input below d and every child
// index is in range.
func (g *GBDT) check(d int) bool {
	if g.Outputs < 1 || len(g.Base) != g.Outputs || g.Inputs < 1 || g.Inputs > d {
		return false
	}
	for _, round := range g.Trees {
		if len(round) != g.Outputs {
			return false
		}
		for _, t := range round {
			if len(t.Nodes) == 0 {
				return false
			}
			for j, n := range t.Nodes {
				if n.F >= 0 && (int(n.F) >= g.Inputs || int(n.L) <= j || int(n.R) <= j || int(n.L) >= len(t.Nodes) || int(n.R) >= len(t.Nodes)) {
					return false
				}
			}
		}
	}
	return true
}
