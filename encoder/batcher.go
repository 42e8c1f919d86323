package encoder

import (
	"context"
	"time"
)

// request is one chunk of an Encode call: at most MaxBatch token sequences.
type request struct {
	seqs []Tokens
	out  [][]float32
	err  error
	enq  time.Time
	done chan struct{}
	// tokens and longest: the sum and the most of its sequences' lengths
	tokens, longest int
	// full: a batch of its own, sent at once (padOK cut it short of maxBatch)
	full bool
}

func newRequest(seqs []Tokens) *request {
	r := &request{seqs: seqs, done: make(chan struct{})}
	for _, s := range seqs {
		r.tokens += len(s.IDs)
		r.longest = max(r.longest, len(s.IDs))
	}
	return r
}

// batcher gathers requests into batches of at most maxBatch sequences. A
// batch goes to the workers when it is full (maxBatch sequences, or a request
// marked full), or maxWait after its first request arrived, whichever comes
// first. It never splits a request, so a
// request that does not fit starts the next batch.
type batcher struct {
	in       chan *request
	work     chan []*request
	maxBatch int
	maxWait  time.Duration
	onWait   func(time.Duration)
	// padded: runs are padded to their longest sequence (BERT), so requests
	// are merged only while padOK holds.
	padded bool
}

func newBatcher(maxBatch int, maxWait time.Duration) *batcher {
	return &batcher{
		in:       make(chan *request),
		work:     make(chan []*request),
		maxBatch: maxBatch,
		maxWait:  maxWait,
	}
}

// submit hands r to the batcher; it fails when ctx ends or the batcher stops.
func (b *batcher) submit(ctx context.Context, stopped <-chan struct{}, r *request) error {
	r.enq = time.Now()
	select {
	case b.in <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stopped:
		return ErrClosed
	}
}

// loop runs until ctx ends. Requests it holds then are answered with ErrClosed.
func (b *batcher) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var carry *request
	fail := func(batch []*request) {
		for _, r := range batch {
			r.err = ErrClosed
			close(r.done)
		}
	}
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.in:
			case <-ctx.Done():
				return
			}
		}
		batch := []*request{first}
		n, tokens, longest := len(first.seqs), first.tokens, first.longest
		if n < b.maxBatch && !first.full && b.maxWait > 0 {
			timer.Reset(b.maxWait)
		gather:
			for n < b.maxBatch {
				select {
				case r := <-b.in:
					if n+len(r.seqs) > b.maxBatch ||
						b.padded && !padOK(n+len(r.seqs), max(longest, r.longest), tokens+r.tokens) {
						carry = r
						break gather
					}
					batch = append(batch, r)
					n += len(r.seqs)
					tokens += r.tokens
					longest = max(longest, r.longest)
				case <-timer.C:
					break gather
				case <-ctx.Done():
					timer.Stop()
					fail(batch)
					return
				}
			}
			timer.Stop()
		}
		select {
		case b.work <- batch:
		case <-ctx.Done():
			fail(batch)
			if carry != nil {
				fail([]*request{carry})
			}
			return
		}
	}
}

// worker runs batches until ctx ends.
func (b *batcher) worker(ctx context.Context, run func([]Tokens, *packBuf) ([][]float32, error)) {
	var buf packBuf
	var seqs []Tokens
	for {
		var batch []*request
		select {
		case batch = <-b.work:
		case <-ctx.Done():
			return
		}
		seqs = seqs[:0]
		now := time.Now()
		for _, r := range batch {
			seqs = append(seqs, r.seqs...)
			if b.onWait != nil {
				b.onWait(now.Sub(r.enq))
			}
		}
		out, err := run(seqs, &buf)
		k := 0
		for _, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.out = out[k : k+len(r.seqs)]
			}
			k += len(r.seqs)
			close(r.done)
		}
		clear(seqs) // drop references to the callers' token slices
	}
}
