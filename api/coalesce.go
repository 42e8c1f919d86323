package api

import (
	"context"
	"sync"
	"time"

	"github.com/segstream/segstream/labelstage"
)

// userReads coalesces concurrent user reads into one Redis round trip:
// each of its loops takes the first waiting request and every other one
// queued behind it (at most maxBatch), reads them in one pipeline and
// answers each. Under load a round trip serves many requests (fewer
// system calls here and in Redis); alone a request waits for nothing.
type userReads struct {
	read func(ctx context.Context, users []string) ([]labelstage.UserRead, error)
	reqs chan *userReq
	quit chan struct{}
	once sync.Once
}

type userReq struct {
	user string
	done chan userRes
}

type userRes struct {
	u   labelstage.UserRead
	err error
}

const (
	maxBatch   = 64
	readLoops  = 2 // one collects while the other waits on Redis
	readBudget = 5 * time.Second
)

var reqPool = sync.Pool{New: func() any { return &userReq{done: make(chan userRes, 1)} }}

func newUserReads(read func(context.Context, []string) ([]labelstage.UserRead, error)) *userReads {
	c := &userReads{read: read, reqs: make(chan *userReq, 4*maxBatch), quit: make(chan struct{})}
	for i := 0; i < readLoops; i++ {
		go c.loop()
	}
	return c
}

func (c *userReads) get(ctx context.Context, user string) (labelstage.UserRead, error) {
	r := reqPool.Get().(*userReq)
	r.user = user
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		reqPool.Put(r)
		return labelstage.UserRead{}, ctx.Err()
	}
	// the loop always answers (within readBudget), so r can be reused
	res := <-r.done
	reqPool.Put(r)
	return res.u, res.err
}

func (c *userReads) close() { c.once.Do(func() { close(c.quit) }) }

func (c *userReads) loop() {
	batch := make([]*userReq, 0, maxBatch)
	users := make([]string, 0, maxBatch)
	for {
		select {
		case <-c.quit:
			return
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		users = users[:0]
		for _, r := range batch {
			users = append(users, r.user)
		}
		ctx, cancel := context.WithTimeout(context.Background(), readBudget)
		out, err := c.read(ctx, users)
		cancel()
		for i, r := range batch {
			if err != nil {
				r.done <- userRes{err: err}
			} else {
				r.done <- userRes{u: out[i]}
			}
		}
	}
}
