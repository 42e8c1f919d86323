package classifier

import "github.com/segstream/segstream/classifier/internal/num"

// Softmax is a multinomial logistic regression: class k's logit is
// W[k]·x + b[k]. W is stored row-major, Classes rows of Dim weights followed
// by the bias.
type Softmax struct {
	Classes int       `json:"classes"`
	Dim     int       `json:"dim"`
	W       []float64 `json:"w"`
}

// NewSoftmax returns a zero model.
func NewSoftmax(classes, dim int) *Softmax {
	return &Softmax{Classes: classes, Dim: dim, W: make([]float64, classes*(dim+1))}
}

// Row returns class k's weights followed by its bias.
func (m *Softmax) Row(k int) []float64 { return m.W[k*(m.Dim+1) : (k+1)*(m.Dim+1)] }

// Logits writes the class logits of x into out (len Classes) and returns it.
func (m *Softmax) Logits(x, out []float64) []float64 {
	for k := 0; k < m.Classes; k++ {
		row := m.Row(k)
		z := row[m.Dim]
		for j, v := range x {
			z += row[j] * v
		}
		out[k] = z
	}
	return out
}

// Probs writes the class probabilities of x into out and returns it.
func (m *Softmax) Probs(x, out []float64) []float64 {
	m.Logits(x, out)
	num.SoftmaxInPlace(out)
	return out
}

// TrainConfig tunes softmax training (classifier/train.FitSoftmax); the
// model file records it with the defaults filled in.
type TrainConfig struct {
	L2        float64 `json:"l2"`         // L2 penalty on weights; default 1e-4
	LR        float64 `json:"lr"`         // Adam step size; default 0.01
	Batch     int     `json:"batch"`      // mini-batch rows; default 256
	MaxEpochs int     `json:"max_epochs"` // default 200
	Patience  int     `json:"patience"`   // epochs without validation improvement before stopping; default 10
	Seed      uint64  `json:"seed"`       // initialisation and shuffling; default 1
	// Balanced weighs each class by n/(classes·n_k) in the loss.
	Balanced bool `json:"balanced"`
	// Seeds, when above 1, averages the weights of that many fits with
	// seeds Seed, Seed+1, ... (classifier/train.AverageSeeds).
	Seeds int `json:"seeds,omitempty"`
}

// FitLog reports how training went.
type FitLog struct {
	Epochs    int     `json:"epochs"`     // epochs run
	BestEpoch int     `json:"best_epoch"` // epoch whose weights were kept
	ValLoss   float64 `json:"val_loss"`   // validation loss at BestEpoch (sample-weighted like training, without L2)
	TrainLoss float64 `json:"train_loss"` // training loss at the end of BestEpoch (with L2)
}
