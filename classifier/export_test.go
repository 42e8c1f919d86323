package classifier

import "github.com/segstream/segstream/classifier/internal/num"

// Internals the external tests (package classifier_test, which trains its
// models with classifier/train) read.

// Raw is s's numeric features before standardisation.
func (s Scores) Raw() []float64 { return s.raw }

// ValueLogits are the value head's class logits for s's inputs.
func ValueLogits(m *Model, s Scores) [3]float64 {
	var z [3]float64
	m.Value.valueLogits(s.input, z[:])
	return z
}

// Check is the consistency check Decode runs.
func (m *Model) Check() error { return m.check() }

// ApproxHistory is approxHistory.
var ApproxHistory = approxHistory

// Argmax is the index of the largest value.
var Argmax = num.Argmax
