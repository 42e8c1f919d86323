package train

import (
	"fmt"
	"io"
)

// logf writes one progress line of Run to w (Config.Log). The error is
// dropped on purpose: the log is progress for people and a failed write
// cannot change the model, so it does not fail the run; a caller that must
// know gives a writer that keeps its error (internal/cli's output does).
func logf(w io.Writer, format string, a ...any) {
	_, _ = fmt.Fprintf(w, format, a...)
}
