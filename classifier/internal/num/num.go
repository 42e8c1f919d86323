// Package num holds the few numeric routines that the classifier's serving
// code (package classifier) and its training (classifier/train) must
// compute identically: the softmax, the tier decision rule and the cosine
// similarity to a theme. It is internal so that sharing them adds nothing
// to the classifier's API.
package num

import "math"

// SoftmaxInPlace turns logits z into probabilities (max-shifted for
// stability).
func SoftmaxInPlace(z []float64) {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, v)
	}
	var s float64
	for i, v := range z {
		z[i] = math.Exp(v - mx)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}

// Argmax is the index of the largest value (the first of ties), -1 for an
// empty slice.
func Argmax(v []float64) int {
	bi := -1
	for i, x := range v {
		if bi < 0 || x > v[bi] {
			bi = i
		}
	}
	return bi
}

// ArgmaxOffset picks argmax_k log p_k + off_k (off nil: no offsets): the
// value head's tier decision.
func ArgmaxOffset(p []float64, off []float64) int {
	best, bk := math.Inf(-1), 0
	for k, v := range p {
		s := math.Log(math.Max(v, 1e-300))
		if off != nil {
			s += off[k]
		}
		if s > best {
			best, bk = s, k
		}
	}
	return bk
}

// Cosine32 is the cosine similarity of a and b (0 when either is zero).
func Cosine32(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return d / math.Sqrt(na*nb)
}
