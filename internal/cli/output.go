package cli

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"go.uber.org/zap"
)

// output is a command's stdout or stderr. It keeps the first write error
// (the errWriter of "Errors are values") instead of making every print
// check it: once a write has failed, later ones are skipped and return that
// error. Main checks stdout's error once the command has returned, so a
// result that did not reach stdout fails the command. It is an io.Writer
// too (flag sets, JSON encoders, progress bars write through it) and, like
// the *os.File it usually wraps, safe for concurrent use.
type output struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func newOutput(w io.Writer) *output { return &output{w: w} }

// Write writes p unless an earlier write failed, and keeps its error.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	o.err = err
	return n, err
}

// Err is the first write error, nil if every write succeeded.
func (o *output) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// printf, println and print format as their fmt namesakes; a write error
// is kept in o (see Err), so the ones returned here are not needed.
func (o *output) printf(format string, a ...any) { _, _ = fmt.Fprintf(o, format, a...) }
func (o *output) println(a ...any)               { _, _ = fmt.Fprintln(o, a...) }
func (o *output) print(a ...any)                 { _, _ = fmt.Fprint(o, a...) }

// cleanup runs a deferred clean-up (closing a client, deleting a
// benchmark's keys) and reports its failure on o, the command's stderr: by
// then the command has done its work, and a failed clean-up is worth a line
// there, not a failed command.
func (o *output) cleanup(what string, f func() error) {
	if err := f(); err != nil {
		o.printf("segstream: %s: %v\n", what, err)
	}
}

// syncLog flushes a logger when a command ends and reports a failure on
// stderr. A logger writing to a terminal or a pipe cannot sync it (EINVAL,
// or ENOTTY on some systems) and has nothing buffered there, so those
// errors are expected and not reported.
func syncLog(log *zap.Logger, stderr *output) {
	if err := log.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTTY) {
		stderr.printf("segstream: flushing the log: %v\n", err)
	}
}
