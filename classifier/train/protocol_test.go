package train

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestAutoProtocolLongHistory: the Online Retail span gives the cutoffs
// the earlier releases fixed by hand where the rule allows (the first
// training cutoff, the test cutoff), and rolling backtests whose windows
// end by the test cutoff.
func TestAutoProtocolLongHistory(t *testing.T) {
	first := time.Date(2009, 12, 1, 7, 45, 0, 0, time.UTC)
	last := time.Date(2011, 12, 9, 12, 50, 0, 0, time.UTC)
	p, err := AutoProtocol(first, last)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "training 2010-03-01..2011-03-01 (13 monthly), validation 2011-06-01, test 2011-09-01" {
		t.Fatalf("protocol %s", got)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	bts := Backtests(p, 4)
	var tests []string
	for _, b := range bts {
		if err := b.Validate(); err != nil {
			t.Fatal(err)
		}
		if b.TestCutoff.AddDate(0, 0, 90).After(p.TestCutoff) {
			t.Errorf("backtest %s: its label window runs into the test window", b)
		}
		if b.TrainCutoffs[0] != p.TrainCutoffs[0] || len(b.TrainCutoffs) < MinTrainCutoffs {
			t.Errorf("backtest %s: training cutoffs", b)
		}
		tests = append(tests, b.TestCutoff.Format(time.DateOnly))
	}
	if got := strings.Join(tests, " "); got != "2011-06-01 2011-05-01 2011-04-01 2011-03-01" {
		t.Fatalf("backtest test cutoffs %s", got)
	}
	// February is short: 90 days from 2011-02-01 end after 2011-05-01, so
	// that backtest validates on 2011-01-01.
	if bts[1].ValCutoff != day("2011-01-01") {
		t.Errorf("backtest %s", bts[1])
	}
	if n := len(Backtests(p, 100)); n < 4 || n > 12 {
		t.Errorf("%d backtests at most", n)
	}
}

// TestAutoProtocolShortHistory: a month of clickstream (the REES46
// sample's span) is refused with what it would take; the shortest history
// that works is accepted, a day less is not.
func TestAutoProtocolShortHistory(t *testing.T) {
	first := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	_, err := AutoProtocol(first, first.Add(17*time.Minute))
	if !errors.Is(err, ErrShortHistory) {
		t.Fatalf("err %v", err)
	}
	for _, s := range []string{"2019-10-01 to 2019-10-01 (1 days)", "events until 2020-11-29 at least", "425 more", "3 monthly training cutoffs"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	// the shortest: events until 2020-11-29 inclusive
	p, err := AutoProtocol(first, day("2020-11-29").Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "training 2020-01-01..2020-03-01 (3 monthly), validation 2020-06-01, test 2020-09-01" {
		t.Fatalf("shortest protocol %s", got)
	}
	if len(Backtests(p, 4)) != 0 {
		t.Error("backtests from the shortest history")
	}
	if _, err := AutoProtocol(first, day("2020-11-28").Add(12*time.Hour)); !errors.Is(err, ErrShortHistory) {
		t.Fatalf("a day short: %v", err)
	}
	// no seasonal reference year in so short a history
	if SeasonCutoffs(first, p.ValCutoff) != nil {
		t.Error("seasonal reference cutoffs from 8 months of history")
	}
	if got := SeasonCutoffs(time.Date(2009, 12, 1, 7, 45, 0, 0, time.UTC), day("2011-06-01")); len(got) != 12 || got[0] != day("2010-06-01") || got[11] != day("2011-05-01") {
		t.Errorf("reference cutoffs %v", got)
	}
}
