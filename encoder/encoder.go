package encoder

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"runtime/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Encoder embeds texts with one model. Safe for concurrent use.
type Encoder struct {
	cfg     Config
	spec    Spec
	log     *zap.Logger
	m       *metrics
	tok     Tokenizer
	run     *runner
	batcher *batcher
	// empty is the model's embedding of a text with no tokens (sparse style:
	// the graph cannot take a trailing empty row, so it is computed once).
	empty []float32

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{}
	closed  atomic.Bool
	once    sync.Once
}

// New loads the model in cfg.ModelDir and starts the batcher and workers.
// cfg gets its defaults first; log and reg may be nil.
func New(cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Encoder, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ModelDir = resolvePath(cfg.ModelDir)
	cfg.LibraryPath = resolvePath(cfg.LibraryPath)
	spec, err := LoadSpec(cfg.ModelDir)
	if err != nil {
		return nil, err
	}
	if spec.MaxBatch > 0 && cfg.MaxBatch > spec.MaxBatch {
		log.Info("encoder: the model caps max_batch", zap.Int("max_batch", cfg.MaxBatch), zap.Int("model_max_batch", spec.MaxBatch))
		cfg.MaxBatch = spec.MaxBatch
	}
	m := newMetrics(reg)
	tok, err := NewTokenizer(cfg.ModelDir, spec)
	if err != nil {
		return nil, err
	}
	if u, ok := tok.(*UnigramTokenizer); ok {
		u.OnReset = m.resets.Inc
	}
	if err := initRuntime(cfg.LibraryPath); err != nil {
		return nil, err
	}
	log = log.With(zap.String("model_version", spec.ModelVersion), zap.String("provider", cfg.Provider))
	if cfg.Provider == "cuda" {
		log.Info("encoder: using the CUDA execution provider", zap.Int("device_id", cfg.DeviceID), zap.String("library", cfg.LibraryPath))
	}
	// created on a thread of the workers' priority: the session's own
	// thread pool inherits it
	var run *runner
	err = onNicedThread(cfg.Nice, func() error {
		var err error
		run, err = newRunner(cfg, spec, filepath.Join(cfg.ModelDir, "model.onnx"))
		return err
	})
	if err != nil {
		if cfg.Provider == "cuda" {
			log.Error("encoder: CUDA execution provider unavailable", zap.Int("device_id", cfg.DeviceID), zap.Error(err))
		}
		return nil, err
	}
	e := &Encoder{
		cfg: cfg, spec: spec, log: log, m: m, tok: tok, run: run,
		batcher: newBatcher(cfg.MaxBatch, cfg.MaxWait),
		stopped: make(chan struct{}),
	}
	e.empty = make([]float32, spec.Dim)
	if spec.InputStyle == "sparse_ids" {
		// An empty text in the middle of a batch: one row with no tokens.
		var buf packBuf
		out, err := run.run([]Tokens{{}, {IDs: []int64{int64(spec.Tokenizer.ReservedIDs)}}}, &buf)
		if err != nil {
			_ = run.close() // the run error is the one to report
			return nil, fmt.Errorf("%w: first run: %w", ErrModel, err)
		}
		e.empty = out[0]
	}
	e.batcher.padded = spec.InputStyle == "bert"
	e.batcher.onWait = func(d time.Duration) { m.queueWait.Observe(d.Seconds()) }
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(1 + cfg.Sessions)
	// the CPU profile's "stage" label (ONNX Runtime's own threads are not Go's: their samples have none)
	go pprof.Do(ctx, pprof.Labels("stage", "encoder"), func(ctx context.Context) { defer e.wg.Done(); e.batcher.loop(ctx) })
	niced := make(chan error, cfg.Sessions)
	for i := 0; i < cfg.Sessions; i++ {
		go pprof.Do(ctx, pprof.Labels("stage", "encoder"), func(ctx context.Context) {
			defer e.wg.Done()
			if cfg.Nice > 0 {
				runtime.LockOSThread() // for good: the thread keeps its priority and ends with the worker
				if err := niceThread(cfg.Nice); err != nil {
					niced <- err
					return
				}
			}
			niced <- nil
			e.batcher.worker(ctx, e.runBatch)
		})
	}
	for i := 0; i < cfg.Sessions; i++ {
		if err := <-niced; err != nil {
			_ = e.Close() // the priority error is the one to report
			return nil, fmt.Errorf("%w: encoder.nice: %w", ErrConfig, err)
		}
	}
	log.Info("encoder: ready",
		zap.String("model_dir", cfg.ModelDir), zap.String("input_style", spec.InputStyle),
		zap.Int("dim", spec.Dim), zap.Int("max_tokens", spec.MaxTokens),
		zap.String("ort_version", runtimeVersion()), zap.Int("intra_op_threads", cfg.IntraOpThreads),
		zap.Int("sessions", cfg.Sessions), zap.Int("max_batch", cfg.MaxBatch), zap.Duration("max_wait", cfg.MaxWait))
	return e, nil
}

func (e *Encoder) runBatch(seqs []Tokens, buf *packBuf) ([][]float32, error) {
	start := time.Now()
	out, err := e.run.run(seqs, buf)
	e.m.runSeconds.Observe(time.Since(start).Seconds())
	e.m.batches.Inc()
	e.m.batchTexts.Observe(float64(len(seqs)))
	if err != nil {
		e.log.Error("encoder: batch failed", zap.Int("texts", len(seqs)), zap.Error(err))
	}
	return out, err
}

// Dim is the embedding size.
func (e *Encoder) Dim() int { return e.spec.Dim }

// ModelVersion names the model's exact weights (spec.json model_version).
func (e *Encoder) ModelVersion() string { return e.spec.ModelVersion }

// Tokenizer is the model's tokenizer (for ProfileText).
func (e *Encoder) Tokenizer() Tokenizer { return e.tok }

// MaxTokens is the model's token limit.
func (e *Encoder) MaxTokens() int { return e.spec.MaxTokens }

// ProfileText is the one text a profile contributes to its embedding, from
// its texts newest first, cut to the model's token limit (see the function
// ProfileText).
func (e *Encoder) ProfileText(texts []string) string {
	return ProfileText(texts, e.MaxTokens(), e.Tokenizer())
}

// Encode embeds texts, one vector of Dim() floats per text, in order. Texts
// the tokenizer rejects fail alone: their entry is nil and the error is a
// *BatchError (errors.Is(err, ErrTokenize)); the other vectors are valid.
// Any other error (ctx ended, ErrClosed, ErrModel) fails the whole call.
func (e *Encoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	var failed map[int]error
	seqs := make([]Tokens, 0, len(texts))
	idx := make([]int, 0, len(texts))
	for i, t := range texts {
		tk, err := e.tok.Tokenize(t)
		if err != nil {
			if failed == nil {
				failed = make(map[int]error)
			}
			failed[i] = err
			e.m.tokenizeErrors.Inc()
			e.log.Warn("encoder: text not tokenized", zap.Int("index", i), zap.Int("bytes", len(t)), zap.Error(err))
			continue
		}
		if tk.Truncated {
			e.m.truncated.Inc()
		}
		if len(tk.IDs) == 0 {
			out[i] = append([]float32(nil), e.empty...)
			continue
		}
		seqs = append(seqs, tk)
		idx = append(idx, i)
	}
	reqs := e.requests(seqs, idx)
	for _, r := range reqs {
		if err := e.batcher.submit(ctx, e.stopped, r); err != nil {
			return nil, err
		}
	}
	k := 0
	for _, r := range reqs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-e.stopped:
			return nil, ErrClosed
		}
		if r.err != nil {
			e.m.texts.WithLabelValues("error").Add(float64(len(texts)))
			return nil, r.err
		}
		for _, v := range r.out {
			out[idx[k]] = v
			k++
		}
	}
	e.m.texts.WithLabelValues("ok").Add(float64(len(texts) - len(failed)))
	if failed != nil {
		e.m.texts.WithLabelValues("error").Add(float64(len(failed)))
		return out, &BatchError{Failed: failed}
	}
	return out, nil
}

// maxBatchTokens caps a BERT run's padded size (texts x longest), so that 64
// texts of 512 tokens do not make one run of 32,768 tokens (its attention
// alone takes 0.5 GB); 16,384 is 64 texts of 256 tokens or 32 of 512.
const maxBatchTokens = 16384

// padOK says whether n BERT sequences, the longest of maxLen tokens and sumLen
// in all, make a good run: within maxBatchTokens, and padded to at most a
// quarter more than their own tokens plus 8 per text (so short texts of
// different lengths still share a run). Reviews of 5 to 500 tokens batched
// 64 at a time as they came ran 20 times slower than one at a time.
func padOK(n, maxLen, sumLen int) bool {
	padded := n * maxLen
	return padded <= maxBatchTokens && 4*padded <= 5*(sumLen+8*n)
}

// requests cuts a call's token sequences into requests for the batcher. For
// BERT, whose batches are padded to their longest text, seqs and idx (the
// texts' indices, reordered alongside) are first sorted by length, so that a
// batch holds texts of about one length: reviews of 5 to 500 tokens in one
// batch of 64 ran 20 times slower.
func (e *Encoder) requests(seqs []Tokens, idx []int) []*request {
	if e.spec.InputStyle == "bert" && len(seqs) > 1 {
		sort.Stable(byLength{seqs, idx})
	}
	reqs := make([]*request, 0, (len(seqs)+e.cfg.MaxBatch-1)/e.cfg.MaxBatch)
	for lo := 0; lo < len(seqs); {
		hi := e.requestEnd(seqs, lo)
		r := newRequest(seqs[lo:hi])
		// Cut short by padOK: the next text did not fit, so the batch is as
		// full as it gets and goes out without waiting MaxWait for more.
		r.full = hi < len(seqs) && hi-lo < e.cfg.MaxBatch
		reqs = append(reqs, r)
		lo = hi
	}
	return reqs
}

// requestEnd is the end of the request that starts at seqs[lo]: at most
// MaxBatch texts and, for BERT (seqs in order of length), as many as padOK
// allows, one at least.
func (e *Encoder) requestEnd(seqs []Tokens, lo int) int {
	end := min(lo+e.cfg.MaxBatch, len(seqs))
	if e.spec.InputStyle != "bert" {
		return end
	}
	sum := len(seqs[lo].IDs)
	hi := lo + 1
	for hi < end && padOK(hi-lo+1, len(seqs[hi].IDs), sum+len(seqs[hi].IDs)) {
		sum += len(seqs[hi].IDs)
		hi++
	}
	return hi
}

// byLength sorts token sequences and their text indices together.
type byLength struct {
	seqs []Tokens
	idx  []int
}

func (b byLength) Len() int           { return len(b.seqs) }
func (b byLength) Less(i, j int) bool { return len(b.seqs[i].IDs) < len(b.seqs[j].IDs) }
func (b byLength) Swap(i, j int) {
	b.seqs[i], b.seqs[j] = b.seqs[j], b.seqs[i]
	b.idx[i], b.idx[j] = b.idx[j], b.idx[i]
}

// Close stops the batcher and workers (requests still queued get ErrClosed)
// and releases the session. The ONNX Runtime environment stays loaded.
func (e *Encoder) Close() error {
	var err error
	e.once.Do(func() {
		e.closed.Store(true)
		e.cancel()
		close(e.stopped)
		e.wg.Wait()
		err = e.run.close()
	})
	return err
}
