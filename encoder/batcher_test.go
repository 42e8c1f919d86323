package encoder

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeRun returns, for each sequence, a vector holding its first id, and
// records the batch sizes it saw.
type fakeRun struct {
	mu    sync.Mutex
	sizes []int
	delay time.Duration
	err   error
}

func (f *fakeRun) run(seqs []Tokens, _ *packBuf) ([][]float32, error) {
	f.mu.Lock()
	f.sizes = append(f.sizes, len(seqs))
	f.mu.Unlock()
	time.Sleep(f.delay)
	if f.err != nil {
		return nil, f.err
	}
	out := make([][]float32, len(seqs))
	for i, s := range seqs {
		out[i] = []float32{float32(s.IDs[0])}
	}
	return out, nil
}

func startBatcher(t *testing.T, maxBatch int, maxWait time.Duration, f *fakeRun, workers int) (*batcher, chan struct{}) {
	t.Helper()
	b := newBatcher(maxBatch, maxWait)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() { defer wg.Done(); b.loop(ctx) }()
	for i := 0; i < workers; i++ {
		go func() { defer wg.Done(); b.worker(ctx, f.run) }()
	}
	t.Cleanup(func() { cancel(); close(stopped); wg.Wait() })
	return b, stopped
}

func req(ids ...int64) *request {
	r := &request{done: make(chan struct{})}
	for _, id := range ids {
		r.seqs = append(r.seqs, Tokens{IDs: []int64{id}})
	}
	return r
}

func wait(t *testing.T, r *request) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("request not answered within 5s")
	}
}

func TestBatcherGathersUpToMaxBatch(t *testing.T) {
	f := &fakeRun{}
	b, stopped := startBatcher(t, 4, time.Hour, f, 1)
	// Ten single-text requests, no deadline to speak of: batches go out only
	// when full, so 4+4 go out and 2 wait.
	var rs []*request
	for i := 0; i < 10; i++ {
		r := req(int64(i))
		if err := b.submit(context.Background(), stopped, r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for _, r := range rs[:8] {
		wait(t, r)
	}
	for i, r := range rs[:8] {
		if r.err != nil || len(r.out) != 1 || r.out[0][0] != float32(i) {
			t.Fatalf("request %d: out %v err %v", i, r.out, r.err)
		}
	}
	select {
	case <-rs[8].done:
		t.Fatal("a partial batch went out before MaxWait")
	case <-time.After(50 * time.Millisecond):
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sizes) != 2 || f.sizes[0] != 4 || f.sizes[1] != 4 {
		t.Errorf("batch sizes %v, want [4 4]", f.sizes)
	}
}

func TestBatcherFlushesAfterMaxWait(t *testing.T) {
	f := &fakeRun{}
	b, stopped := startBatcher(t, 64, 20*time.Millisecond, f, 1)
	start := time.Now()
	r1, r2 := req(1), req(2, 3)
	if err := b.submit(context.Background(), stopped, r1); err != nil {
		t.Fatal(err)
	}
	if err := b.submit(context.Background(), stopped, r2); err != nil {
		t.Fatal(err)
	}
	wait(t, r1)
	wait(t, r2)
	if el := time.Since(start); el < 15*time.Millisecond {
		t.Errorf("partial batch went out after %s, before MaxWait", el)
	}
	if len(r2.out) != 2 || r2.out[1][0] != 3 {
		t.Errorf("r2.out = %v", r2.out)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sizes) != 1 || f.sizes[0] != 3 {
		t.Errorf("batch sizes %v, want one batch of 3", f.sizes)
	}
}

func TestBatcherNeverSplitsOrOverfills(t *testing.T) {
	f := &fakeRun{delay: time.Millisecond}
	b, stopped := startBatcher(t, 5, 2*time.Millisecond, f, 2)
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ids := make([]int64, 1+g%5)
			for i := range ids {
				ids[i] = int64(g*10 + i)
			}
			r := req(ids...)
			if err := b.submit(context.Background(), stopped, r); err != nil {
				t.Error(err)
				return
			}
			wait(t, r)
			for i, v := range r.out {
				if v[0] != float32(ids[i]) {
					t.Errorf("goroutine %d: out[%d] = %v, want %d", g, i, v, ids[i])
				}
			}
		}(g)
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.sizes {
		if n > 5 {
			t.Errorf("batch of %d > MaxBatch 5", n)
		}
	}
}

func TestBatcherRunErrorReachesEveryRequest(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeRun{err: boom}
	b, stopped := startBatcher(t, 2, time.Hour, f, 1)
	r1, r2 := req(1), req(2)
	_ = b.submit(context.Background(), stopped, r1)
	_ = b.submit(context.Background(), stopped, r2)
	wait(t, r1)
	wait(t, r2)
	if !errors.Is(r1.err, boom) || !errors.Is(r2.err, boom) {
		t.Errorf("errors %v, %v; want boom", r1.err, r2.err)
	}
}

func TestBatcherSubmitHonoursContext(t *testing.T) {
	b := newBatcher(4, time.Millisecond) // no loop running: a send would block forever
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.submit(ctx, make(chan struct{}), req(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("submit with a dead context: %v", err)
	}
	stopped := make(chan struct{})
	close(stopped)
	if err := b.submit(context.Background(), stopped, req(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after stop: %v", err)
	}
}

// lenReq is a request of sequences of the given lengths.
func lenReq(lens ...int) *request {
	seqs := make([]Tokens, len(lens))
	for i, n := range lens {
		seqs[i] = Tokens{IDs: make([]int64, n)}
		seqs[i].IDs[0] = int64(n)
	}
	return newRequest(seqs)
}

func TestPadOK(t *testing.T) {
	for _, tc := range []struct {
		n, maxLen, sum int
		want           bool
	}{
		{2, 20, 30, true},         // 40 padded for 30 tokens
		{2, 50, 60, false},        // 100 padded for 60
		{64, 16, 64 * 12, true},   // short texts of 10 to 16 tokens share a run
		{64, 256, 64 * 256, true}, // exactly the token budget
		{64, 512, 64 * 512, false},
		{32, 512, 32 * 512, true},
		{1, 100000, 100000, false}, // one text alone is always sent (requestEnd keeps one)
	} {
		if got := padOK(tc.n, tc.maxLen, tc.sum); got != tc.want {
			t.Errorf("padOK(%d, %d, %d) = %v, want %v", tc.n, tc.maxLen, tc.sum, got, tc.want)
		}
	}
	e := &Encoder{cfg: Config{MaxBatch: 4}, spec: Spec{InputStyle: "bert"}}
	seqs := lenReq(5, 6, 7, 8, 9, 60, 61, 300).seqs
	var cuts []int
	for lo := 0; lo < len(seqs); {
		hi := e.requestEnd(seqs, lo)
		cuts = append(cuts, hi-lo)
		lo = hi
	}
	if want := []int{4, 1, 2, 1}; !slicesEqual(cuts, want) {
		t.Errorf("requests of %v texts, want %v", cuts, want)
	}
	e.spec.InputStyle = "sparse_ids"
	if hi := e.requestEnd(seqs, 0); hi != 4 {
		t.Errorf("sparse: request of %d texts, want MaxBatch 4", hi)
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBatcherPadded: with padded runs, requests merge only while padOK holds.
func TestBatcherPadded(t *testing.T) {
	f := &fakeRun{}
	b, stopped := startBatcher(t, 64, 50*time.Millisecond, f, 1)
	b.padded = true
	short1, short2, long := lenReq(10, 12), lenReq(11), lenReq(200)
	ctx := context.Background()
	for _, r := range []*request{short1, short2, long} {
		if err := b.submit(ctx, stopped, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*request{short1, short2, long} {
		wait(t, r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slicesEqual(f.sizes, []int{3, 1}) {
		t.Errorf("runs of %v texts, want [3 1]: the long text must not join the short ones", f.sizes)
	}
}
