package keyspace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batch sends writes in two ordered phases: everything queued with First
// is on Redis before anything queued with Then (the fold: profiles, then
// their change-feed entries; the label stage: queue and outbox entries,
// then label records; the encoder: embeddings, then the change feed).
//
// On one server both phases go in one pipeline, in that order: one round
// trip. On Redis Cluster they are two round trips, each phase's nodes in
// parallel (a cluster pipeline orders nothing across nodes).
//
// With Durability.WaitReplicas every pipeline ends with WAIT on its own
// connection, so the batch counts as written only once that many replicas
// of every node written to hold it: a failover then cannot drop a write
// whose Kafka offsets were committed. On a cluster that takes one pipeline
// per master (a cluster pipeline would send a key-less WAIT to any node),
// so commands are grouped by the master of their key.
type Batch struct {
	s       *Space
	ctx     context.Context
	cluster *redis.ClusterClient
	phases  [2]phase
	err     error
	rts     int // sequential round trips made by Exec
}

// phase is one round trip: a single pipeline, or one per master.
type phase struct {
	one   redis.Pipeliner
	nodes map[string]redis.Pipeliner
}

// NewBatch starts a Batch with the space's Durability.
func (s *Space) NewBatch(ctx context.Context) *Batch {
	b := &Batch{s: s, ctx: ctx}
	b.cluster, _ = s.rdb.(*redis.ClusterClient)
	switch {
	case b.cluster == nil:
		p := s.rdb.Pipeline()
		b.phases[0].one, b.phases[1].one = p, p // one pipeline: queue First's commands first
	case s.dur.WaitReplicas > 0:
		b.phases[0].nodes, b.phases[1].nodes = map[string]redis.Pipeliner{}, map[string]redis.Pipeliner{}
	default:
		b.phases[0].one, b.phases[1].one = s.rdb.Pipeline(), s.rdb.Pipeline()
	}
	return b
}

// RoundTrips is how many sequential round trips Exec made (1 on one
// server, up to 2 on a cluster; the nodes of one phase count once).
func (b *Batch) RoundTrips() int { return b.rts }

// First returns the pipeline for a first-phase command on key; Then the
// one for a second-phase command. On one server commands run in the order
// queued, so queue each First command before the Then commands it must
// precede.
func (b *Batch) First(key string) redis.Pipeliner { return b.pipe(0, key) }

// Then: see First.
func (b *Batch) Then(key string) redis.Pipeliner { return b.pipe(1, key) }

func (b *Batch) pipe(i int, key string) redis.Pipeliner {
	ph := &b.phases[i]
	if ph.nodes == nil {
		return ph.one
	}
	node, err := b.cluster.MasterForKey(b.ctx, key)
	if err != nil {
		if b.err == nil {
			b.err = fmt.Errorf("keyspace: finding the master of %s: %w", key, err)
		}
		return b.cluster.Pipeline() // never executed: Exec returns b.err
	}
	addr := node.Options().Addr
	p := ph.nodes[addr]
	if p == nil {
		p = node.Pipeline()
		ph.nodes[addr] = p
	}
	return p
}

// Exec sends the phases in order and, with WaitReplicas, checks the
// acknowledgements. It returns the first command error as is (callers
// pass it to Recover for NOSCRIPT), or an error wrapping ErrReplicas.
func (b *Batch) Exec() error {
	if b.err != nil {
		return b.err
	}
	if b.cluster == nil {
		b.rts = 1
		return b.execOne(b.phases[0].one, "")
	}
	for i := range b.phases {
		if err := b.execPhase(&b.phases[i]); err != nil {
			if !errors.Is(err, ErrReplicas) && !IsNoScript(err) {
				b.cluster.ReloadState(b.ctx) // slots may have moved: fresh map for the retry
			}
			return err
		}
	}
	return nil
}

func (b *Batch) execPhase(ph *phase) error {
	if ph.nodes == nil {
		if ph.one.Len() == 0 {
			return nil
		}
		b.rts++
		return b.execOne(ph.one, "")
	}
	if len(ph.nodes) == 0 {
		return nil
	}
	b.rts++
	errs := make(chan error, len(ph.nodes))
	var wg sync.WaitGroup
	for addr, p := range ph.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- b.execOne(p, addr)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// execOne runs one pipeline, ending it with WAIT when configured.
func (b *Batch) execOne(p redis.Pipeliner, node string) error {
	n := b.s.dur.WaitReplicas
	var wait *redis.Cmd
	if n > 0 {
		// on this pipeline's connection: WAIT covers that connection's writes
		wait = p.Do(b.ctx, "wait", n, b.s.dur.WaitTimeout.Milliseconds())
	}
	if _, err := p.Exec(b.ctx); err != nil {
		return err
	}
	if wait == nil {
		return nil
	}
	got, err := wait.Int64()
	if err != nil {
		return fmt.Errorf("keyspace: WAIT: %w", err)
	}
	if got >= int64(n) {
		return nil
	}
	b.s.onShortfall()
	if node != "" {
		node = " on " + node
	}
	return fmt.Errorf("%w: %d of %d replicas%s within %s", ErrReplicas, got, n, node, b.s.dur.WaitTimeout.Round(time.Millisecond))
}
