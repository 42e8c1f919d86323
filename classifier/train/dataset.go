package train

import (
	"fmt"
	"sort"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
)

// HighTierShare is the share of a cutoff's spenders labelled high.
const HighTierShare = 0.20

// Example is one customer at one cutoff: the profile as of the cutoff,
// folded from the events before it, and the labels from the
// classifier.HorizonDays days starting at it.
type Example struct {
	UserID string
	Cutoff time.Time
	View   featurestore.View
	// History is the profile's purchase days as of the cutoff.
	History classifier.History
	// Obs is the exact BG/NBD summary from the profile (purchase days).
	Obs classifier.BGNBDObs
	// Churn is 1 when the customer made no purchase in the label window.
	Churn int
	// Spend is the gross purchase amount in the label window (currency units).
	Spend float64
	// Tier is classifier.TierNone, TierMid or TierHigh.
	Tier int
	// Profile is a copy of the folded profile as of the cutoff, kept for
	// the validation and test cutoffs only (segment definitions read it).
	Profile *featurestore.Profile
}

// Set is the point-in-time data set of one cutoff.
type Set struct {
	Cutoff   time.Time
	Examples []Example
}

// ChurnRate is the share of examples without a purchase in the window.
func (s *Set) ChurnRate() float64 {
	if len(s.Examples) == 0 {
		return 0
	}
	n := 0
	for i := range s.Examples {
		n += s.Examples[i].Churn
	}
	return float64(n) / float64(len(s.Examples))
}

// BuildSets folds evs (in event-time order) with featurestore's Profile.Apply
// — the fold the service uses — and snapshots every customer with at least
// one purchase before each cutoff. Cutoffs must be ascending. Labels come
// from the events in [cutoff, cutoff+classifier.HorizonDays days); nothing
// at or after the cutoff reaches the profile.
func BuildSets(evs []*events.Event, cutoffs []time.Time, lim featurestore.Limits) ([]Set, error) {
	return buildSets(evs, cutoffs, lim, nil)
}

// buildSets is BuildSets; the examples of the cutoffs in keep also hold a
// copy of their profile.
func buildSets(evs []*events.Event, cutoffs []time.Time, lim featurestore.Limits, keep map[time.Time]bool) ([]Set, error) {
	lim = lim.WithDefaults()
	for i := 1; i < len(cutoffs); i++ {
		if !cutoffs[i].After(cutoffs[i-1]) {
			return nil, fmt.Errorf("cutoffs must be ascending: %s after %s", cutoffs[i].Format(time.DateOnly), cutoffs[i-1].Format(time.DateOnly))
		}
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].TS.Before(evs[i-1].TS) {
			return nil, fmt.Errorf("events must be in event-time order (event %d at %s before %s)", i, evs[i].TS, evs[i-1].TS)
		}
	}
	profiles := map[string]*featurestore.Profile{}
	var users []string
	next := 0
	sets := make([]Set, 0, len(cutoffs))
	for _, c := range cutoffs {
		for next < len(evs) && evs[next].TS.Before(c) {
			ev := evs[next]
			p := profiles[ev.UserID]
			if p == nil {
				p = &featurestore.Profile{}
				profiles[ev.UserID] = p
				users = append(users, ev.UserID)
			}
			p.Apply(ev, featurestore.Mark{}, lim)
			next++
		}
		// Labels: purchases in [c, c+horizon).
		end := c.AddDate(0, 0, classifier.HorizonDays)
		spend := map[string]float64{}
		for j := next; j < len(evs) && evs[j].TS.Before(end); j++ {
			if evs[j].Type == events.TypePurchase {
				spend[evs[j].UserID] += float64(evs[j].Amount()) / 100
			}
		}
		set := Set{Cutoff: c}
		sorted := append([]string(nil), users...)
		sort.Strings(sorted)
		for _, u := range sorted {
			p := profiles[u]
			if p.LastPurchase == 0 {
				continue
			}
			ex := Example{UserID: u, Cutoff: c, View: featurestore.NewView(p, c), History: classifier.HistoryOf(p), Obs: obsFromProfile(p, c)}
			if keep[c] {
				ex.Profile = p.Clone()
			}
			s, ok := spend[u]
			ex.Spend = s
			if !ok {
				ex.Churn = 1
			}
			set.Examples = append(set.Examples, ex)
		}
		assignTiers(set.Examples)
		sets = append(sets, set)
	}
	return sets, nil
}

// assignTiers labels the top HighTierShare of spenders high (ties by spend
// go the same way), other spenders mid, the rest none.
func assignTiers(exs []Example) {
	var spends []float64
	for i := range exs {
		if exs[i].Churn == 0 {
			spends = append(spends, exs[i].Spend)
		}
	}
	if len(spends) == 0 {
		return
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(spends)))
	k := int(float64(len(spends))*HighTierShare + 0.5)
	if k < 1 {
		k = 1
	}
	thr := spends[k-1]
	for i := range exs {
		switch {
		case exs[i].Churn == 1:
			exs[i].Tier = classifier.TierNone
		case exs[i].Spend >= thr:
			exs[i].Tier = classifier.TierHigh
		default:
			exs[i].Tier = classifier.TierMid
		}
	}
}

const secondsPerDay = 86400

// obsFromProfile is the BG/NBD summary at cutoff c: distinct purchase days
// (UTC) minus one, and the times of the last purchase and of the cutoff
// since the first purchase, in weeks.
func obsFromProfile(p *featurestore.Profile, c time.Time) classifier.BGNBDObs {
	const week = 7 * secondsPerDay
	return classifier.BGNBDObs{
		X:  float64(p.DistinctPurchaseDays() - 1),
		TX: float64(p.LastPurchase-p.FirstPurchase) / week,
		T:  float64(c.Unix()-p.FirstPurchase) / week,
	}
}

// Data is the point-in-time data of one protocol: the training, validation
// and (when the protocol has one) test sets, plus the event range they came
// from.
type Data struct {
	Train []Set
	Val   Set
	Test  *Set
	// Ref are the reference cutoffs of the seasonal calibration (see
	// SeasonCutoffs); empty when the history is too short for them.
	Ref        []Set
	FirstEvent time.Time
	LastEvent  time.Time
	Events     int
}

// SeasonCutoffs are the reference cutoffs of the seasonal calibration for
// a validation cutoff val: the first of each of the twelve months from one
// year before val, when all have at least SeasonHistoryDays of history
// after the first event (earlier cutoffs see a population whose history is
// cut off by the start of the data: everybody looks new); nil otherwise.
func SeasonCutoffs(firstEvent, val time.Time) []time.Time {
	if firstEvent.IsZero() {
		return nil
	}
	f, _ := span(firstEvent, firstEvent)
	r0 := val.AddDate(-1, 0, 0)
	if r0.Before(f.AddDate(0, 0, SeasonHistoryDays)) {
		return nil
	}
	out := make([]time.Time, 12)
	for i := range out {
		out[i] = r0.AddDate(0, i, 0)
	}
	return out
}

// SeasonHistoryDays is the least history (days since the first event) a
// reference cutoff of the seasonal calibration needs: two label windows.
const SeasonHistoryDays = 2 * classifier.HorizonDays

// BuildData folds evs once for every cutoff of p.
func BuildData(evs []*events.Event, p Protocol, lim featurestore.Limits) (*Data, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	d := &Data{Events: len(evs)}
	if len(evs) > 0 {
		d.FirstEvent, d.LastEvent = evs[0].TS.UTC(), evs[len(evs)-1].TS.UTC()
	}
	role := map[time.Time]string{}
	for _, c := range SeasonCutoffs(d.FirstEvent, p.ValCutoff) {
		role[c] = "ref"
	}
	for _, c := range p.TrainCutoffs {
		role[c] = "train"
	}
	role[p.ValCutoff] = "val"
	keep := map[time.Time]bool{p.ValCutoff: true}
	if !p.TestCutoff.IsZero() {
		role[p.TestCutoff] = "test"
		keep[p.TestCutoff] = true
	}
	cut := make([]time.Time, 0, len(role))
	for c := range role {
		cut = append(cut, c)
	}
	sort.Slice(cut, func(i, j int) bool { return cut[i].Before(cut[j]) })
	sets, err := buildSets(evs, cut, lim, keep)
	if err != nil {
		return nil, err
	}
	ref := map[time.Time]bool{}
	for _, c := range SeasonCutoffs(d.FirstEvent, p.ValCutoff) {
		ref[c] = true
	}
	for i := range sets {
		s := sets[i]
		if ref[s.Cutoff] {
			d.Ref = append(d.Ref, s)
		}
		switch role[s.Cutoff] {
		case "val":
			d.Val = s
		case "test":
			d.Test = &sets[i]
		case "train":
			d.Train = append(d.Train, s)
		}
	}
	return d, nil
}
