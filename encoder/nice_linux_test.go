package encoder

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// threadNices lists the nice value of every thread of this process.
func threadNices(t *testing.T) map[int]int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // the thread ended
		}
		// fields after the command, which ends with ')': state is 3rd, nice 19th
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		n, _ := strconv.Atoi(f[16])
		out[n]++
	}
	return out
}

// With encoder.nice the threads that run the model have that priority,
// and the encoder still encodes; the rest of the process keeps its own.
func TestNiceLowersTheModelThreads(t *testing.T) {
	if threadNices(t)[0] == 0 {
		t.Skip("this process does not run at nice 0")
	}
	enc := newTestEncoder(t, Config{ModelDir: useLiteDir(t), Nice: 10, IntraOpThreads: 2})
	if _, err := enc.Encode(context.Background(), []string{"a red teapot", "garden lights"}); err != nil {
		t.Fatal(err)
	}
	got := threadNices(t)
	t.Logf("threads by nice value: %v", got)
	if got[10] < 1 {
		t.Fatalf("no thread at nice 10: %v", got)
	}
	if got[0] < 1 {
		t.Fatalf("every thread is niced: %v", got)
	}
	c := Config{Nice: 20}
	c.SetDefaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "encoder.nice") {
		t.Fatalf("nice 20: %v", err)
	}
}
