package labelstage

import "github.com/prometheus/client_golang/prometheus"

// Label-stage metrics (prefix segstream_labels_):
//
//	evaluated_total                 counter    users classified
//	encodes_total                   counter    profile texts encoded
//	encodes_skipped_total           counter    evaluations that reused a stored embedding (text unchanged)
//	encode_seconds                  histogram  one encoder call
//	evaluate_seconds                histogram  one evaluation batch
//	published_total                 counter    label documents published
//	tombstones_total                counter    erasure tombstones published
//	changes_total{segment,change}   counter    segment entries and exits published
//	event_to_label_seconds          histogram  Kafka timestamp of a user's oldest unprocessed event → its labels evaluated and written
//	outbox                          gauge      label versions not yet acknowledged by Kafka
//	encode_queue                    gauge      users whose text changed, waiting for the encoder
//	backlog                         gauge      users waiting for labelling or encoding
//	intake_pauses_total             counter    partitions paused because backlog > labels.max_backlog
//	due_total, lease_expired_total  counter    users re-evaluated by time alone; claims retried after a lease expired
//	backfill_users_total            counter    users put back on the change feed by a backfill (segment definitions changed)
//	backfill_running                gauge      1 while this instance runs a backfill
//	errors_total{stage}             counter    failures, by where: claim | evaluate | encode | publish (the work failed and is retried);
//	                                           handback (claimed users could not be handed back: the lease brings them back);
//	                                           ack (finished users stay in flight until the lease ends: evaluated again);
//	                                           requeue (a label conflict's users could not go back on the feed);
//	                                           unlock (publish locks left to expire); lock_lost (a lock expired while publishing);
//	                                           published_mark (bookkeeping after a publish: the version goes out again);
//	                                           schedule (due users and expired leases not requeued this pass);
//	                                           backlog (queue sizes not read: gauges and the intake gate keep old values);
//	                                           label_conflict (another evaluator wrote first); changes_dropped (past label.MaxPendingChanges)
type labelMetrics struct {
	evaluated, encodes, encodesSkipped, published, tombstones, due, leaseExpired prometheus.Counter
	encodeSeconds, evaluateSeconds, latency                                      prometheus.Histogram
	changes, errors                                                              *prometheus.CounterVec
	outbox, encodeQueue, backlog                                                 prometheus.Gauge
	pauses                                                                       prometheus.Counter
	backfilled                                                                   prometheus.Counter
	backfilling                                                                  prometheus.Gauge
}

func newLabelMetrics(reg prometheus.Registerer) *labelMetrics {
	const ns, sub = "segstream", "labels"
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &labelMetrics{
		evaluated:      c("evaluated_total", "Users classified."),
		encodes:        c("encodes_total", "Profile texts encoded."),
		encodesSkipped: c("encodes_skipped_total", "Evaluations that reused the stored embedding because the text did not change."),
		published:      c("published_total", "Label documents published."),
		tombstones:     c("tombstones_total", "Erasure tombstones published."),
		due:            c("due_total", "Users re-evaluated by time alone."),
		leaseExpired:   c("lease_expired_total", "Claims retried after their lease expired."),
		encodeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "encode_seconds",
			Help: "One encoder call.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		evaluateSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "evaluate_seconds",
			Help: "One evaluation batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "event_to_label_seconds",
			Help: "From the Kafka timestamp of a user's oldest unprocessed event to its labels evaluated and written.", Buckets: []float64{.005, .01, .025, .05, .075, .1, .15, .2, .25, .3, .4, .5, .75, 1, 2, 5, 10, 30, 60, 120}}),
		changes:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "changes_total", Help: "Segment entries and exits published."}, []string{"segment", "change"}),
		errors:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total", Help: "Failures, by stage."}, []string{"stage"}),
		outbox:      prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "outbox", Help: "Label versions not yet acknowledged by Kafka."}),
		backlog:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "backlog", Help: "Users waiting for labelling or encoding (intake pauses above labels.max_backlog)."}),
		pauses:      c("intake_pauses_total", "Times a partition paused intake because the label backlog was above labels.max_backlog."),
		backfilled:  c("backfill_users_total", "Users put back on the change feed by a backfill after the segment definitions changed."),
		backfilling: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "backfill_running", Help: "1 while this instance runs a backfill."}),
		encodeQueue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "encode_queue", Help: "Users whose text changed, waiting for the encoder."}),
	}
	if reg != nil {
		reg.MustRegister(m.evaluated, m.encodes, m.encodesSkipped, m.published, m.tombstones, m.due, m.leaseExpired,
			m.encodeSeconds, m.evaluateSeconds, m.latency, m.changes, m.errors, m.outbox, m.encodeQueue, m.backlog, m.pauses, m.backfilled, m.backfilling)
	}
	return m
}
