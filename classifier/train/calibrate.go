package train

import (
	"math"
	"sort"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/metrics"
)

// FitPlatt fits Platt scaling, P(y=1) = σ(A·z + B), to log-odds z and
// labels y by maximum likelihood (Newton's method). A non-increasing fit
// (A <= 0: the scores do not rank) falls back to A = 1 and the intercept
// alone.
func FitPlatt(z []float64, y []int) (a, b float64) {
	a, b = 1, 0
	for it := 0; it < 100; it++ {
		var ga, gb, haa, hab, hbb float64
		for i, zi := range z {
			p := sigmoid(a*zi + b)
			d := p - float64(y[i])
			w := math.Max(p*(1-p), 1e-12)
			ga += d * zi
			gb += d
			haa += w * zi * zi
			hab += w * zi
			hbb += w
		}
		haa += 1e-9
		hbb += 1e-9
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		a, b = a-da, b-db
		if math.Abs(da)+math.Abs(db) < 1e-10 {
			break
		}
	}
	if !(a > 0) || math.IsNaN(b) {
		return 1, interceptShift(z, y)
	}
	return a, b
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// interceptShift is the β that makes the mean of σ(w + β) equal the
// positive rate of y (bisection; ±10 when the rate is 0 or 1).
func interceptShift(w []float64, y []int) float64 {
	if len(w) == 0 {
		return 0
	}
	var pos float64
	for _, v := range y {
		pos += float64(v)
	}
	rate := pos / float64(len(y))
	lo, hi := -10.0, 10.0
	for it := 0; it < 80; it++ {
		mid := (lo + hi) / 2
		var m float64
		for _, x := range w {
			m += sigmoid(x + mid)
		}
		if m/float64(len(w)) < rate {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// MinSeasonCustomers is the fewest customers a reference cutoff of the
// seasonal calibration needs.
const MinSeasonCustomers = 100

// fitCalibration fits the churn calibration of m on the validation cutoff
// (Platt scaling of the head's log-odds) and, with seasonal on and the
// twelve reference cutoffs of d (Data.Ref), its seasonal intercept: at
// each reference cutoff the intercept shift that calibrates its mean, minus
// that of the first (one year before validation). headLogits gives the
// head's log-odds of a set's examples.
func fitCalibration(d *Data, seasonal bool, headLogits func(exs []Example) []float64) *classifier.Calibration {
	zv := headLogits(d.Val.Examples)
	a, b := FitPlatt(zv, labels(d.Val.Examples, true))
	c := &classifier.Calibration{A: a, B: b, FittedOn: d.Val.Cutoff}
	if !seasonal || len(d.Ref) != 12 {
		return c
	}
	var base float64
	for i, s := range d.Ref {
		if len(s.Examples) < MinSeasonCustomers {
			c.Season = nil
			return c
		}
		z := headLogits(s.Examples)
		w := make([]float64, len(z))
		for j := range z {
			w[j] = a*z[j] + b
		}
		beta := interceptShift(w, labels(s.Examples, true))
		if i == 0 {
			base = beta
		}
		c.Season = append(c.Season, classifier.SeasonPoint{Cutoff: s.Cutoff, Offset: math.Round((beta-base)*1e6) / 1e6})
	}
	return c
}

// FitGammaGamma maximises the Gamma-Gamma log-likelihood by Nelder-Mead on
// the logs of the parameters, from p = 1, q = 2 and gamma = the mean of
// the customers' means (with a restart, as FitBGNBD). It is deterministic.
// Observations with X < 1 or M <= 0 are skipped.
func FitGammaGamma(obs []classifier.GGObs) classifier.GammaGammaParams {
	var use []classifier.GGObs
	var mean float64
	for _, o := range obs {
		if o.X >= 1 && o.M > 0 {
			use = append(use, o)
			mean += o.M
		}
	}
	if len(use) == 0 {
		return classifier.GammaGammaParams{}
	}
	mean /= float64(len(use))
	f := func(v []float64) float64 {
		p := classifier.GammaGammaParams{P: math.Exp(v[0]), Q: math.Exp(v[1]), Gamma: math.Exp(v[2])}
		ll := ggLogLik(p, use)
		if math.IsNaN(ll) || math.IsInf(ll, 0) {
			return math.Inf(1)
		}
		return -ll
	}
	best := nelderMead(f, []float64{0, math.Log(2), math.Log(mean)}, 0.5, 6000, 1e-12)
	best = nelderMead(f, best, 0.05, 6000, 1e-14)
	best = nelderMead(f, best, 0.005, 6000, 1e-15)
	p := classifier.GammaGammaParams{P: math.Exp(best[0]), Q: math.Exp(best[1]), Gamma: math.Exp(best[2]), N: len(use)}
	p.LL = ggLogLik(p, use)
	return p
}

func ggLogLik(p classifier.GammaGammaParams, obs []classifier.GGObs) float64 {
	var s float64
	for _, o := range obs {
		s += p.LogLik(o)
	}
	return s
}

// ggObs is the Gamma-Gamma summary of a customer at a cutoff, from the
// view (as the model computes it when scoring): purchase days and gross
// spend per purchase day.
func ggObs(e *Example) classifier.GGObs {
	n := float64(e.View.RFM.PurchaseDays)
	if n <= 0 {
		return classifier.GGObs{}
	}
	return classifier.GGObs{X: n, M: math.Max(e.View.RFM.Monetary, 0) / n}
}

func ggObsOf(exs []Example) []classifier.GGObs {
	o := make([]classifier.GGObs, len(exs))
	for i := range exs {
		o[i] = ggObs(&exs[i])
	}
	return o
}

// fitValueTier fits the value-tier model (classifier.ValueTierModel) of
// m, whose churn head, calibration and spend model are set: on the
// training rows that bought in their window, a logistic regression of
// "high" on the two standardised spend inputs, early-stopped on the
// validation rows that bought.
func fitValueTier(m *classifier.Model, tr, val []Example, seed uint64) *classifier.ValueTierModel {
	in := func(exs []Example) ([][2]float64, []int) {
		var U [][2]float64
		var y []int
		for i := range exs {
			if exs[i].Churn == 1 {
				continue
			}
			s := m.ScoreHistory(exs[i].View, exs[i].History, nil)
			if s.SpendPerDay <= 0 {
				continue
			}
			cond := s.Purchases90d / math.Max(1-s.ChurnRisk, 1e-9)
			U = append(U, [2]float64{math.Log(math.Max(cond, 1e-9)), math.Log(s.SpendPerDay)})
			hi := 0
			if exs[i].Tier == classifier.TierHigh {
				hi = 1
			}
			y = append(y, hi)
		}
		return U, y
	}
	U, y := in(tr)
	Uv, yv := in(val)
	if len(U) < 10 || len(Uv) < 10 {
		return nil
	}
	vt := &classifier.ValueTierModel{}
	for j := 0; j < 2; j++ {
		var s, ss float64
		for _, u := range U {
			s += u[j]
		}
		vt.Mean[j] = s / float64(len(U))
		for _, u := range U {
			ss += (u[j] - vt.Mean[j]) * (u[j] - vt.Mean[j])
		}
		vt.Std[j] = math.Max(math.Sqrt(ss/float64(len(U))), 1e-9)
	}
	std := func(U [][2]float64) [][]float64 {
		X := make([][]float64, len(U))
		for i, u := range U {
			X[i] = []float64{(u[0] - vt.Mean[0]) / vt.Std[0], (u[1] - vt.Mean[1]) / vt.Std[1]}
		}
		return X
	}
	sm, _ := FitSoftmax(std(U), y, std(Uv), yv, 2, classifier.TrainConfig{L2: 1e-4, Seed: seed})
	r0, r1 := sm.Row(0), sm.Row(1)
	vt.W = [3]float64{r1[0] - r0[0], r1[1] - r0[1], r1[2] - r0[2]}
	return vt
}

// AtRiskShare is the default share of the validation cutoff's active
// customers (a purchase in the last ActiveDays days) that the at_risk
// threshold is tuned to flag.
const AtRiskShare = 0.10

// ActiveDays: a customer with a purchase in the last ActiveDays days is
// active (the population the at_risk figures are shares of).
const ActiveDays = 90

// isActive says whether the customer bought within ActiveDays of the cutoff.
func isActive(e *Example) bool {
	r := e.View.RFM.RecencyDays
	return r != nil && *r <= ActiveDays
}

// tuneAtRisk chooses the at_risk threshold (Rules.AtRiskEnter) on the
// validation cutoff: the churn risk above which share of its active
// customers are flagged among those the at_risk definition admits
// regardless of risk (its membership with model["at_risk_enter"] at 0).
// It returns the threshold, or 0 when no customer is admitted.
func tuneAtRisk(risk []float64, eligible []bool, active int, share float64) float64 {
	var r []float64
	for i, ok := range eligible {
		if ok {
			r = append(r, risk[i])
		}
	}
	if len(r) == 0 || active == 0 {
		return 0
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(r)))
	k := int(math.Round(share * float64(active)))
	switch {
	case k <= 0:
		return math.Min(r[0]+1e-6, 0.999)
	case k >= len(r):
		return math.Max(r[len(r)-1], 0.001)
	}
	return math.Min(math.Max((r[k-1]+r[k])/2, 0.001), 0.999)
}

// AtRiskWeights are the BG/NBD weights the at_risk ranking tries
// (classifier.AtRiskRanking.W; 0 is the churn risk alone).
var AtRiskWeights = []float64{0, 0.25, 0.5, 1, 2, 4}

// AtRiskPoint is one BG/NBD weight of the at_risk ranking and the
// precision of its top share of the validation cutoff's active customers.
type AtRiskPoint struct {
	W, Precision float64
}

// atRiskGrid scores each of AtRiskWeights on set: the precision (share
// who buy nothing in the window) of the top share of its active
// customers ranked by c + W·b (Model.AtRiskInputs). It returns the
// points, the blend inputs and the labels of every example of set.
func atRiskGrid(m *classifier.Model, set *Set, embs map[string][]float32, cfg Config) (pts []AtRiskPoint, c, b []float64, y []int) {
	exs := set.Examples
	c, b, y = make([]float64, len(exs)), make([]float64, len(exs)), labels(exs, true)
	var act []int
	for i := range exs {
		s := m.ScoreHistory(exs[i].View, exs[i].History, embOf(embs, &exs[i], cfg.profileText))
		c[i], b[i] = m.AtRiskInputs(&s)
		if isActive(&exs[i]) {
			act = append(act, i)
		}
	}
	k := int(math.Round(cfg.AtRiskShare * float64(len(act))))
	ya := make([]int, len(act))
	for j, i := range act {
		ya[j] = y[i]
	}
	v := make([]float64, len(act))
	for _, w := range AtRiskWeights {
		for j, i := range act {
			v[j] = c[i] + w*b[i]
		}
		pts = append(pts, AtRiskPoint{W: w, Precision: metrics.PrecisionAtK(v, ya, k)})
	}
	return pts, c, b, y
}

// bestAtRiskPoint is the point of highest precision, the first (smallest
// weight) among equals: a weight must flag at least one more churner than
// every smaller one to be chosen. NaN precisions (no active customer)
// are never chosen over the first point.
func bestAtRiskPoint(pts []AtRiskPoint) AtRiskPoint {
	best := pts[0]
	for _, p := range pts[1:] {
		if p.Precision > best.Precision+1e-9 {
			best = p
		}
	}
	return best
}

// fitAtRiskRanking chooses the at_risk ranking of m (its churn head and
// calibration set) on the validation cutoff set: the weight of
// AtRiskWeights whose blend has the highest precision at the top
// AtRiskShare of the active customers (a tie goes to the smaller
// weight: the churn risk alone unless BG/NBD adds something), then
// Platt scaling of that blend on every validation customer, so the score
// is a calibrated probability like the churn risk. The top share is the
// criterion because it is what the segment flags at the tuned threshold;
// the two models rank the top of the recently active customers
// differently enough that neither dominates (EXPERIMENTS.md, #8). Weight
// 0 gives nil: the at_risk score is then the churn risk itself.
func fitAtRiskRanking(m *classifier.Model, set *Set, embs map[string][]float32, cfg Config) *classifier.AtRiskRanking {
	pts, c, b, y := atRiskGrid(m, set, embs, cfg)
	for _, p := range pts {
		logf(cfg.Log, "  %s at_risk ranking: churn log-odds + %g x BG/NBD log-odds of no purchase: precision %.4f at the top %.0f%% of active customers (%s)\n",
			m.Name, p.W, p.Precision, 100*cfg.AtRiskShare, set.Cutoff.Format(time.DateOnly))
	}
	best := bestAtRiskPoint(pts)
	logf(cfg.Log, "%s: at_risk ranking: BG/NBD weight %g (validation precision at the top %.0f%% of active customers %.4f, churn risk alone %.4f)\n",
		m.Name, best.W, 100*cfg.AtRiskShare, best.Precision, pts[0].Precision)
	if best.W == 0 {
		return nil
	}
	v := make([]float64, len(c))
	for i := range c {
		v[i] = c[i] + best.W*b[i]
	}
	a, bb := FitPlatt(v, y)
	return &classifier.AtRiskRanking{W: best.W, A: a, B: bb}
}
