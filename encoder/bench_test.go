package encoder

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	ort "github.com/yalue/onnxruntime_go"
)

// benchTexts returns n texts of about 10 tokens ("short": fixture texts with
// 9 to 11 tokens) or of 128 tokens or a little more ("long": fixture reviews
// and product descriptions joined until they reach 128 tokens).
func benchTexts(b *testing.B, kind string, n int) []string {
	b.Helper()
	doc := loadParity(b)
	var pool []string
	for _, x := range doc.Texts {
		if kind == "short" && len(x.IDs) >= 9 && len(x.IDs) <= 11 {
			pool = append(pool, x.Text)
		}
		if kind == "long" && (x.Kind == "review_en" || x.Kind == "product") {
			pool = append(pool, x.Text)
		}
	}
	if len(pool) == 0 {
		b.Fatalf("no %s texts in the fixtures", kind)
	}
	if kind == "short" {
		out := make([]string, n)
		for i := range out {
			out[i] = pool[i%len(pool)]
		}
		return out
	}
	out := make([]string, 0, n)
	for k := 0; len(out) < n; {
		text, tokens := "", 0
		for tokens < 128 {
			text += pool[k%len(pool)] + ". "
			tokens += 2 * len(strings.Fields(pool[k%len(pool)])) // about 2 tokens a word
			k++
		}
		out = append(out, text)
	}
	return out
}

// benchBatches are the batch sizes; SEGSTREAM_BENCH_BATCHES="1,64,1024"
// replaces them (the GPU script goes past 256).
var benchBatches = func() []int {
	if env := os.Getenv("SEGSTREAM_BENCH_BATCHES"); env != "" {
		var out []int
		for _, f := range strings.Split(env, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
				out = append(out, n)
			}
		}
		return out
	}
	return []int{1, 2, 4, 8, 16, 32, 64, 128, 256}
}()

// BenchmarkEncode is the whole path: tokenize, batch, pack, run, copy out.
// MaxBatch equals the batch size, so each call is one full batch that goes
// out at once (no MaxWait).
func BenchmarkEncode(b *testing.B) {
	for _, kind := range []string{"short", "long"} {
		for _, n := range benchBatches {
			b.Run(fmt.Sprintf("len=%s/batch=%d", kind, n), func(b *testing.B) {
				enc := newTestEncoder(b, Config{ModelDir: useLiteDir(b), MaxBatch: n, MaxWait: time.Millisecond})
				texts := benchTexts(b, kind, n)
				ctx := context.Background()
				if _, err := enc.Encode(ctx, texts); err != nil { // warm up
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := enc.Encode(ctx, texts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "texts/s")
			})
		}
	}
}

// BenchmarkBareSession runs only the ONNX Runtime session on the same batch,
// tokenized and packed once beforehand: the ceiling for BenchmarkEncode.
func BenchmarkBareSession(b *testing.B) {
	for _, kind := range []string{"short", "long"} {
		for _, n := range benchBatches {
			b.Run(fmt.Sprintf("len=%s/batch=%d", kind, n), func(b *testing.B) {
				enc := newTestEncoder(b, Config{ModelDir: useLiteDir(b), MaxBatch: n})
				run := bareSession(b, enc, benchTexts(b, kind, n))
				run()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "texts/s")
			})
		}
	}
}

// bareSession tokenizes and packs texts once and returns a function that
// runs only the ONNX Runtime session on them; the inputs are freed at the
// end of the benchmark.
func bareSession(b *testing.B, enc *Encoder, texts []string) func() {
	b.Helper()
	seqs := make([]Tokens, len(texts))
	for i, t := range texts {
		tk, err := enc.tok.Tokenize(t)
		if err != nil {
			b.Fatal(err)
		}
		seqs[i] = tk
	}
	var buf packBuf
	in, err := enc.run.packSparse(seqs, &buf)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, v := range in {
			if err := v.Destroy(); err != nil {
				b.Error(err)
			}
		}
	})
	return func() {
		out := []ort.Value{nil}
		if err := enc.run.sess.Run(in, out); err != nil {
			b.Fatal(err)
		}
		if err := out[0].Destroy(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenize is the tokenizer alone, one text per op: allocs/op is
// allocations per text.
func BenchmarkTokenize(b *testing.B) {
	uni := useLiteTokenizer(b)
	wp, err := NewWordPieceTokenizer(miniLMTokenizer, 128)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tok  Tokenizer
	}{{"unigram", uni}, {"wordpiece", wp}} {
		for _, kind := range []string{"short", "long"} {
			b.Run(fmt.Sprintf("tokenizer=%s/len=%s", tc.name, kind), func(b *testing.B) {
				texts := benchTexts(b, kind, 64)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := tc.tok.Tokenize(texts[i%len(texts)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "texts/s")
			})
		}
	}
}

// BenchmarkPathRatio alternates the whole path and the bare session run on
// the same batch within one benchmark, so that load from elsewhere hits both
// alike, and reports both throughputs and their ratio (target >= 0.9).
func BenchmarkPathRatio(b *testing.B) {
	for _, kind := range []string{"short", "long"} {
		for _, n := range benchBatches {
			b.Run(fmt.Sprintf("len=%s/batch=%d", kind, n), func(b *testing.B) {
				enc := newTestEncoder(b, Config{ModelDir: useLiteDir(b), MaxBatch: n, MaxWait: time.Millisecond})
				texts := benchTexts(b, kind, n)
				ctx := context.Background()
				bare := bareSession(b, enc, texts)
				whole := func() {
					if _, err := enc.Encode(ctx, texts); err != nil {
						b.Fatal(err)
					}
				}
				bare()
				whole()
				var tw, tb, cw, cb time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					s, c := time.Now(), cpuTime()
					whole()
					tw += time.Since(s)
					cw += cpuTime() - c
					s, c = time.Now(), cpuTime()
					bare()
					tb += time.Since(s)
					cb += cpuTime() - c
				}
				b.ReportMetric(float64(b.N*n)/tw.Seconds(), "whole_texts/s")
				b.ReportMetric(float64(b.N*n)/tb.Seconds(), "bare_texts/s")
				b.ReportMetric(tb.Seconds()/tw.Seconds(), "ratio")
				// The same ratio in this process's CPU time: other load on the
				// machine shifts wall time, hardly CPU time.
				b.ReportMetric(cb.Seconds()/cw.Seconds(), "cpu_ratio")
			})
		}
	}
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPathOverhead is the whole path without the model run: tokenize,
// pack the input tensors, hand over through the batcher, pool and copy a
// model-sized output. Other load on the machine hardly changes it, so
// bare / (bare + overhead) estimates the whole-path ratio without the noise
// of two wall-clock throughputs.
func BenchmarkPathOverhead(b *testing.B) {
	for _, kind := range []string{"short", "long"} {
		for _, n := range benchBatches {
			b.Run(fmt.Sprintf("len=%s/batch=%d", kind, n), func(b *testing.B) {
				enc := newTestEncoder(b, Config{ModelDir: useLiteDir(b), MaxBatch: n})
				texts := benchTexts(b, kind, n)
				fake := make([]float32, n*enc.Dim())
				shape := ort.NewShape(int64(n), int64(enc.Dim()))
				run := func(seqs []Tokens, buf *packBuf) ([][]float32, error) {
					in, err := enc.run.packSparse(seqs, buf)
					if err != nil {
						return nil, err
					}
					for _, v := range in {
						_ = v.Destroy() // as runner.run does
					}
					return enc.run.pool(fake, shape, seqs, 0)
				}
				bt, stopped := newBatcher(n, time.Millisecond), make(chan struct{})
				ctx, cancel := context.WithCancel(context.Background())
				defer func() { cancel(); close(stopped) }()
				go bt.loop(ctx)
				go bt.worker(ctx, run)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					seqs := make([]Tokens, n)
					for j, t := range texts {
						tk, err := enc.tok.Tokenize(t)
						if err != nil {
							b.Fatal(err)
						}
						seqs[j] = tk
					}
					r := &request{seqs: seqs, done: make(chan struct{})}
					if err := bt.submit(ctx, stopped, r); err != nil {
						b.Fatal(err)
					}
					<-r.done
					if r.err != nil {
						b.Fatal(r.err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/batch")
			})
		}
	}
}

// benchModels are the models of BenchmarkModelPath: the default and the
// BERT-family ones of tools/encoder/setup.sh.
var benchModels = []string{"use-lite", "all-minilm-l6-v2", "all-minilm-l6-v2-q", "bge-small-zh-v15", "bge-small-zh-v15-q"}

// exactTokenTexts returns n distinct texts of exactly `tokens` tokens for the
// encoder's tokenizer (special tokens included): Chinese review characters for
// the Chinese model (one token each), English review words for the others,
// added while the count stays within `tokens` and ended by a filler word of one
// token.
func exactTokenTexts(b *testing.B, enc *Encoder, tokens, n int) []string {
	b.Helper()
	chinese := strings.HasPrefix(enc.ModelVersion(), "bge")
	var words []string
	if chinese {
		for _, x := range loadFixture(b, "bge-small-zh-v15/tokens.json.gz").Texts {
			if x.Kind != "review_zh" {
				continue
			}
			for _, r := range x.Text {
				if unicode.Is(unicode.Han, r) {
					words = append(words, string(r))
				}
			}
		}
	} else {
		for _, x := range loadFixture(b, "all-minilm-l6-v2/tokens.json.gz").Texts {
			if x.Kind == "review_en" {
				words = append(words, strings.Fields(x.Text)...)
			}
		}
	}
	count := func(s string) int {
		tk, err := enc.tok.Tokenize(s)
		if err != nil {
			b.Fatal(err)
		}
		return len(tk.IDs)
	}
	sep := " "
	if chinese {
		sep = ""
	}
	out := make([]string, 0, n)
	k := 0
	for len(out) < n {
		text := ""
		for tries := 0; tries < 10000; tries++ {
			w := words[k%len(words)]
			k++
			cand := w
			if text != "" {
				cand = text + sep + w
			}
			if c := count(cand); c <= tokens {
				text = cand
				if c == tokens {
					break
				}
			}
		}
		if got := count(text); got != tokens {
			b.Fatalf("built a text of %d tokens, want %d", got, tokens)
		}
		out = append(out, text)
	}
	return out
}

// BenchmarkModelPath: each model at batch 1, 16 and 64 with texts of 16 and
// 128 tokens; the whole path (Encode: tokenize, sort, batch, pack, run, pool,
// copy out) against a bare ONNX Runtime session on the same inputs (tokenized
// and packed beforehand, the same runs: a model whose spec.json caps
// max_batch at 1 runs one text at a time in both). The two alternate, so load
// from elsewhere hits both alike. SEGSTREAM_BENCH_MODELS="bge-small-zh-v15"
// picks models.
func BenchmarkModelPath(b *testing.B) {
	models := benchModels
	if env := os.Getenv("SEGSTREAM_BENCH_MODELS"); env != "" {
		models = strings.Split(env, ",")
	}
	batches := []int{1, 16, 64}
	if env := os.Getenv("SEGSTREAM_BENCH_BATCHES"); env != "" {
		batches = benchBatches
	}
	for _, model := range models {
		for _, tokens := range []int{16, 128} {
			for _, n := range batches {
				b.Run(fmt.Sprintf("model=%s/tokens=%d/batch=%d", model, tokens, n), func(b *testing.B) {
					dir := requireFile(b, ModelDir(model))
					requireFile(b, ModelDir(model)+"/model.onnx")
					enc := newTestEncoder(b, Config{ModelDir: dir, MaxBatch: n, MaxWait: time.Millisecond})
					texts := exactTokenTexts(b, enc, tokens, n)
					ctx := context.Background()
					bare := bareRuns(b, enc, texts)
					whole := func() {
						if _, err := enc.Encode(ctx, texts); err != nil {
							b.Fatal(err)
						}
					}
					bare()
					whole()
					var tw, tb, cw, cb time.Duration
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						s, c := time.Now(), cpuTime()
						whole()
						tw += time.Since(s)
						cw += cpuTime() - c
						s, c = time.Now(), cpuTime()
						bare()
						tb += time.Since(s)
						cb += cpuTime() - c
					}
					b.ReportMetric(float64(b.N*n)/tw.Seconds(), "whole_texts/s")
					b.ReportMetric(float64(b.N*n)/tb.Seconds(), "bare_texts/s")
					b.ReportMetric(tb.Seconds()/tw.Seconds(), "ratio")
					b.ReportMetric(cb.Seconds()/cw.Seconds(), "cpu_ratio")
				})
			}
		}
	}
}

// bareRuns tokenizes and packs texts once, in runs of the encoder's MaxBatch,
// and returns a function that runs only the ONNX Runtime session on them.
func bareRuns(b *testing.B, enc *Encoder, texts []string) func() {
	b.Helper()
	var runs [][]ort.Value
	for lo := 0; lo < len(texts); lo += enc.cfg.MaxBatch {
		part := texts[lo:min(lo+enc.cfg.MaxBatch, len(texts))]
		seqs := make([]Tokens, len(part))
		for i, t := range part {
			tk, err := enc.tok.Tokenize(t)
			if err != nil {
				b.Fatal(err)
			}
			seqs[i] = tk
		}
		var (
			buf packBuf
			in  []ort.Value
			err error
		)
		if enc.spec.InputStyle == "sparse_ids" {
			in, err = enc.run.packSparse(seqs, &buf)
		} else {
			in, _, err = enc.run.packBert(seqs, &buf)
		}
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, in)
	}
	b.Cleanup(func() {
		for _, in := range runs {
			for _, v := range in {
				if err := v.Destroy(); err != nil {
					b.Error(err)
				}
			}
		}
	})
	return func() {
		for _, in := range runs {
			out := []ort.Value{nil}
			if err := enc.run.sess.Run(in, out); err != nil {
				b.Fatal(err)
			}
			if err := out[0].Destroy(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkModelOverhead is BenchmarkModelPath's whole path without the model
// run, for the BERT-family models: tokenize, sort and cut into requests, hand
// over through the batcher, pack the input tensors, pool and normalise a
// model-sized output. Other load hardly changes it (no model run to share the
// cores with), so bare / (bare + overhead) estimates the whole-path ratio.
func BenchmarkModelOverhead(b *testing.B) {
	models := benchModels[1:]
	if env := os.Getenv("SEGSTREAM_BENCH_MODELS"); env != "" {
		models = strings.Split(env, ",")
	}
	for _, model := range models {
		for _, tokens := range []int{16, 128} {
			for _, n := range []int{1, 16, 64} {
				b.Run(fmt.Sprintf("model=%s/tokens=%d/batch=%d", model, tokens, n), func(b *testing.B) {
					requireFile(b, ModelDir(model)+"/model.onnx")
					enc := newTestEncoder(b, Config{ModelDir: requireFile(b, ModelDir(model)), MaxBatch: n})
					if enc.spec.InputStyle != "bert" {
						b.Skip("BenchmarkPathOverhead covers the sparse style")
					}
					texts := exactTokenTexts(b, enc, tokens, n)
					dim := enc.Dim()
					fake := make([]float32, n*tokens*dim)
					run := func(seqs []Tokens, buf *packBuf) ([][]float32, error) {
						in, seqL, err := enc.run.packBert(seqs, buf)
						if err != nil {
							return nil, err
						}
						for _, v := range in {
							_ = v.Destroy() // as runner.run does
						}
						shape := ort.NewShape(int64(len(seqs)), int64(seqL), int64(dim))
						return enc.run.pool(fake[:len(seqs)*seqL*dim], shape, seqs, seqL)
					}
					bt, stopped := newBatcher(enc.cfg.MaxBatch, time.Millisecond), make(chan struct{})
					bt.padded = true
					ctx, cancel := context.WithCancel(context.Background())
					defer func() { cancel(); close(stopped) }()
					go bt.loop(ctx)
					go bt.worker(ctx, run)
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						seqs := make([]Tokens, n)
						idx := make([]int, n)
						for j, t := range texts {
							tk, err := enc.tok.Tokenize(t)
							if err != nil {
								b.Fatal(err)
							}
							seqs[j], idx[j] = tk, j
						}
						reqs := enc.requests(seqs, idx)
						for _, r := range reqs {
							if err := bt.submit(ctx, stopped, r); err != nil {
								b.Fatal(err)
							}
						}
						for _, r := range reqs {
							<-r.done
							if r.err != nil {
								b.Fatal(r.err)
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "us/text")
				})
			}
		}
	}
}
