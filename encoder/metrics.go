package encoder

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	texts          *prometheus.CounterVec
	tokenizeErrors prometheus.Counter
	truncated      prometheus.Counter
	resets         prometheus.Counter
	batches        prometheus.Counter
	batchTexts     prometheus.Histogram
	queueWait      prometheus.Histogram
	runSeconds     prometheus.Histogram
}

// newMetrics builds the collectors and registers them with reg when it is not
// nil. Registering twice on one registerer (two Encoders) reuses the
// collectors already there.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		texts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "texts_total",
			Help: "Texts encoded (result=ok) or failed (result=error).",
		}, []string{"result"}),
		tokenizeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "tokenize_errors_total",
			Help: "Texts the tokenizer rejected, recovered panics included.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "truncated_texts_total",
			Help: "Texts cut to the model's token limit.",
		}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "tokenizer_resets_total",
			Help: "Unigram tokenizer cache resets (they keep its memory bounded).",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "batches_total",
			Help: "Model runs.",
		}),
		batchTexts: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "batch_texts",
			Help:    "Texts per model run.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13),
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "queue_wait_seconds",
			Help:    "Time from a request reaching the batcher to its batch starting to run.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		runSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "segstream", Subsystem: "encoder", Name: "run_seconds",
			Help:    "Time to pack, run and pool one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	if reg != nil {
		m.texts = register(reg, m.texts)
		m.tokenizeErrors = register(reg, m.tokenizeErrors)
		m.truncated = register(reg, m.truncated)
		m.resets = register(reg, m.resets)
		m.batches = register(reg, m.batches)
		m.batchTexts = register(reg, m.batchTexts)
		m.queueWait = register(reg, m.queueWait)
		m.runSeconds = register(reg, m.runSeconds)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
