package train

import (
	"math"
	"sort"

	"github.com/segstream/segstream/classifier"
)

// TotalLogLik sums p.LogLik over customers: the likelihood FitBGNBD
// maximises.
func TotalLogLik(p classifier.BGNBDParams, obs []classifier.BGNBDObs) float64 {
	var s float64
	for _, o := range obs {
		s += p.LogLik(o)
	}
	return s
}

// FitBGNBD maximises the log-likelihood by Nelder-Mead on the logs of the
// parameters, starting from 1,1,1,1. It is deterministic.
func FitBGNBD(obs []classifier.BGNBDObs) classifier.BGNBDParams {
	f := func(v []float64) float64 {
		p := classifier.BGNBDParams{R: math.Exp(v[0]), Alpha: math.Exp(v[1]), A: math.Exp(v[2]), B: math.Exp(v[3])}
		ll := TotalLogLik(p, obs)
		if math.IsNaN(ll) || math.IsInf(ll, 0) {
			return math.Inf(1)
		}
		return -ll
	}
	best := nelderMead(f, []float64{0, 0, 0, 0}, 0.5, 4000, 1e-10)
	best = nelderMead(f, best, 0.05, 4000, 1e-12) // restart: guards against a collapsed simplex
	p := classifier.BGNBDParams{R: math.Exp(best[0]), Alpha: math.Exp(best[1]), A: math.Exp(best[2]), B: math.Exp(best[3]), N: len(obs)}
	p.LL = TotalLogLik(p, obs)
	return p
}

// nelderMead minimises f from x0 with initial step size step.
func nelderMead(f func([]float64) float64, x0 []float64, step float64, maxIter int, tol float64) []float64 {
	n := len(x0)
	type vert struct {
		x []float64
		f float64
	}
	s := make([]vert, n+1)
	for i := range s {
		x := append([]float64(nil), x0...)
		if i > 0 {
			x[i-1] += step
		}
		s[i] = vert{x, f(x)}
	}
	at := func(c []float64, d []float64, t float64) []float64 {
		out := make([]float64, n)
		for j := range out {
			out[j] = c[j] + t*(d[j]-c[j])
		}
		return out
	}
	for it := 0; it < maxIter; it++ {
		sort.SliceStable(s, func(i, j int) bool { return s[i].f < s[j].f })
		if math.Abs(s[n].f-s[0].f) <= tol*(math.Abs(s[0].f)+tol) {
			break
		}
		c := make([]float64, n)
		for i := 0; i < n; i++ {
			for j := range c {
				c[j] += s[i].x[j] / float64(n)
			}
		}
		xr := at(c, s[n].x, -1)
		fr := f(xr)
		switch {
		case fr < s[0].f:
			xe := at(c, s[n].x, -2)
			if fe := f(xe); fe < fr {
				s[n] = vert{xe, fe}
			} else {
				s[n] = vert{xr, fr}
			}
		case fr < s[n-1].f:
			s[n] = vert{xr, fr}
		default:
			xc := at(c, s[n].x, 0.5)
			if fr < s[n].f {
				xc = at(c, s[n].x, -0.5)
			}
			if fc := f(xc); fc < math.Min(fr, s[n].f) {
				s[n] = vert{xc, fc}
			} else {
				for i := 1; i <= n; i++ {
					s[i].x = at(s[0].x, s[i].x, 0.5)
					s[i].f = f(s[i].x)
				}
			}
		}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].f < s[j].f })
	return s[0].x
}
