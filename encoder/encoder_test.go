package encoder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// newTestEncoder starts an Encoder with the repo's ONNX Runtime and closes it
// at the end of the test. SEGSTREAM_TEST_PROVIDER=cuda runs it on the GPU
// (tools/encoder/gpu_bench.sh).
func newTestEncoder(tb testing.TB, cfg Config) *Encoder {
	tb.Helper()
	if cfg.LibraryPath == "" {
		cfg.LibraryPath = ortLib(tb)
	}
	if cfg.Provider == "" {
		cfg.Provider = os.Getenv("SEGSTREAM_TEST_PROVIDER")
	}
	enc, err := New(cfg, zaptest.NewLogger(tb), prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := enc.Close(); err != nil {
			tb.Error(err)
		}
	})
	return enc
}

func TestEncodeBasics(t *testing.T) {
	reg := prometheus.NewRegistry()
	enc, err := New(Config{ModelDir: useLiteDir(t), LibraryPath: ortLib(t), MaxBatch: 4, MaxWait: time.Millisecond}, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := enc.Close(); err != nil {
			t.Error(err)
		}
	}()
	if enc.Dim() != 512 || !strings.HasPrefix(enc.ModelVersion(), "use-lite-en@0.2.0+onnx.") {
		t.Errorf("Dim %d ModelVersion %q", enc.Dim(), enc.ModelVersion())
	}
	ctx := context.Background()
	if out, err := enc.Encode(ctx, nil); err != nil || len(out) != 0 {
		t.Errorf("Encode(nil) = %v, %v", out, err)
	}
	// Empty texts anywhere, the last included, and more texts than MaxBatch.
	texts := []string{"", "red mug", "", "blue teapot", "gift wrap", "", "lovely", "scarf", ""}
	vecs, err := enc.Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if len(v) != 512 {
			t.Fatalf("text %d: %d values", i, len(v))
		}
	}
	if cosine(vecs[0], vecs[8]) < 0.999999 {
		t.Error("two empty texts got different embeddings")
	}
	vecs[0][0] = 42 // results must not alias each other
	if vecs[2][0] == 42 {
		t.Error("empty-text embeddings share memory")
	}
	// Same text alone and in a batch: same embedding.
	alone, err := enc.Encode(ctx, []string{"blue teapot"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cosine(alone[0], vecs[3]); c < 0.99999 {
		t.Errorf("batched vs alone cosine %f", c)
	}
	// Metrics are registered on the injected registry.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"segstream_encoder_texts_total", "segstream_encoder_batches_total", "segstream_encoder_batch_texts", "segstream_encoder_run_seconds", "segstream_encoder_queue_wait_seconds"} {
		if !names[n] {
			t.Errorf("metric %s not registered (have %v)", n, names)
		}
	}
}

func TestEncodeConcurrent(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: useLiteDir(t), MaxBatch: 16, MaxWait: 2 * time.Millisecond, Sessions: 2})
	doc := loadParity(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var texts []string
			var want []string
			for i := g; i < 200; i += 8 {
				texts = append(texts, doc.Texts[i].Text)
				want = append(want, doc.Texts[i].Emb)
			}
			for start := 0; start < len(texts); start += 1 + g%3 {
				end := min(len(texts), start+1+g%3)
				vecs, err := enc.Encode(context.Background(), texts[start:end])
				if err != nil {
					t.Error(err)
					return
				}
				for i, v := range vecs {
					if c := cosine(v, decodeEmb(t, want[start+i])); c < 0.9999 {
						t.Errorf("goroutine %d %q: cosine %f", g, texts[start+i], c)
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestEncodeContextAndClose(t *testing.T) {
	enc, err := New(Config{ModelDir: useLiteDir(t), LibraryPath: ortLib(t)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := enc.Encode(ctx, []string{"x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := enc.Encode(context.Background(), []string{"x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Encode after Close: %v", err)
	}
}

// failingTokenizer rejects texts that contain "bad" and panics on "panic".
type failingTokenizer struct{ Tokenizer }

func (f failingTokenizer) Tokenize(text string) (Tokens, error) {
	if strings.Contains(text, "bad") {
		return Tokens{}, fmt.Errorf("%w: test rejects %q", ErrTokenize, text)
	}
	return f.Tokenizer.Tokenize(text)
}

func TestEncodePerTextErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	enc, err := New(Config{ModelDir: useLiteDir(t), LibraryPath: ortLib(t)}, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := enc.Close(); err != nil {
			t.Error(err)
		}
	}()
	enc.tok = failingTokenizer{enc.tok}
	vecs, err := enc.Encode(context.Background(), []string{"good one", "bad one", "fine"})
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, ErrTokenize) || len(be.Failed) != 1 || be.Failed[1] == nil {
		t.Fatalf("want a BatchError for index 1, got %v", err)
	}
	if vecs[1] != nil || len(vecs[0]) != 512 || len(vecs[2]) != 512 {
		t.Errorf("vectors: %d, %v, %d", len(vecs[0]), vecs[1], len(vecs[2]))
	}
	if got := counterValue(t, reg, "segstream_encoder_tokenize_errors_total", ""); got != 1 {
		t.Errorf("tokenize_errors_total = %v, want 1", got)
	}
	if got := counterValue(t, reg, "segstream_encoder_texts_total", "error"); got != 1 {
		t.Errorf("texts_total{result=error} = %v, want 1", got)
	}
}

func TestCUDAUnavailableSaysWhy(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	_, err := New(Config{ModelDir: useLiteDir(t), LibraryPath: ortLib(t), Provider: "cuda", DeviceID: 0}, zap.New(core), nil)
	if err == nil {
		t.Skip("this ONNX Runtime library has a working CUDA provider")
	}
	if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "cuda") {
		t.Errorf("want ErrProvider that names cuda, got %v", err)
	}
	if logs.FilterMessage("encoder: using the CUDA execution provider").Len() != 1 {
		t.Error("no log line announcing the CUDA provider")
	}
	if logs.FilterMessage("encoder: CUDA execution provider unavailable").Len() != 1 {
		t.Error("no log line saying CUDA failed")
	}
	t.Logf("error: %v", err)
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{ModelDir: t.TempDir(), LibraryPath: ortLib(t)}, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("empty model dir: %v", err)
	}
	if _, err := New(Config{Provider: "tpu"}, nil, nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "encoder.provider") {
		t.Errorf("bad provider: %v", err)
	}
}

// counterValue reads a counter from reg; label is the value of its only label
// ("" for none).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
