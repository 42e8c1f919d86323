package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Default locations, relative to the repo root (see resolvePath).
const (
	DefaultModelDir    = "var/models/use-lite"
	DefaultLibraryPath = "var/lib/libonnxruntime.so.1"
	// EnvLibraryPath overrides the default ONNX Runtime library path.
	EnvLibraryPath = "SEGSTREAM_ORT_LIB"
)

// Config configures an Encoder. The zero value plus SetDefaults is the
// default model on the CPU.
type Config struct {
	// ModelDir holds model.onnx, tokenizer.json and spec.json.
	// Default var/models/use-lite (built by tools/encoder/setup.sh).
	ModelDir string `yaml:"model_dir" json:"model_dir"`
	// LibraryPath is the ONNX Runtime shared library. Default $SEGSTREAM_ORT_LIB,
	// else var/lib/libonnxruntime.so.1. The first Encoder of a process loads
	// it; a later one asking for another path fails (the runtime is global).
	LibraryPath string `yaml:"library_path" json:"library_path"`
	// Provider is "cpu" (default) or "cuda".
	Provider string `yaml:"provider" json:"provider"`
	// DeviceID is the CUDA device (default 0); ignored on the CPU.
	DeviceID int `yaml:"device_id" json:"device_id"`
	// IntraOpThreads is ONNX Runtime's thread count per run. Default GOMAXPROCS
	// divided by Sessions (at least 1).
	IntraOpThreads int `yaml:"intra_op_threads" json:"intra_op_threads"`
	// MaxBatch is the most texts per model run. Default 64.
	MaxBatch int `yaml:"max_batch" json:"max_batch"`
	// MaxWait is how long the batcher holds a partial batch for more requests.
	// Default 5ms. A full batch goes out at once.
	MaxWait time.Duration `yaml:"max_wait" json:"max_wait"`
	// Sessions is the number of workers running batches concurrently (they share
	// one ONNX Runtime session). Default 1: on the CPU one run already uses
	// every core through IntraOpThreads.
	Sessions int `yaml:"sessions" json:"sessions"`
	// Nice is the Linux scheduling priority (0..19) of the threads that run
	// the model (each worker's thread, and ONNX Runtime's pool, created from
	// a thread with that priority). 0 (default) leaves them as they are; the
	// service sets 10, so that folding and labelling get the CPU first when
	// it is scarce and the encoder takes what is left.
	Nice int `yaml:"nice" json:"nice"`
}

// SetDefaults fills the zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.ModelDir == "" {
		c.ModelDir = DefaultModelDir
	}
	if c.LibraryPath == "" {
		if p := os.Getenv(EnvLibraryPath); p != "" {
			c.LibraryPath = p
		} else {
			c.LibraryPath = DefaultLibraryPath
		}
	}
	if c.Provider == "" {
		c.Provider = "cpu"
	}
	if c.Sessions == 0 {
		c.Sessions = 1
	}
	if c.IntraOpThreads == 0 {
		c.IntraOpThreads = max(1, runtime.GOMAXPROCS(0)/max(1, c.Sessions))
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 64
	}
	if c.MaxWait == 0 {
		c.MaxWait = 5 * time.Millisecond
	}
}

// Validate checks the options and their combinations. Errors name the field
// as it appears in the service's YAML (encoder.<field>) and wrap ErrConfig.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: encoder.%s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.ModelDir == "" {
		bad("model_dir", "must be set (a folder with model.onnx, tokenizer.json, spec.json)")
	}
	if c.LibraryPath == "" {
		bad("library_path", "must be set (the ONNX Runtime shared library; run tools/encoder/setup.sh)")
	}
	switch c.Provider {
	case "cpu", "cuda":
	default:
		bad("provider", "%q is not one of cpu, cuda", c.Provider)
	}
	if c.DeviceID < 0 {
		bad("device_id", "must be >= 0, got %d", c.DeviceID)
	}
	if c.Provider != "cuda" && c.DeviceID != 0 {
		bad("device_id", "is %d but provider is %q; device_id applies to cuda only", c.DeviceID, c.Provider)
	}
	if c.IntraOpThreads < 1 || c.IntraOpThreads > 1024 {
		bad("intra_op_threads", "must be in 1..1024, got %d", c.IntraOpThreads)
	}
	if c.Nice < 0 || c.Nice > 19 {
		bad("nice", "must be in 0..19 (a lower priority than the rest of the process), got %d", c.Nice)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 4096 {
		bad("max_batch", "must be in 1..4096, got %d", c.MaxBatch)
	}
	if c.MaxWait < 0 || c.MaxWait > time.Second {
		bad("max_wait", "must be in 0..1s, got %s", c.MaxWait)
	}
	if c.Sessions < 1 || c.Sessions > 64 {
		bad("sessions", "must be in 1..64, got %d", c.Sessions)
	}
	return errors.Join(errs...)
}

// Spec is spec.json, the small description that sits beside model.onnx and
// makes the encoder model-agnostic.
type Spec struct {
	// ModelVersion names the exact weights; stored beside each embedding so a
	// model change re-encodes.
	ModelVersion string `json:"model_version"`
	// InputStyle is "sparse_ids" (USE-lite) or "bert".
	InputStyle string `json:"input_style"`
	// Inputs maps roles to the graph's input names: "indices" and "values" for
	// sparse_ids; "input_ids", "attention_mask" and optionally "token_type_ids"
	// for bert.
	Inputs map[string]string `json:"inputs"`
	// Output is the graph output to read.
	Output string `json:"output"`
	// OutputKind is "sentence" ([batch, dim]) or "token" ([batch, seq, dim]).
	OutputKind string `json:"output_kind"`
	// Pooling is "none" (sentence outputs), "mean" (masked mean) or "cls".
	Pooling string `json:"pooling"`
	// Normalize L2-normalises the pooled vector.
	Normalize bool `json:"normalize"`
	// MaxTokens is the most tokens the model reads per text (special tokens included).
	MaxTokens int `json:"max_tokens"`
	// Dim is the embedding size.
	Dim int `json:"dim"`
	// Tokenizer says how to read tokenizer.json.
	Tokenizer TokenizerSpec `json:"tokenizer"`
	// MaxBatch, when set, caps Config.MaxBatch for this model: 1 for
	// dynamically quantised (int8) models, whose activation scales are computed
	// over the whole batch, so that a text's embedding would otherwise depend on
	// the texts batched with it (cosine 0.97 to 0.99 for all-MiniLM-L6-v2-q).
	MaxBatch int `json:"max_batch,omitempty"`
}

// TokenizerSpec is the tokenizer part of Spec.
type TokenizerSpec struct {
	// Type is "sentencepiece_unigram" (the Go-side NFKC + Metaspace + sugarme
	// Unigram path) or "wordpiece" (any tokenizer.json sugarme loads whole:
	// normalizer, pre-tokenizer, model, post-processor).
	Type string `json:"type"`
	// ReservedIDs: ids below it are never produced (sentencepiece_unigram).
	ReservedIDs int `json:"reserved_ids,omitempty"`
	// UnkID is the unknown piece (sentencepiece_unigram).
	UnkID int `json:"unk_id,omitempty"`
}

// LoadSpec reads and checks dir/spec.json.
func LoadSpec(dir string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return s, fmt.Errorf("%w: encoder.model_dir: %w (run tools/encoder/setup.sh for the default model)", ErrConfig, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: %s: %w", ErrConfig, filepath.Join(dir, "spec.json"), err)
	}
	err = s.validate() // before the return reads s: validate has a pointer receiver
	return s, err
}

func (s *Spec) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: spec.json %s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if s.ModelVersion == "" {
		bad("model_version", "must be set")
	}
	if s.Output == "" {
		bad("output", "must be set")
	}
	if s.MaxTokens < 1 {
		bad("max_tokens", "must be >= 1")
	}
	if s.Dim < 1 {
		bad("dim", "must be >= 1")
	}
	if s.MaxBatch < 0 {
		bad("max_batch", "must be >= 0 (0: no cap)")
	}
	switch s.InputStyle {
	case "sparse_ids":
		if s.Inputs["indices"] == "" || s.Inputs["values"] == "" {
			bad("inputs", "sparse_ids needs indices and values")
		}
		if s.OutputKind != "sentence" || s.Pooling != "none" {
			bad("output_kind", "sparse_ids models output one vector per text (output_kind sentence, pooling none)")
		}
		if s.Tokenizer.Type != "sentencepiece_unigram" {
			bad("tokenizer.type", "sparse_ids uses sentencepiece_unigram, got %q", s.Tokenizer.Type)
		}
	case "bert":
		if s.Inputs["input_ids"] == "" || s.Inputs["attention_mask"] == "" {
			bad("inputs", "bert needs input_ids and attention_mask (token_type_ids is optional)")
		}
		switch {
		case s.OutputKind == "token" && (s.Pooling == "mean" || s.Pooling == "cls"):
		case s.OutputKind == "sentence" && s.Pooling == "none":
		default:
			bad("pooling", "output_kind %q with pooling %q: use token+mean, token+cls or sentence+none", s.OutputKind, s.Pooling)
		}
		switch s.Tokenizer.Type {
		case "wordpiece", "sentencepiece_unigram":
		default:
			bad("tokenizer.type", "%q is not wordpiece or sentencepiece_unigram", s.Tokenizer.Type)
		}
	default:
		bad("input_style", "%q is not sparse_ids or bert", s.InputStyle)
	}
	return errors.Join(errs...)
}

// ModelsRoot is where tools/encoder/setup.sh puts the models, relative to the
// repo root.
const ModelsRoot = "var/models"

// ModelDir turns a model name or folder into a folder: a bare name (no path
// separator: "use-lite", "all-minilm-l6-v2", "bge-small-zh-v15-q") is
// var/models/NAME; anything else is a folder as given.
func ModelDir(nameOrDir string) string {
	if nameOrDir == "" || strings.ContainsRune(nameOrDir, '/') || strings.ContainsRune(nameOrDir, filepath.Separator) ||
		nameOrDir == "." || nameOrDir == ".." {
		return nameOrDir
	}
	if st, err := os.Stat(nameOrDir); err == nil && st.IsDir() {
		if _, err := os.Stat(filepath.Join(nameOrDir, "spec.json")); err == nil {
			return nameOrDir // a folder of that name here, with a model in it
		}
	}
	return filepath.Join(ModelsRoot, nameOrDir)
}

// resolvePath finds a relative path in the working directory or, failing
// that, in its nearest parent that has it, so the repo's var/ is found from
// the repo root, from a package directory under test, or from a subfolder.
func resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return p
	}
	for i := 0; i < 8; i++ {
		cand := filepath.Join(dir, p)
		if _, err := os.Stat(cand); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return p
}
