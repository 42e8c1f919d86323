package encoder

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

var (
	// ErrClosed is returned by Encode after Close, and to requests still queued
	// when Close is called.
	ErrClosed = errors.New("encoder: closed")

	// ErrConfig wraps every Config.Validate and spec.json error from New.
	ErrConfig = errors.New("encoder: invalid configuration")

	// ErrLibrary is returned by New when the ONNX Runtime shared library cannot
	// be loaded or initialised (missing file, wrong version).
	ErrLibrary = errors.New("encoder: ONNX Runtime library unavailable")

	// ErrProvider is returned by New when the configured execution provider
	// (CUDA) cannot be used: the library has no CUDA provider, or the CUDA or
	// cuDNN libraries or the driver are missing.
	ErrProvider = errors.New("encoder: execution provider unavailable")

	// ErrModel is returned by New when the model files cannot be loaded, and
	// by Encode when a run fails or returns an unexpected shape.
	ErrModel = errors.New("encoder: model error")

	// ErrTokenize matches the per-text errors of a *BatchError: the tokenizer
	// failed (or panicked) on that text.
	ErrTokenize = errors.New("encoder: tokenization failed")
)

// BatchError reports the texts of one Encode call that failed alone; the
// embeddings of the other texts are returned with it (nil at failed indices).
type BatchError struct {
	// Failed maps the index of each failed text to its error.
	Failed map[int]error
}

func (e *BatchError) Error() string {
	idx := make([]int, 0, len(e.Failed))
	for i := range e.Failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "encoder: %d text(s) failed:", len(idx))
	for k, i := range idx {
		if k == 3 {
			fmt.Fprintf(&b, " ... (%d more)", len(idx)-3)
			break
		}
		fmt.Fprintf(&b, " [%d] %v;", i, e.Failed[i])
	}
	return b.String()
}

// Unwrap returns the distinct per-text errors so errors.Is(err, ErrTokenize) works.
func (e *BatchError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		out = append(out, err)
	}
	return out
}
