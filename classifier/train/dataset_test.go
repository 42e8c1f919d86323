package train

import (
	"math"
	"testing"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
)

// TestBuildSetsPointInTime checks that nothing at or after the cutoff
// reaches the profile and that labels match a direct count.
func TestBuildSetsPointInTime(t *testing.T) {
	evs := sliceEvents(t)
	c := time.Date(2010, 9, 1, 0, 0, 0, 0, time.UTC)
	sets, err := BuildSets(evs, []time.Time{c}, featurestore.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	end := c.AddDate(0, 0, classifier.HorizonDays)
	for _, e := range sets[0].Examples {
		if !e.View.LastSeen.Before(c) {
			t.Fatalf("user %s: last event %s not before the cutoff", e.UserID, e.View.LastSeen)
		}
		var bought bool
		var spend int64
		for _, ev := range evs {
			if ev.UserID == e.UserID && ev.Type == events.TypePurchase && !ev.TS.Before(c) && ev.TS.Before(end) {
				bought = true
				spend += ev.Amount()
			}
		}
		if bought == (e.Churn == 1) || math.Abs(float64(spend)/100-e.Spend) > 1e-6 {
			t.Fatalf("user %s: churn %d spend %.2f, direct count bought=%v spend %.2f", e.UserID, e.Churn, e.Spend, bought, float64(spend)/100)
		}
	}
}

func TestProtocolRefusesLeaks(t *testing.T) {
	p := DefaultProtocol()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.TrainCutoffs = append(p.TrainCutoffs, date(2011, 1, 1))
	if err := p.Validate(); err == nil {
		t.Fatal("a training label window past the validation cutoff was accepted")
	}
	p = DefaultProtocol()
	p.TestCutoff = date(2011, 4, 1)
	if err := p.Validate(); err == nil {
		t.Fatal("a validation label window past the test cutoff was accepted")
	}
}
