package train

import (
	"math"
	"math/rand/v2"

	"github.com/segstream/segstream/classifier"
)

// SoftmaxLoss is m's sample-weighted mean cross-entropy over rows idx (all
// when nil) plus L2/2·‖W‖² (biases are not penalised). When grad is non-nil
// it receives the gradient with respect to m.W.
func SoftmaxLoss(m *classifier.Softmax, X [][]float64, y []int, sw []float64, l2 float64, idx []int, grad []float64) float64 {
	if grad != nil {
		clear(grad)
	}
	p := make([]float64, m.Classes)
	var loss, wsum float64
	n := len(X)
	if idx != nil {
		n = len(idx)
	}
	for ii := 0; ii < n; ii++ {
		i := ii
		if idx != nil {
			i = idx[ii]
		}
		w := 1.0
		if sw != nil {
			w = sw[i]
		}
		m.Probs(X[i], p)
		loss -= w * math.Log(math.Max(p[y[i]], 1e-300))
		wsum += w
		if grad != nil {
			for k := 0; k < m.Classes; k++ {
				d := p[k]
				if k == y[i] {
					d--
				}
				d *= w
				g := grad[k*(m.Dim+1) : (k+1)*(m.Dim+1)]
				for j, v := range X[i] {
					g[j] += d * v
				}
				g[m.Dim] += d
			}
		}
	}
	if wsum == 0 {
		wsum = 1
	}
	loss /= wsum
	var reg float64
	for k := 0; k < m.Classes; k++ {
		row := m.Row(k)
		for j := 0; j < m.Dim; j++ {
			reg += row[j] * row[j]
		}
	}
	loss += 0.5 * l2 * reg
	if grad != nil {
		for i := range grad {
			grad[i] /= wsum
		}
		for k := 0; k < m.Classes; k++ {
			g := grad[k*(m.Dim+1) : (k+1)*(m.Dim+1)]
			row := m.Row(k)
			for j := 0; j < m.Dim; j++ {
				g[j] += l2 * row[j]
			}
		}
	}
	return loss
}

// softmaxDefaults fills the zero fields of c with the defaults documented
// on classifier.TrainConfig.
func softmaxDefaults(c *classifier.TrainConfig) {
	if c.L2 == 0 {
		c.L2 = 1e-4
	}
	if c.LR == 0 {
		c.LR = 0.01
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.MaxEpochs == 0 {
		c.MaxEpochs = 200
	}
	if c.Patience == 0 {
		c.Patience = 10
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// ClassWeights returns balanced class weights n/(classes·n_k) for y.
func ClassWeights(y []int, classes int) []float64 {
	cnt := make([]float64, classes)
	for _, v := range y {
		cnt[v]++
	}
	w := make([]float64, classes)
	for k := range w {
		if cnt[k] > 0 {
			w[k] = float64(len(y)) / (float64(classes) * cnt[k])
		}
	}
	return w
}

// FitSoftmax trains a softmax regression on (X, y) by mini-batch Adam and
// keeps the weights of the epoch with the lowest validation loss, stopping
// after Patience epochs without improvement. The same config, data and
// seed give the same weights.
func FitSoftmax(X [][]float64, y []int, Xv [][]float64, yv []int, classes int, cfg classifier.TrainConfig) (*classifier.Softmax, classifier.FitLog) {
	softmaxDefaults(&cfg)
	dim := len(X[0])
	m := classifier.NewSoftmax(classes, dim)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5e65747265616d))
	for i := range m.W {
		m.W[i] = 0.01 * rng.NormFloat64()
	}
	var sw, swv []float64
	if cfg.Balanced {
		cw := ClassWeights(y, classes)
		sw = make([]float64, len(y))
		for i, v := range y {
			sw[i] = cw[v]
		}
		swv = make([]float64, len(yv))
		for i, v := range yv {
			swv[i] = cw[v]
		}
	}
	grad := make([]float64, len(m.W))
	mom := make([]float64, len(m.W))
	vel := make([]float64, len(m.W))
	const b1, b2, eps = 0.9, 0.999, 1e-8
	step := 0
	order := make([]int, len(X))
	for i := range order {
		order[i] = i
	}
	best := append([]float64(nil), m.W...)
	bestLoss := math.Inf(1)
	log := classifier.FitLog{}
	bad := 0
	for ep := 1; ep <= cfg.MaxEpochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for s := 0; s < len(order); s += cfg.Batch {
			e := min(s+cfg.Batch, len(order))
			SoftmaxLoss(m, X, y, sw, cfg.L2, order[s:e], grad)
			step++
			c1 := 1 - math.Pow(b1, float64(step))
			c2 := 1 - math.Pow(b2, float64(step))
			for i, g := range grad {
				mom[i] = b1*mom[i] + (1-b1)*g
				vel[i] = b2*vel[i] + (1-b2)*g*g
				m.W[i] -= cfg.LR * (mom[i] / c1) / (math.Sqrt(vel[i]/c2) + eps)
			}
		}
		log.Epochs = ep
		vl := SoftmaxLoss(m, Xv, yv, swv, 0, nil, nil)
		if vl < bestLoss-1e-6 {
			bestLoss = vl
			copy(best, m.W)
			log.BestEpoch = ep
			log.ValLoss = vl
			bad = 0
		} else if bad++; bad >= cfg.Patience {
			break
		}
	}
	copy(m.W, best)
	log.TrainLoss = SoftmaxLoss(m, X, y, sw, cfg.L2, nil, nil)
	return m, log
}
