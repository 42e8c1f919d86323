package encoder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var _ io.Closer = (*Encoder)(nil)

// maxCLILine bounds one input line of RunEncodeCLI.
const maxCLILine = 16 << 20

// cliChunk is the most input lines RunEncodeCLI gives one Encode call.
const cliChunk = 1024

// RunEncodeCLI is `segstream encode`: it reads one text per line from in and
// writes one JSON array (the embedding) per line to out, in order. Lines that
// arrive together are encoded as one batch; each batch's output is flushed
// before the next is read, so it also works interactively. A line the
// tokenizer rejects is written as `null` and counted; RunEncodeCLI then
// returns an error after the input ends. It stops at EOF, on a read or write
// error, or when ctx ends (then without error if ctx was cancelled).
func RunEncodeCLI(ctx context.Context, enc *Encoder, in io.Reader, out io.Writer) error {
	type line struct {
		text string
		err  error
	}
	lines := make(chan line, 1024)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), maxCLILine)
		for sc.Scan() {
			select {
			case lines <- line{text: strings.TrimSuffix(sc.Text(), "\r")}:
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			select {
			case lines <- line{err: fmt.Errorf("encode: reading input: %w", err)}:
			case <-ctx.Done():
			}
		}
	}()

	w := bufio.NewWriterSize(out, 256<<10)
	// Up to cliChunk lines that are already there go to one Encode call, which
	// orders them by length into batches of MaxBatch (BERT pads a batch to its
	// longest text, so the more lines it can sort, the less padding).
	batchSize := max(enc.cfg.MaxBatch, cliChunk)
	var (
		batch   []string
		failed  int
		readErr error
		buf     []byte
	)
	for {
		batch = batch[:0]
		// Block for the first line, then take what is already there.
		select {
		case l, ok := <-lines:
			if !ok {
				goto done
			}
			if l.err != nil {
				readErr = l.err
				goto done
			}
			batch = append(batch, l.text)
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	more:
		for len(batch) < batchSize {
			select {
			case l, ok := <-lines:
				if !ok || l.err != nil {
					if ok {
						readErr = l.err
					}
					break more
				}
				batch = append(batch, l.text)
			default:
				break more
			}
		}
		vecs, err := enc.Encode(ctx, batch)
		var be *BatchError
		if err != nil && !errors.As(err, &be) {
			if ctx.Err() != nil {
				return ctxErr(ctx)
			}
			return fmt.Errorf("encode: %w", err)
		}
		for _, v := range vecs {
			buf = appendJSONVector(buf[:0], v)
			buf = append(buf, '\n')
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("encode: writing output: %w", err)
			}
		}
		if be != nil {
			failed += len(be.Failed)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("encode: writing output: %w", err)
		}
		if readErr != nil {
			break
		}
	}
done:
	if err := w.Flush(); err != nil {
		return fmt.Errorf("encode: writing output: %w", err)
	}
	if readErr != nil {
		return readErr
	}
	if failed > 0 {
		return fmt.Errorf("encode: %d line(s) could not be tokenized and were written as null: %w", failed, ErrTokenize)
	}
	return nil
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil // shutdown is not a failure
	}
	return ctx.Err()
}

// appendJSONVector writes v as a JSON array of shortest-form float32 numbers,
// or null for a nil vector.
func appendJSONVector(b []byte, v []float32) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']')
}
