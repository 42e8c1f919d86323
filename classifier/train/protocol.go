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

// Automatic protocols: cutoffs chosen from the data's span.
const (
	// WarmupDays is how much history the first training cutoff has: it is
	// the first of a month at least this many days after the first event.
	WarmupDays = classifier.HorizonDays
	// MinTrainCutoffs is the fewest monthly training cutoffs a protocol
	// may have.
	MinTrainCutoffs = 3
)

// monthCeil is the first of a month at or after t's day (UTC).
func monthCeil(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	m := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	if m.Before(d) {
		m = m.AddDate(0, 1, 0)
	}
	return m
}

// latestCutoff is the latest first of a month c with c + HorizonDays <=
// end (the whole label window before end).
func latestCutoff(end time.Time) time.Time {
	c := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC)
	for c.AddDate(0, 0, classifier.HorizonDays).After(end) {
		c = c.AddDate(0, -1, 0)
	}
	return c
}

// span is the first event's day and the end of the data: midnight after
// the last event's day (the data cover [first, end)).
func span(first, last time.Time) (time.Time, time.Time) {
	f, l := first.UTC(), last.UTC()
	return time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, time.UTC), time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, time.UTC)
}

// protocolEnding is the protocol whose test cutoff is test: the validation
// cutoff is the latest first of a month whose label window ends by test,
// the training cutoffs every first of a month from start whose label
// windows end by the validation cutoff.
func protocolEnding(start, test time.Time) Protocol {
	p := Protocol{TestCutoff: test, ValCutoff: latestCutoff(test)}
	last := latestCutoff(p.ValCutoff)
	for c := start; !c.After(last); c = c.AddDate(0, 1, 0) {
		p.TrainCutoffs = append(p.TrainCutoffs, c)
	}
	return p
}

// ErrShortHistory is wrapped by the error AutoProtocol returns when the
// data are too short for the protocol.
var ErrShortHistory = fmt.Errorf("history too short for the protocol")

// AutoProtocol chooses the cutoffs from the span of the data (the first
// and last event times): the test cutoff is the latest first of a month
// whose HorizonDays label window the data cover (the last complete window), the
// validation cutoff the latest first of a month whose window ends by the
// test cutoff, and the training cutoffs are monthly, from the first of a
// month WarmupDays after the first event to the latest whose window ends
// by the validation cutoff. At least MinTrainCutoffs are needed; a shorter
// history gets an error (matching ErrShortHistory) saying until when the
// data would have to run.
func AutoProtocol(first, last time.Time) (Protocol, error) {
	f, end := span(first, last)
	start := monthCeil(f.AddDate(0, 0, WarmupDays))
	p := protocolEnding(start, latestCutoff(end))
	if len(p.TrainCutoffs) >= MinTrainCutoffs {
		return p, p.Validate()
	}
	// the shortest history that works from this first event
	lastTrain := start.AddDate(0, MinTrainCutoffs-1, 0)
	val := monthCeil(lastTrain.AddDate(0, 0, classifier.HorizonDays))
	test := monthCeil(val.AddDate(0, 0, classifier.HorizonDays))
	need := test.AddDate(0, 0, classifier.HorizonDays)
	return Protocol{}, fmt.Errorf("%w: the events span %s to %s (%d days); choosing cutoffs needs %d days of history before the first training cutoff (%s), %d monthly training cutoffs, a validation cutoff after the last one's %d-day label window (%s), a test cutoff after the validation window (%s) and the test cutoff's own window: events until %s at least (%d days from the first event; %d more)",
		ErrShortHistory, f.Format(time.DateOnly), end.AddDate(0, 0, -1).Format(time.DateOnly), int(end.Sub(f).Hours()/24),
		WarmupDays, start.Format(time.DateOnly), MinTrainCutoffs, classifier.HorizonDays, val.Format(time.DateOnly), test.Format(time.DateOnly),
		need.AddDate(0, 0, -1).Format(time.DateOnly), int(need.Sub(f).Hours()/24), int(need.Sub(end).Hours()/24))
}

// Backtests are up to n earlier protocols for rolling backtests of p: test
// cutoffs on the first of consecutive months going back from the latest
// whose label window ends by p's test cutoff (so no backtest sees p's
// test window), each with its own validation and training cutoffs chosen
// as AutoProtocol does, from the same first training cutoff; backtests
// with fewer than MinTrainCutoffs training cutoffs are not made.
func Backtests(p Protocol, n int) []Protocol {
	if len(p.TrainCutoffs) == 0 || p.TestCutoff.IsZero() {
		return nil
	}
	start := p.TrainCutoffs[0]
	var out []Protocol
	for t := latestCutoff(p.TestCutoff); len(out) < n; t = t.AddDate(0, -1, 0) {
		b := protocolEnding(start, t)
		if len(b.TrainCutoffs) < MinTrainCutoffs {
			break
		}
		out = append(out, b)
	}
	return out
}

// String lists the cutoffs.
func (p Protocol) String() string {
	s := "training"
	switch len(p.TrainCutoffs) {
	case 0:
		s += " none"
	case 1:
		s += " " + p.TrainCutoffs[0].Format(time.DateOnly)
	default:
		s += fmt.Sprintf(" %s..%s (%d monthly)", p.TrainCutoffs[0].Format(time.DateOnly), p.TrainCutoffs[len(p.TrainCutoffs)-1].Format(time.DateOnly), len(p.TrainCutoffs))
	}
	s += ", validation " + p.ValCutoff.Format(time.DateOnly)
	if !p.TestCutoff.IsZero() {
		s += ", test " + p.TestCutoff.Format(time.DateOnly)
	}
	return s
}

// LatestCutoff is the latest first of a month whose HorizonDays label
// window ends by end.
func LatestCutoff(end time.Time) time.Time { return latestCutoff(end.UTC()) }

// FirstTrainCutoff is the first training cutoff AutoProtocol chooses for
// data whose first event is at first: the first of a month WarmupDays
// after its day.
func FirstTrainCutoff(first time.Time) time.Time {
	f, _ := span(first, first)
	return monthCeil(f.AddDate(0, 0, WarmupDays))
}
