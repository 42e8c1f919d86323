package featurestore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics emitted (all prefixed segstream_featurestore_):
//
//	fold_seconds            histogram  time of one Fold call
//	events_total{outcome}   counter    applied | skipped_offset | skipped_dup_id | skipped_erased
//	users_changed_total     counter    profiles written
//	text_changed_total      counter    profiles whose text part changed
//	round_trips_total       counter    Redis round trips
//	cas_conflicts_total     counter    compare-and-set conflicts (retried)
//	cache_hits_total        counter    profiles served from the local cache
//	cache_misses_total      counter    profiles read from Redis
type metrics struct {
	foldSeconds       prometheus.Histogram
	events            *prometheus.CounterVec
	usersChanged      prometheus.Counter
	textChanged       prometheus.Counter
	roundTrips        prometheus.Counter
	conflicts         prometheus.Counter
	cacheHits         prometheus.Counter
	cacheMisses       prometheus.Counter
	replicaShortfalls prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "segstream", "featurestore"
	m := &metrics{
		foldSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "fold_seconds",
			Help: "Time of one fold (one batch) including Redis round trips.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total",
			Help: "Events handed to the fold, by outcome."}, []string{"outcome"}),
		usersChanged:      prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "users_changed_total", Help: "Profiles written."}),
		textChanged:       prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "text_changed_total", Help: "Profiles whose text part changed."}),
		roundTrips:        prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "round_trips_total", Help: "Redis round trips made by folds."}),
		conflicts:         prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cas_conflicts_total", Help: "Compare-and-set conflicts (retried)."}),
		cacheHits:         prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cache_hits_total", Help: "Profiles served from the local cache."}),
		cacheMisses:       prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cache_misses_total", Help: "Profiles read from Redis."}),
		replicaShortfalls: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "replica_shortfalls_total", Help: "Batch writes fewer replicas than featurestore.wait_replicas acknowledged in time (retried)."}),
	}
	if reg != nil {
		reg.MustRegister(m.foldSeconds, m.events, m.usersChanged, m.textChanged, m.roundTrips, m.conflicts, m.cacheHits, m.cacheMisses, m.replicaShortfalls)
	}
	return m
}

func (m *metrics) observe(r FoldResult, d time.Duration) {
	m.foldSeconds.Observe(d.Seconds())
	m.events.WithLabelValues("applied").Add(float64(r.Applied))
	m.events.WithLabelValues("skipped_offset").Add(float64(r.SkippedOffset))
	m.events.WithLabelValues("skipped_dup_id").Add(float64(r.SkippedDupID))
	m.events.WithLabelValues("skipped_erased").Add(float64(r.SkippedErased))
	m.usersChanged.Add(float64(r.Users))
	m.textChanged.Add(float64(r.TextChanged))
	m.roundTrips.Add(float64(r.RoundTrips))
}
