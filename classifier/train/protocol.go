package train

import (
	"fmt"
	"time"

	"github.com/segstream/segstream/classifier"
)

// Protocol is the out-of-time evaluation protocol: train on TrainCutoffs,
// choose everything (epochs, L2, class weights, thresholds) on ValCutoff,
// report once on TestCutoff.
type Protocol struct {
	TrainCutoffs []time.Time
	ValCutoff    time.Time
	TestCutoff   time.Time
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// DefaultProtocol trains at the first of every month from 2010-03-01 to
// 2010-12-01 (their label windows end before the validation cutoff),
// validates at 2011-03-01 and tests at 2011-09-01.
func DefaultProtocol() Protocol {
	var tr []time.Time
	for m := date(2010, 3, 1); !m.After(date(2010, 12, 1)); m = m.AddDate(0, 1, 0) {
		tr = append(tr, m)
	}
	return Protocol{TrainCutoffs: tr, ValCutoff: date(2011, 3, 1), TestCutoff: date(2011, 9, 1)}
}

// Validate checks the protocol for leaks: every training label window must
// end by the validation cutoff, whose window must end by the test cutoff.
func (p Protocol) Validate() error {
	if len(p.TrainCutoffs) == 0 || p.ValCutoff.IsZero() {
		return fmt.Errorf("protocol: need training cutoffs and a validation cutoff")
	}
	for _, c := range p.TrainCutoffs {
		if c.AddDate(0, 0, classifier.HorizonDays).After(p.ValCutoff) {
			return fmt.Errorf("protocol: training cutoff %s: its %d-day label window runs past the validation cutoff %s", c.Format(time.DateOnly), classifier.HorizonDays, p.ValCutoff.Format(time.DateOnly))
		}
	}
	if !p.TestCutoff.IsZero() && p.ValCutoff.AddDate(0, 0, classifier.HorizonDays).After(p.TestCutoff) {
		return fmt.Errorf("protocol: validation label window runs past the test cutoff %s", p.TestCutoff.Format(time.DateOnly))
	}
	return nil
}
