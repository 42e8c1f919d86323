package producer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/label"
)

func TestMessagesRoutesAndTombstones(t *testing.T) {
	p, err := New(Config{Brokers: []string{"k:9092"}, Routes: []Route{{Segment: "at_risk", Change: label.Entered, Topic: "alerts.churn"}, {Segment: "high_value", Topic: "alerts.vip"}}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC)
	doc := &label.Doc{UserID: "u1", Version: 3, AsOf: at, Segments: []string{"dormant", "at_risk"}, Scores: map[string]float64{"churn_risk": 0.9}, Model: label.ModelRef{Name: "m", Version: "v"}}
	msgs, err := p.Messages([]label.Publication{
		{UserID: "u1", Label: doc, Changes: []label.Change{
			{UserID: "u1", Segment: "at_risk", Change: label.Entered, Version: 3, At: at},
			{UserID: "u1", Segment: "high_value", Change: label.Exited, Version: 3, At: at},
			{UserID: "u1", Segment: "active", Change: label.Exited, Version: 3, At: at},
		}},
		{UserID: "u2", Erased: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		got = append(got, m.Topic+"/"+string(m.Key)+"/"+h["segment"])
	}
	want := "segments.changes/u1/at_risk alerts.churn/u1/at_risk segments.changes/u1/high_value alerts.vip/u1/high_value segments.changes/u1/active segments.labels/u1/ segments.labels/u2/"
	if strings.Join(got, " ") != want {
		t.Fatalf("messages:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if msgs[len(msgs)-1].Value != nil {
		t.Fatal("erasure is not a tombstone")
	}
	var back label.Doc
	if err := json.Unmarshal(msgs[5].Value, &back); err != nil || back.Version != 3 || back.Segments[1] != "at_risk" {
		t.Fatalf("label document %s (%v)", msgs[5].Value, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Routes: []Route{{Topic: "x"}}}, "producer.routes[0].segment"},
		{Config{Routes: []Route{{Segment: "at_risk"}}}, "producer.routes[0].topic"},
		{Config{Routes: []Route{{Segment: "at_risk", Topic: "x", Change: "left"}}}, "producer.routes[0].change"},
		{Config{LabelsTopic: "a", ChangesTopic: "a"}, "producer.changes_topic"},
	} {
		tc.cfg.SetDefaults()
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}
