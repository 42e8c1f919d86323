package classifier_test

import (
	"math"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
)

// integrate is composite Simpson's rule of f over [a, b] with n (even)
// intervals.
func integrate(f func(float64) float64, a, b float64, n int) float64 {
	h := (b - a) / float64(n)
	s := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(a+float64(i)*h)
	}
	return s * h / 3
}

// gammaPDF is the Gamma(shape k, rate λ) density at v.
func gammaPDF(v, k, rate float64) float64 {
	lg, _ := math.Lgamma(k)
	return math.Exp(k*math.Log(rate) + (k-1)*math.Log(v) - rate*v - lg)
}

// TestGammaGammaLogLik checks the closed-form likelihood against the model
// itself, integrated numerically: the mean m of x transactions, each
// Gamma(p, ν), is Gamma(px, xν), and ν ~ Gamma(q, γ); so the density of
// m is ∫ Gamma(m; px, xν) Gamma(ν; q, γ) dν. The posterior mean of the
// transaction value p/ν is checked the same way.
func TestGammaGammaLogLik(t *testing.T) {
	for _, g := range []classifier.GammaGammaParams{{P: 2.5, Q: 3.5, Gamma: 400}, {P: 6.25, Q: 3.74, Gamma: 15.44}, {P: 0.8, Q: 1.6, Gamma: 30}} {
		for _, o := range []classifier.GGObs{{X: 1, M: 250}, {X: 3, M: 40}, {X: 12, M: 900}, {X: 1, M: 5}} {
			joint := func(nu float64) float64 {
				return gammaPDF(o.M, g.P*o.X, o.X*nu) * gammaPDF(nu, g.Q, g.Gamma)
			}
			// ν lives on the scale q/γ (prior) to px/(xm) (data): integrate
			// in log ν over a wide range
			lj := func(u float64) float64 { nu := math.Exp(u); return joint(nu) * nu }
			c := math.Log(g.Q / g.Gamma)
			lo, hi := c-25, c+25
			dens := integrate(lj, lo, hi, 40000)
			want := math.Log(dens)
			if got := g.LogLik(o); math.Abs(got-want) > 1e-6 {
				t.Errorf("%+v %+v: log-likelihood %.9f, integrated %.9f", g, o, got, want)
			}
			post := integrate(func(u float64) float64 { nu := math.Exp(u); return g.P / nu * joint(nu) * nu }, lo, hi, 40000) / dens
			if got := g.MeanSpend(o.X, o.M); math.Abs(got-post)/post > 1e-6 {
				t.Errorf("%+v %+v: mean spend %.6f, posterior mean %.6f", g, o, got, post)
			}
		}
		if !g.Valid() {
			t.Errorf("%+v not valid", g)
		}
		if got, want := g.MeanSpend(0, 0), g.P*g.Gamma/(g.Q-1); math.Abs(got-want) > 1e-12 {
			t.Errorf("population mean %v, want %v", got, want)
		}
	}
	if (classifier.GammaGammaParams{P: 1, Q: 0.9, Gamma: 1}).Valid() {
		t.Error("q <= 1 (no finite mean) is valid")
	}
}

// TestExpectedPurchases checks E[Y(t) | x, t_x, T] (evaluated after
// Euler's transformation) against the formula as FHL write it, summed
// directly, and its limits.
func TestExpectedPurchases(t *testing.T) {
	p := classifier.BGNBDParams{R: 0.68, Alpha: 9.4, A: 0.15, B: 3.3}
	direct := func(x, tx, T, t float64) float64 {
		a, b, r, al := p.A, p.B, p.R, p.Alpha
		z := t / (al + T + t)
		A, B, C := r+x, b+x, a+b+x-1
		sum, term := 1.0, 1.0
		for n := 0.0; n < 1e6; n++ {
			term *= (A + n) * (B + n) / ((C + n) * (n + 1)) * z
			sum += term
			if math.Abs(term) < 1e-16*sum {
				break
			}
		}
		num := (a + b + x - 1) / (a - 1) * (1 - math.Pow((al+T)/(al+T+t), r+x)*sum)
		den := 1.0
		if x > 0 {
			den += a / (b + x - 1) * math.Pow((al+T)/(al+tx), r+x)
		}
		return num / den
	}
	for _, c := range [][4]float64{{0, 0, 10, 12.86}, {0, 0, 80, 52.1}, {1, 5, 20, 12.86}, {4, 30, 40, 52.1}, {10, 60, 61, 12.86}} {
		got, want := p.ExpectedPurchases(c[0], c[1], c[2], c[3]), direct(c[0], c[1], c[2], c[3])
		if math.Abs(got-want) > 1e-9*math.Max(1, want) {
			t.Errorf("x=%g tx=%g T=%g t=%g: %.12f, direct %.12f", c[0], c[1], c[2], c[3], got, want)
		}
	}
	// more time, more purchases; none in no time; a lapsed frequent buyer
	// expects fewer than a recent one
	if p.ExpectedPurchases(3, 40, 50, 0) != 0 || p.ExpectedPurchases(3, 40, 50, 52) <= p.ExpectedPurchases(3, 40, 50, 13) {
		t.Error("not increasing in t")
	}
	if p.ExpectedPurchases(10, 10, 60, 13) >= p.ExpectedPurchases(10, 59, 60, 13) {
		t.Error("recency does not lower the expectation")
	}
	// ~P(buy) for a short horizon, as at most one purchase is likely
	if e, pb := p.ExpectedPurchases(2, 20, 30, 0.05), p.PBuy(2, 20, 30, 0.05); math.Abs(e-pb)/pb > 0.01 {
		t.Errorf("short horizon: E %.6f, P(buy) %.6f", e, pb)
	}
}

// TestCalibrationMonotone: the calibrated log-odds increase with the
// head's at every time of year, the seasonal offset is continuous through
// the year end and exact at the reference cutoffs, and a decreasing map
// is refused.
func TestCalibrationMonotone(t *testing.T) {
	c := &classifier.Calibration{A: 1.04, B: 0.13, FittedOn: time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC)}
	offs := []float64{0, 0.01, -0.34, -0.61, -0.35, 0.19, 0.92, 0.83, 0.64, 0.42, 0.33, 0.22}
	for i, o := range offs {
		c.Season = append(c.Season, classifier.SeasonPoint{Cutoff: time.Date(2010, time.Month(6+i), 1, 0, 0, 0, 0, time.UTC), Offset: o})
	}
	for d := 0; d < 800; d += 3 {
		at := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		prev := math.Inf(-1)
		for z := -8.0; z <= 8; z += 0.25 {
			l := c.Logit(z, at)
			if !(l > prev) {
				t.Fatalf("%s: logit %.3f -> %.3f not increasing", at.Format(time.DateOnly), z, l)
			}
			prev = l
		}
		if j := math.Abs(c.SeasonOffset(at) - c.SeasonOffset(at.Add(24*time.Hour))); j > 0.05 {
			t.Fatalf("%s: seasonal offset jumps by %.3f in a day", at.Format(time.DateOnly), j)
		}
	}
	for i, o := range offs {
		at := time.Date(2012, time.Month(6+i), 1, 0, 0, 0, 0, time.UTC)
		if got := c.SeasonOffset(at); math.Abs(got-o) > 0.02 {
			t.Errorf("%s: offset %.3f, reference %.3f", at.Format(time.DateOnly), got, o)
		}
	}
	if got := c.SeasonOffset(c.FittedOn); math.Abs(got) > 1e-9 {
		t.Errorf("offset %.6f at the validation cutoff", got)
	}
	if (&classifier.Calibration{A: -0.5}).Valid() || !(*classifier.Calibration)(nil).Valid() {
		t.Error("validity")
	}
}
