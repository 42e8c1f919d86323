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
