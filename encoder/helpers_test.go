package encoder

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// requireFile returns the resolved path of a set-up output, or stops the
// test: Fatal on CI (CI=true runs tools/encoder/setup.sh first, so a missing
// file is a broken set-up), Skip elsewhere.
func requireFile(tb testing.TB, rel string) string {
	tb.Helper()
	p := resolvePath(rel)
	if _, err := os.Stat(p); err != nil {
		msg := rel + " is missing: run tools/encoder/setup.sh (from the repo root) first"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return p
}

func useLiteDir(tb testing.TB) string {
	tb.Helper()
	requireFile(tb, DefaultModelDir+"/model.onnx")
	return requireFile(tb, DefaultModelDir)
}

func ortLib(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvLibraryPath); p != "" {
		return p
	}
	return requireFile(tb, DefaultLibraryPath)
}

type parityText struct {
	Kind string  `json:"kind"`
	Text string  `json:"text"`
	IDs  []int64 `json:"ids"`
	Emb  string  `json:"emb"`
}

type parityDoc struct {
	Generator string       `json:"generator"`
	Tokenizer string       `json:"tokenizer"`
	Model     string       `json:"model"`
	Count     int          `json:"count"`
	Texts     []parityText `json:"texts"`
}

var (
	fixtureMu sync.Mutex
	fixtures  = map[string]parityDoc{}
)

// loadParity reads the fixtures with embeddings.
func loadParity(tb testing.TB) parityDoc {
	return loadFixture(tb, "use-lite-parity.json.gz")
}

// loadFixture reads a fixture file written by tools/encoder/parity/make_fixtures.js.
func loadFixture(tb testing.TB, name string) parityDoc {
	tb.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if doc, ok := fixtures[name]; ok {
		return doc
	}
	f, err := os.Open(filepath.Join("..", "testdata", "encoder", name))
	if err != nil {
		tb.Fatalf("parity fixtures: %v (tools/encoder/parity/run.sh writes them)", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("parity fixtures %s: %v", name, err)
	}
	var doc parityDoc
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		tb.Fatalf("parity fixtures %s: %v", name, err)
	}
	fixtures[name] = doc
	return doc
}

func decodeEmb(tb testing.TB, s string) []float32 {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
