package replay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/replay"
)

// At --speed 10, events one second apart in event time are sent 100 ms
// apart on the wall clock.
func TestSendPacesByEventTime(t *testing.T) {
	addr := testkit.Kafka(t, 1)
	base := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	var items []replay.Item
	for i := 0; i < 6; i++ {
		ev := &events.Event{EventID: fmt.Sprint("p", i), Type: events.TypeView, UserID: "u", TS: base.Add(time.Duration(i) * time.Second), ProductID: "p", Price: 1}
		b, _ := events.Encode(ev)
		items = append(items, replay.Item{Family: events.FamilyClickstream, Key: "u", Value: b, TS: ev.TS, Event: ev})
	}
	st, err := replay.Send(context.Background(), items, replay.SendConfig{Brokers: []string{addr}, Speed: 10,
		Topics: map[events.Family]string{events.FamilyClickstream: "events.clickstream"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 6 || st.Elapsed < 500*time.Millisecond || st.Elapsed > 3*time.Second {
		t.Fatalf("sent %d in %s, want 6 in about 500ms", st.Sent, st.Elapsed)
	}
	msgs := testkit.ReadTopic(t, addr, "events.clickstream")
	for i := 1; i < len(msgs); i++ {
		if gap := msgs[i].Time.Sub(msgs[i-1].Time); gap < 50*time.Millisecond {
			t.Errorf("messages %d and %d only %s apart", i-1, i, gap)
		}
	}
}
