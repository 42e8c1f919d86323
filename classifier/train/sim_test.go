package train

import (
	"math"
	"math/rand/v2"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
)

// DefaultLimitsForTest are the service's profile limits.
var DefaultLimitsForTest = featurestore.DefaultLimits

// simulateBGNBD draws n customers from the BG/NBD process over T weeks.
func simulateBGNBD(p classifier.BGNBDParams, n int, T float64, seed uint64) []classifier.BGNBDObs {
	rng := rand.New(rand.NewPCG(seed, 1))
	gamma := func(k float64) float64 { // Marsaglia-Tsang, with the k<1 boost
		if k < 1 {
			return gammaDraw(rng, k+1) * math.Pow(rng.Float64(), 1/k)
		}
		return gammaDraw(rng, k)
	}
	out := make([]classifier.BGNBDObs, n)
	for i := range out {
		lam := gamma(p.R) / p.Alpha
		x1, x2 := gamma(p.A), gamma(p.B)
		drop := x1 / (x1 + x2)
		var t, last float64
		x := 0
		for {
			t += rng.ExpFloat64() / lam
			if t > T {
				break
			}
			x++
			last = t
			if rng.Float64() < drop {
				break
			}
		}
		out[i] = classifier.BGNBDObs{X: float64(x), TX: last, T: T}
	}
	return out
}

func gammaDraw(rng *rand.Rand, k float64) float64 {
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}
