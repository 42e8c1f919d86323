package featurestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ProfileReads are profile reads queued on a caller's pipeline, so that a
// stage reading profiles together with its own keys (the label stage: the
// label record and the embedding too) pays one round trip; Profile decodes
// each once the pipeline ran.
type ProfileReads struct {
	users []string
	cmds  []*redis.StringCmd
}

// QueueReads queues a GET of each user's profile on pipe.
func (s *Store) QueueReads(ctx context.Context, pipe redis.Pipeliner, users []string) *ProfileReads {
	r := &ProfileReads{users: users, cmds: make([]*redis.StringCmd, len(users))}
	for i, u := range users {
		r.cmds[i] = pipe.Get(ctx, s.sp.Profile(u))
	}
	return r
}

// Profile returns the i-th user's profile after the pipeline ran. ok is
// false for a user without a profile or with an erased one (a tombstone):
// there is nothing to label or encode. A record that does not decode is an
// error naming the user.
func (r *ProfileReads) Profile(i int) (p *Profile, ok bool, err error) {
	raw, err := r.cmds[i].Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("featurestore: reading the profile of %q: %w", r.users[i], err)
	}
	p, err = unmarshalShared(raw) // raw is this read's own copy
	if err != nil {
		return nil, false, fmt.Errorf("featurestore: user %q: %w", r.users[i], err)
	}
	if p.ErasedAt != 0 {
		return p, false, nil
	}
	return p, true, nil
}
