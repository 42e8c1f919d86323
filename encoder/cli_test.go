package encoder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestRunEncodeCLI(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: useLiteDir(t), MaxBatch: 3})
	in := "red mug\n\nblue teapot\r\nvintage scarf\nlovely gift 🎁\n中文评论"
	var out bytes.Buffer
	if err := RunEncodeCLI(context.Background(), enc, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	texts := strings.Split(strings.ReplaceAll(in, "\r", ""), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d output lines for %d input lines", len(lines), len(texts))
	}
	want, err := enc.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		var v []float32
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d is not a JSON array: %v", i, err)
		}
		if len(v) != 512 || cosine(v, want[i]) < 0.99999 {
			t.Errorf("line %d (%q): %d values, cosine %f", i, texts[i], len(v), cosine(v, want[i]))
		}
	}
}

// TestRunEncodeCLIInteractive checks that each line is answered before the
// next one is written, as for a person typing.
func TestRunEncodeCLIInteractive(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: useLiteDir(t)})
	pr, pw := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- RunEncodeCLI(context.Background(), enc, pr, outW); _ = outW.Close() }() // io.PipeWriter.Close returns nil
	sc := bufio.NewScanner(outR)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for _, text := range []string{"first", "second"} {
		if _, err := io.WriteString(pw, text+"\n"); err != nil {
			t.Fatal(err)
		}
		got := make(chan bool, 1)
		go func() { got <- sc.Scan() }()
		select {
		case ok := <-got:
			if !ok || !strings.HasPrefix(sc.Text(), "[") {
				t.Fatalf("no embedding for %q: %v", text, sc.Err())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer for %q while input stays open", text)
		}
	}
	_ = pw.Close() // io.PipeWriter.Close returns nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunEncodeCLICancel(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: useLiteDir(t)})
	pr, pw := io.Pipe()
	defer func() { _ = pw.Close() }() // io.PipeWriter.Close returns nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunEncodeCLI(ctx, enc, pr, io.Discard) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cancel is a clean stop, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunEncodeCLI did not stop on cancel")
	}
}

func TestRunEncodeCLIBadLine(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: useLiteDir(t)})
	enc.tok = failingTokenizer{enc.tok}
	var out bytes.Buffer
	err := RunEncodeCLI(context.Background(), enc, strings.NewReader("ok\nbad\nfine\n"), &out)
	if !errors.Is(err, ErrTokenize) {
		t.Errorf("want ErrTokenize after the input, got %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[1] != "null" || !strings.HasPrefix(lines[2], "[") {
		t.Errorf("lines: %d, second %q", len(lines), lines[min(1, len(lines)-1)])
	}
}

// TestRunEncodeCLIBert: a BERT-family model through the CLI: lines of very
// different lengths (sorted into batches inside Encode) come out in input
// order, each equal to its text encoded alone.
func TestRunEncodeCLIBert(t *testing.T) {
	enc := newTestEncoder(t, Config{ModelDir: bertModelDir(t, "bge-small-zh-v15"), MaxBatch: 4})
	texts := []string{strings.Repeat("很好", 100), "好", "质量一般，物流很慢，客服态度还可以", "", "iPhone13很好用",
		strings.Repeat("差", 30), "非常满意！！！", "Great product"}
	var out bytes.Buffer
	if err := RunEncodeCLI(context.Background(), enc, strings.NewReader(strings.Join(texts, "\n")), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d output lines for %d texts", len(lines), len(texts))
	}
	for i, l := range lines {
		var v []float32
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		alone, err := enc.Encode(context.Background(), []string{texts[i]})
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 512 || cosine(v, alone[0]) < 0.99999 {
			t.Errorf("line %d (%q): %d values, cosine %.6f to the text alone", i, texts[i], len(v), cosine(v, alone[0]))
		}
	}
}
