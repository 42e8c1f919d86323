package classifier

import "math"

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

// ExpectedPurchases is E[Y(t) | x, t_x, T], the expected number of
// purchases (here: purchase days) in (T, T+t] of a customer with that
// history (FHL 2005, eq. 10). The Gaussian hypergeometric function is
// evaluated after Euler's transformation,
// (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)
// with z = t/(alpha+T+t), whose series converges quickly for any x.
func (p BGNBDParams) ExpectedPurchases(x, tx, T, t float64) float64 {
	if t <= 0 {
		return 0
	}
	r, al, a, b := p.R, p.Alpha, p.A, p.B
	if math.Abs(a-1) < 1e-9 {
		a = 1 + 1e-9 // the formula's removable singularity
	}
	c := a + b + x - 1
	if c <= 0 {
		// 2F1 is undefined here (a+b < 1 and no repeat purchase): the
		// expected purchases of a customer who stays alive, an upper bound.
		return p.PAlive(x, tx, T) * (r + x) / (al + T) * t
	}
	z := t / (al + T + t)
	h := math.Exp((a-1)*math.Log1p(-z)) * hyp2f1(a+b-1-r, a-1, c, z)
	num := (a + b + x - 1) / (a - 1) * (1 - h)
	den := 1.0
	if x > 0 {
		den += math.Exp(math.Log(a) - math.Log(b+x-1) + (r+x)*(math.Log(al+T)-math.Log(al+tx)))
	}
	return math.Max(num/den, 0)
}

// hyp2f1 is the Gaussian hypergeometric series 2F1(a, b; c; z) for
// 0 <= z < 1 and c > 0.
func hyp2f1(a, b, c, z float64) float64 {
	sum, term := 1.0, 1.0
	for n := 0.0; n < 1e5; n++ {
		term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
		sum += term
		if math.Abs(term) <= 1e-15*math.Abs(sum) {
			break
		}
	}
	return sum
}
