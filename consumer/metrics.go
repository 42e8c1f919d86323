package consumer

import "github.com/prometheus/client_golang/prometheus"

// Metrics emitted (all prefixed segstream_consumer_):
//
//	events_in_total{topic}              counter    messages read
//	dlq_events_total{reason}            counter    messages sent to the dead-letter topic
//	skipped_total{why}                  counter    redelivered (offset) or duplicate (dup_id) events skipped
//	batch_size                          histogram  messages per micro-batch
//	fold_seconds                        histogram  time to make a batch durable in Redis
//	event_to_fold_seconds               histogram  Kafka timestamp of a batch's oldest event → the batch durable in Redis
//	lag{topic,partition}                gauge      high watermark − last folded offset − 1
//	commits_total                       counter    successful offset commits
//	retries_total{stage}                counter    fold / dlq attempts that failed and were retried
//	group_errors_total                  counter    consumer group join/sync errors (retried by the group)
type metrics struct {
	eventsIn    *prometheus.CounterVec
	dlq         *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	batchSize   prometheus.Histogram
	foldSeconds prometheus.Histogram
	eventToFold prometheus.Histogram
	lag         *prometheus.GaugeVec
	commits     prometheus.Counter
	retries     *prometheus.CounterVec
	groupErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "segstream", "consumer"
	m := &metrics{
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_in_total", Help: "Messages read, by topic."}, []string{"topic"}),
		dlq:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dlq_events_total", Help: "Messages sent to the dead-letter topic, by reason."}, []string{"reason"}),
		skipped:  prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "skipped_total", Help: "Events skipped as already applied (offset) or duplicate event_id (dup_id)."}, []string{"why"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_size", Help: "Messages per micro-batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		foldSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "fold_seconds", Help: "Time to make one batch durable in Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		eventToFold: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "event_to_fold_seconds",
			Help:    "Kafka timestamp of a micro-batch's oldest event to the batch durable in Redis (the intake's share of event-to-label latency).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .25, .3, .4, .5, .75, 1, 2, 5, 10, 30, 60, 120}}), // event_to_label_seconds' around the 250 ms target
		lag:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lag", Help: "Messages behind the high watermark, per owned partition."}, []string{"topic", "partition"}),
		commits:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "commits_total", Help: "Successful offset commits."}),
		groupErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "group_errors_total", Help: "Consumer group join/sync errors (the group retries)."}),
		retries:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retries_total", Help: "Failed attempts retried, by stage."}, []string{"stage"}),
	}
	if reg != nil {
		reg.MustRegister(m.eventsIn, m.dlq, m.skipped, m.batchSize, m.foldSeconds, m.eventToFold, m.lag, m.commits, m.retries, m.groupErrors)
	}
	return m
}
