package classifier

import (
	"math"
	"testing"
)

// bgnbdLikNumeric integrates the BG/NBD individual likelihood over the
// Gamma(r, α) prior on λ and the Beta(a, b) prior on p numerically, from
// the model's definition rather than the closed form:
// L(λ,p | x,t_x,T) = (1-p)^x λ^x e^{-λT} + δ(x>0) p (1-p)^{x-1} λ^x e^{-λ t_x}.
func bgnbdLikNumeric(p BGNBDParams, o BGNBDObs) float64 {
	lgr, _ := math.Lgamma(p.R)
	lbab := lbeta(p.A, p.B)
	// Substitutions u = λ/(1+λ) and p itself, midpoint rule on (0,1)².
	const n = 1500
	var s float64
	for i := 0; i < n; i++ {
		u := (float64(i) + 0.5) / n
		lam := u / (1 - u)
		jac := 1 / ((1 - u) * (1 - u))
		gam := math.Exp(p.R*math.Log(p.Alpha) + (p.R-1)*math.Log(lam) - p.Alpha*lam - lgr)
		alive := math.Pow(lam, o.X) * math.Exp(-lam*o.T)
		dead := 0.0
		if o.X > 0 {
			dead = math.Pow(lam, o.X) * math.Exp(-lam*o.TX)
		}
		var inner float64
		for j := 0; j < n; j++ {
			q := (float64(j) + 0.5) / n
			beta := math.Exp((p.A-1)*math.Log(q) + (p.B-1)*math.Log(1-q) - lbab)
			v := math.Pow(1-q, o.X) * alive
			if o.X > 0 {
				v += q * math.Pow(1-q, o.X-1) * dead
			}
			inner += beta * v / n
		}
		s += gam * jac * inner / n
	}
	return math.Log(s)
}

func TestBGNBDLogLikMatchesIntegration(t *testing.T) {
	// Parameters with a, b > 1 keep the Beta density bounded so the
	// midpoint rule is accurate.
	p := BGNBDParams{R: 1.3, Alpha: 4.5, A: 1.6, B: 3.2}
	for _, o := range []BGNBDObs{{X: 0, TX: 0, T: 20}, {X: 1, TX: 5, T: 30}, {X: 4, TX: 25.5, T: 40}, {X: 10, TX: 60, T: 61}} {
		got, want := p.LogLik(o), bgnbdLikNumeric(p, o)
		if math.Abs(got-want) > 2e-3 {
			t.Errorf("%+v: closed form %.6f, integral %.6f", o, got, want)
		}
	}
}

func TestBGNBDPBuyClosedForms(t *testing.T) {
	// P(X(T,T+t) = 0 | alive) integrates to the Gamma posterior formula; check
	// PBuy against the unconditional identity for x = 0 at T = 0:
	// P(>=1 in (0,t]) = 1 - (α/(α+t))^r (nobody can drop out before buying).
	p := BGNBDParams{R: 0.6, Alpha: 9, A: 0.2, B: 3}
	got := p.PBuy(0, 0, 0, 13)
	want := 1 - math.Pow(9.0/22.0, 0.6)
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("PBuy %.12f want %.12f", got, want)
	}
	if pa := p.PAlive(3, 10, 10); math.Abs(pa-1/(1+0.2/(3+2))) > 1e-12 {
		t.Fatalf("PAlive with t_x = T: %.12f", pa)
	}
}
