package classifier

import (
	"math"
	"sort"
	"time"
)

// Calibration maps the churn head's log-odds z to calibrated log-odds
//
//	A·z + B + Season(asOf)
//
// A and B are Platt scaling, fitted by maximum likelihood on the
// validation cutoff (A > 0, so the map is increasing). Season, when the
// history allowed it, moves the intercept with the time of year: the
// shift of the base rate between the validation cutoff's date a year
// earlier and each month of the year that followed it (SeasonPoint),
// linearly interpolated by the time of year of asOf. Without Season the
// map is the same all year.
type Calibration struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
	// FittedOn is the validation cutoff A and B were fitted on.
	FittedOn time.Time `json:"fitted_on"`
	// Season holds an offset for each reference cutoff (sorted by date,
	// twelve monthly cutoffs, the first exactly one year before FittedOn
	// with offset 0); empty: no seasonal term.
	Season []SeasonPoint `json:"season,omitempty"`
}

// SeasonPoint is the intercept shift observed at one reference cutoff:
// the log-odds to add to A·z + B so that the mean calibrated probability
// equals that cutoff's churn rate, minus the same at the first reference
// cutoff.
type SeasonPoint struct {
	Cutoff time.Time `json:"cutoff"`
	Offset float64   `json:"offset"`
}

// yearFrac is t's position in its calendar year, in [0, 1).
func yearFrac(t time.Time) float64 {
	t = t.UTC()
	start := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	return t.Sub(start).Seconds() / end.Sub(start).Seconds()
}

// SeasonOffset is the seasonal intercept at asOf (0 without a seasonal
// term): piecewise linear over the time of year through the reference
// cutoffs, wrapping around the year end.
func (c *Calibration) SeasonOffset(asOf time.Time) float64 {
	if c == nil || len(c.Season) == 0 || asOf.IsZero() {
		return 0
	}
	type pt struct{ f, o float64 }
	// on the stack for the usual twelve points, sorted by insertion: this
	// runs for every scored profile
	var buf [16]pt
	pts := buf[:0]
	for _, s := range c.Season {
		p := pt{yearFrac(s.Cutoff), s.Offset}
		i := len(pts)
		pts = append(pts, p)
		for i > 0 && pts[i-1].f > p.f {
			pts[i] = pts[i-1]
			i--
		}
		pts[i] = p
	}
	f := yearFrac(asOf)
	n := len(pts)
	if n == 1 {
		return pts[0].o
	}
	// the segment [lo, hi] around f, cyclically
	hi := sort.Search(n, func(i int) bool { return pts[i].f > f })
	lo := hi - 1
	var flo, fhi float64
	switch hi {
	case 0:
		lo, hi = n-1, 0
		flo, fhi = pts[lo].f-1, pts[hi].f
	case n:
		lo, hi = n-1, 0
		flo, fhi = pts[lo].f, pts[hi].f+1
	default:
		flo, fhi = pts[lo].f, pts[hi].f
	}
	if fhi <= flo {
		return pts[lo].o
	}
	w := (f - flo) / (fhi - flo)
	return pts[lo].o + w*(pts[hi].o-pts[lo].o)
}

// Logit is the calibrated log-odds of raw log-odds z at asOf (z itself
// for a nil Calibration).
func (c *Calibration) Logit(z float64, asOf time.Time) float64 {
	if c == nil {
		return z
	}
	return c.A*z + c.B + c.SeasonOffset(asOf)
}

// Valid reports whether the map is increasing and finite.
func (c *Calibration) Valid() bool {
	if c == nil {
		return true
	}
	if !(c.A > 0) || math.IsInf(c.A, 0) || math.IsNaN(c.B) || math.IsInf(c.B, 0) {
		return false
	}
	for _, s := range c.Season {
		if math.IsNaN(s.Offset) || math.IsInf(s.Offset, 0) {
			return false
		}
	}
	return true
}
