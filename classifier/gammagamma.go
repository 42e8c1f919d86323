package classifier

import "math"

// GammaGammaParams are the parameters of the Gamma-Gamma spend model
// (Fader, Hardie and Lee 2005, "RFM and CLV: Using Iso-Value Curves for
// Customer Base Analysis"): a customer's transaction values are
// Gamma(P, ν) around its mean P/ν, and ν ~ Gamma(Q, Gamma) across
// customers. Here a transaction is a purchase day and its value the gross
// spend of that day (the profile keeps the total spend and the distinct
// purchase days, so a customer's mean is spend / purchase days over all of
// them, the first included).
type GammaGammaParams struct {
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`
	// LL is the log-likelihood at the fit and N the customers it was fitted on.
	LL float64 `json:"ll"`
	N  int     `json:"n"`
}

// GGObs is one customer's spend summary: X transactions (purchase days,
// at least 1) with mean value M (> 0).
type GGObs struct {
	X, M float64
}

// Valid reports whether the parameters define a model with a finite mean
// (Q > 1).
func (g GammaGammaParams) Valid() bool {
	return g.P > 0 && g.Q > 1 && g.Gamma > 0 && !math.IsInf(g.P+g.Q+g.Gamma, 0)
}

// LogLik is the log-density of the observed mean M of X transactions
// (FHL 2005, "RFM and CLV", eq. 3 with the sum of the values, X·M,
// replaced by its mean: the Jacobian X is included):
//
//	Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m^(px-1) · x^(px) / (γ + m x)^(px+q)
func (g GammaGammaParams) LogLik(o GGObs) float64 {
	p, q, v := g.P, g.Q, g.Gamma
	px := p * o.X
	a, _ := math.Lgamma(px + q)
	b, _ := math.Lgamma(px)
	c, _ := math.Lgamma(q)
	return a - b - c + q*math.Log(v) + (px-1)*math.Log(o.M) + px*math.Log(o.X) - (px+q)*math.Log(v+o.M*o.X)
}

// MeanSpend is E[transaction value | x transactions of mean m] (FHL 2005,
// eq. 5): a weighted mean of the population mean P·Gamma/(Q-1) and the
// customer's own mean, the customer's weight growing with x. With x = 0 it
// is the population mean.
func (g GammaGammaParams) MeanSpend(x, m float64) float64 {
	if x <= 0 || m <= 0 {
		return g.P * g.Gamma / (g.Q - 1)
	}
	return g.P * (g.Gamma + m*x) / (g.P*x + g.Q - 1)
}
