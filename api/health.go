package api

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Health is the body of GET /v1/health: whether the pipeline keeps up,
// as this instance sees it (its own partitions and metrics; the backlog
// is the whole deployment's).
type Health struct {
	// At is the labels' clock (event time), null before any event.
	At         *time.Time     `json:"at"`
	Consumer   HealthConsumer `json:"consumer"`
	Labels     HealthLabels   `json:"labels"`
	DeadLetter []DeadLetters  `json:"dead_letters"`
}

// HealthConsumer is the consumer's view: lag per owned partition and the
// messages read since start.
type HealthConsumer struct {
	Partitions []PartitionLag `json:"partitions"`
	EventsIn   int64          `json:"events_in"`
}

// PartitionLag is one owned partition's lag.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Lag       int64  `json:"lag"`
}

// HealthLabels is the label stage's view: event-to-label latency since
// start (from the histogram's buckets), users waiting, users labelled.
type HealthLabels struct {
	LatencyP50Ms     *float64 `json:"latency_p50_ms"`
	LatencyP99Ms     *float64 `json:"latency_p99_ms"`
	Backlog          int64    `json:"backlog"`
	InterestsBacklog int64    `json:"interests_backlog"`
	Evaluated        int64    `json:"evaluated"`
}

// DeadLetters counts the events sent to the dead-letter topic for one
// reason since start.
type DeadLetters struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ []string) {
	out := Health{Consumer: HealthConsumer{Partitions: []PartitionLag{}}, DeadLetter: []DeadLetters{}}
	if c, err := s.d.Labels.Clock(r.Context()); err == nil && !c.IsZero() {
		out.At = &c
	}
	labels, interests, err := s.d.Labels.Backlog(r.Context())
	if err != nil {
		s.internal(w, r, "reading the backlog", err)
		return
	}
	out.Labels.Backlog, out.Labels.InterestsBacklog = labels, interests
	if s.d.Metrics != nil {
		fams, err := s.d.Metrics.Gather()
		if err != nil {
			s.internal(w, r, "reading the metrics", err)
			return
		}
		for _, f := range fams {
			switch f.GetName() {
			case "segstream_consumer_lag":
				for _, m := range f.GetMetric() {
					p, _ := strconv.Atoi(labelOf(m, "partition"))
					out.Consumer.Partitions = append(out.Consumer.Partitions, PartitionLag{Topic: labelOf(m, "topic"), Partition: p, Lag: int64(m.GetGauge().GetValue())})
				}
			case "segstream_consumer_events_in_total":
				for _, m := range f.GetMetric() {
					out.Consumer.EventsIn += int64(m.GetCounter().GetValue())
				}
			case "segstream_consumer_dlq_events_total":
				for _, m := range f.GetMetric() {
					out.DeadLetter = append(out.DeadLetter, DeadLetters{Reason: labelOf(m, "reason"), Count: int64(m.GetCounter().GetValue())})
				}
			case "segstream_labels_evaluated_total":
				for _, m := range f.GetMetric() {
					out.Labels.Evaluated += int64(m.GetCounter().GetValue())
				}
			case "segstream_labels_event_to_label_seconds":
				if ms := f.GetMetric(); len(ms) == 1 {
					out.Labels.LatencyP50Ms = quantileMs(ms[0].GetHistogram(), 0.5)
					out.Labels.LatencyP99Ms = quantileMs(ms[0].GetHistogram(), 0.99)
				}
			}
		}
	}
	sort.Slice(out.Consumer.Partitions, func(i, j int) bool {
		a, b := out.Consumer.Partitions[i], out.Consumer.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	sort.Slice(out.DeadLetter, func(i, j int) bool { return out.DeadLetter[i].Reason < out.DeadLetter[j].Reason })
	writeJSON(w, http.StatusOK, out)
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantileMs estimates a quantile of a histogram in milliseconds by linear
// interpolation within its bucket (as Prometheus's histogram_quantile);
// nil when it is empty.
func quantileMs(h *dto.Histogram, q float64) *float64 {
	n := float64(h.GetSampleCount()) // 0 for a nil histogram
	if n == 0 {
		return nil
	}
	rank := q * n
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			upper := b.GetUpperBound()
			if math.IsInf(upper, 1) {
				upper = lower
			}
			v := lower
			if c > below {
				v = lower + (upper-lower)*(rank-below)/(c-below)
			}
			v = math.Round(v*1e4) / 10 // ms, one decimal
			return &v
		}
		lower, below = b.GetUpperBound(), c
	}
	v := math.Round(lower*1e4) / 10
	return &v
}
