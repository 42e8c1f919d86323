package classifier

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

// GBDTConfig are the boosting hyper-parameters (classifier/train.FitGBDT);
// the model file records them with the defaults filled in.
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

// Leaf walks t for x and returns the leaf's node index.
func (t *Tree) Leaf(x []float64) int {
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
			out[k] += t.Nodes[t.Leaf(x)].V
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

// Valid reports whether every split reads an input below d and every child
// index is in range (Decode refuses trees that are not).
func (g *GBDT) Valid(d int) bool {
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
