package classifier

import (
	"math"
	"sort"
)

// BGNBDParams are the four parameters of the BG/NBD model (Fader, Hardie
// and Lee 2005, "Counting Your Customers the Easy Way"): purchase rates
// λ ~ Gamma(R, Alpha) while alive, and after each purchase the customer
// drops out with probability p ~ Beta(A, B). Time is in weeks.
type BGNBDParams struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
	// LL is the log-likelihood at the fit and N the customers it was fitted on.
	LL float64 `json:"ll"`
	N  int     `json:"n"`
}

// BGNBDObs is one customer's calibration summary: X repeat transactions
// (distinct purchase days minus one), TX the time of the last and T the
// time of the cutoff, both measured from the first purchase, in weeks.
type BGNBDObs struct {
	X, TX, T float64
}

func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// LogLik is the BG/NBD log-likelihood of one customer (FHL 2005, eq. 6).
func (p BGNBDParams) LogLik(o BGNBDObs) float64 {
	r, al, a, b := p.R, p.Alpha, p.A, p.B
	lgrx, _ := math.Lgamma(r + o.X)
	lgr, _ := math.Lgamma(r)
	a1 := lgrx - lgr + r*math.Log(al)
	a2 := lbeta(a, b+o.X) - lbeta(a, b)
	a3 := -(r + o.X) * math.Log(al+o.T)
	if o.X > 0 {
		a4 := math.Log(a) - math.Log(b+o.X-1) - (r+o.X)*math.Log(al+o.TX)
		m := math.Max(a3, a4)
		return a1 + a2 + m + math.Log(math.Exp(a3-m)+math.Exp(a4-m))
	}
	return a1 + a2 + a3
}

// TotalLogLik sums LogLik over customers.
func (p BGNBDParams) TotalLogLik(obs []BGNBDObs) float64 {
	var s float64
	for _, o := range obs {
		s += p.LogLik(o)
	}
	return s
}

// PAlive is P(still alive at T | x, t_x, T).
func (p BGNBDParams) PAlive(x, tx, T float64) float64 {
	if x <= 0 {
		return 1
	}
	lr := math.Log(p.A) - math.Log(p.B+x-1) + (p.R+x)*(math.Log(p.Alpha+T)-math.Log(p.Alpha+tx))
	return 1 / (1 + math.Exp(lr))
}

// PBuy is P(at least one purchase in (T, T+t] | x, t_x, T). Drop-out happens
// only right after a purchase, so a customer alive at T makes no purchase in
// the next t weeks with probability E[exp(-λt)] under the posterior
// λ ~ Gamma(r+x, α+T).
func (p BGNBDParams) PBuy(x, tx, T, t float64) float64 {
	none := math.Exp((p.R + x) * (math.Log(p.Alpha+T) - math.Log(p.Alpha+T+t)))
	return p.PAlive(x, tx, T) * (1 - none)
}

// FitBGNBD maximises the log-likelihood by Nelder-Mead on the logs of the
// parameters, starting from 1,1,1,1. It is deterministic.
func FitBGNBD(obs []BGNBDObs) BGNBDParams {
	f := func(v []float64) float64 {
		p := BGNBDParams{R: math.Exp(v[0]), Alpha: math.Exp(v[1]), A: math.Exp(v[2]), B: math.Exp(v[3])}
		ll := p.TotalLogLik(obs)
		if math.IsNaN(ll) || math.IsInf(ll, 0) {
			return math.Inf(1)
		}
		return -ll
	}
	best := nelderMead(f, []float64{0, 0, 0, 0}, 0.5, 4000, 1e-10)
	best = nelderMead(f, best, 0.05, 4000, 1e-12) // restart: guards against a collapsed simplex
	p := BGNBDParams{R: math.Exp(best[0]), Alpha: math.Exp(best[1]), A: math.Exp(best[2]), B: math.Exp(best[3]), N: len(obs)}
	p.LL = p.TotalLogLik(obs)
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
