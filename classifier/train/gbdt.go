package train

import (
	"math"
	"sort"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/internal/num"
)

// gbdtDefaults fills the zero fields of c with the defaults documented on
// classifier.GBDTConfig.
func gbdtDefaults(c *classifier.GBDTConfig) {
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

// gbdtProbs turns g's logits z into class probabilities (binary: 2
// classes).
func gbdtProbs(g *classifier.GBDT, z []float64, out []float64) []float64 {
	if g.Outputs == 1 {
		p := 1 / (1 + math.Exp(-z[0]))
		out[0], out[1] = 1-p, p
		return out
	}
	copy(out, z)
	num.SoftmaxInPlace(out[:g.Outputs])
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
func FitGBDT(X [][]float64, y []int, Xv [][]float64, yv []int, classes, d int, cfg classifier.GBDTConfig) *classifier.GBDT {
	gbdtDefaults(&cfg)
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
	g := &classifier.GBDT{Outputs: outs, Base: make([]float64, outs), Config: cfg, Inputs: d, Gains: make([]float64, d)}
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
			gbdtProbs(g, Fv[i], pv)
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
			gbdtProbs(g, F[i], P[i])
		}
		round := make([]classifier.Tree, outs)
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
				Fv[i][k] += t.Nodes[t.Leaf(Xv[i])].V
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
	g.Log = classifier.FitLog{Epochs: min(r, cfg.MaxRounds), BestEpoch: bestRound, ValLoss: best}
	return g
}

type treeBuilder struct {
	cols       [][]uint8
	cuts       [][]float64
	cfg        classifier.GBDTConfig
	grad, hess []float64
	gains      []float64
	// split thresholds as bins, per node of the tree being built (for
	// leafBinned)
	bins []int
}

// leafBinned walks t for training row i using its bins.
func (tb *treeBuilder) leafBinned(t *classifier.Tree, i int) int {
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

func (tb *treeBuilder) build(rows []int) classifier.Tree {
	var t classifier.Tree
	tb.bins = tb.bins[:0]
	tb.grow(&t, rows, 0)
	return t
}

func (tb *treeBuilder) grow(t *classifier.Tree, rows []int, depth int) int32 {
	var G, H float64
	for _, i := range rows {
		G += tb.grad[i]
		H += tb.hess[i]
	}
	lam := tb.cfg.Lambda
	id := int32(len(t.Nodes))
	t.Nodes = append(t.Nodes, classifier.GBDTNode{F: -1, V: -G / (H + lam) * tb.cfg.LR})
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
