package featurestore

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/keyspace"
	"sync/atomic"
)

// Config configures a Store. Zero fields take the documented defaults.
type Config struct {
	// Prefix starts every key (default "seg"). Tests and tenants isolate
	// themselves by prefix.
	Prefix string `yaml:"prefix"`
	// Limits shape what a profile keeps.
	Limits Limits `yaml:"limits"`
	// CacheBytes is the size of the in-process cache of encoded profiles
	// (default 64 MiB; negative disables it). With the cache a batch costs one
	// Redis round trip (the compare-and-set write) instead of two (read, then
	// write); a stale entry is caught by the compare-and-set and re-read.
	CacheBytes int `yaml:"cache_bytes"`
	// MaxConflictRetries bounds compare-and-set retries per batch (default
	// 32); the consumer retries a failed batch as a whole.
	MaxConflictRetries int `yaml:"max_conflict_retries"`
	// WaitReplicas, when above 0, makes every batch write wait (Redis WAIT)
	// until that many replicas of each written master have it, at most
	// WaitTimeout (default 1s); fewer fail the batch, which is retried and
	// its offsets not committed. Without it a failover can lose writes the
	// master acknowledged (Redis replicates asynchronously) while their
	// Kafka offsets are already committed.
	WaitReplicas int           `yaml:"wait_replicas"`
	WaitTimeout  time.Duration `yaml:"wait_timeout"`
}

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.Prefix == "" {
		c.Prefix = "seg"
	}
	c.Limits = c.Limits.WithDefaults()
	if c.CacheBytes == 0 {
		c.CacheBytes = 64 << 20
	}
	if c.MaxConflictRetries == 0 {
		c.MaxConflictRetries = 32
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = time.Second
	}
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	if err := keyspace.ValidatePrefix(c.Prefix); err != nil {
		return fmt.Errorf("featurestore.prefix: %w", err)
	}
	if c.Limits.TextEntryBytes > c.Limits.TextRingBytes {
		return fmt.Errorf("featurestore.limits.text_entry_bytes (%d) must not exceed featurestore.limits.text_ring_bytes (%d)", c.Limits.TextEntryBytes, c.Limits.TextRingBytes)
	}
	if c.WaitReplicas < 0 {
		return fmt.Errorf("featurestore.wait_replicas: %d must not be negative", c.WaitReplicas)
	}
	if c.WaitTimeout < 0 {
		return fmt.Errorf("featurestore.wait_timeout: %s must not be negative", c.WaitTimeout)
	}
	if c.Limits.DedupWindow > 4096 {
		return fmt.Errorf("featurestore.limits.dedup_window: %d is above the maximum 4096", c.Limits.DedupWindow)
	}
	if c.Limits.TopCategories > 64 {
		return fmt.Errorf("featurestore.limits.top_categories: %d is above the maximum 64", c.Limits.TopCategories)
	}
	return nil
}

// FoldResult reports what one Fold call did.
type FoldResult struct {
	Applied       int // events folded into profiles
	SkippedOffset int // already applied (redelivery)
	SkippedDupID  int // duplicate event_id (producer retry)
	SkippedErased int // events of erased users (dropped)
	Users         int // distinct users whose profile changed
	TextChanged   int // of which the text part changed
	Conflicts     int // compare-and-set conflicts retried
	RoundTrips    int // Redis round trips used
}

// Store folds events into per-user profiles in Redis. It is safe for
// concurrent use by many partition workers: each profile write is a
// compare-and-set on the profile's revision, so concurrent writers of one
// user (its clickstream and purchase partitions owned by different
// instances, or a zombie owner after a rebalance) never lose updates.
type Store struct {
	rdb   redis.UniversalClient
	sp    *keyspace.Space
	cfg   Config
	log   *zap.Logger
	m     *metrics
	cache *blobCache

	onChange atomic.Pointer[func()] // called after a fold put users on the change feed
}

// New returns a Store. log and reg may be nil.
func New(rdb redis.UniversalClient, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Store, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	m := newMetrics(reg)
	sp := keyspace.New(rdb, cfg.Prefix, keyspace.Durability{WaitReplicas: cfg.WaitReplicas, WaitTimeout: cfg.WaitTimeout}, m.replicaShortfalls.Inc)
	s := &Store{rdb: rdb, sp: sp, cfg: cfg, log: log.With(zap.String("component", "featurestore")), m: m}
	if cfg.CacheBytes > 0 {
		s.cache = newBlobCache(cfg.CacheBytes)
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Store) Config() Config { return s.cfg }

// OnChange sets a function called after each fold that put users on the
// change feed (the label stage of the same process wakes its workers with
// it, instead of waiting for its next poll). It must not block; nil
// removes it.
func (s *Store) OnChange(f func()) {
	if f == nil {
		s.onChange.Store(nil)
		return
	}
	s.onChange.Store(&f)
}

// Space is the store's Redis key space (key names, batches, queues),
// shared with the label stage.
func (s *Store) Space() *keyspace.Space { return s.sp }

// Keys names the store's keys.
func (s *Store) Keys() keyspace.Keys { return s.sp.Keys }

// Watermark returns the newest event time folded so far (zero if none).
func (s *Store) Watermark(ctx context.Context) (time.Time, error) { return s.sp.Watermark(ctx) }

// Erase turns a user's profile into a tombstone (see Profile.ErasedAt):
// profile data is gone, the user stays erased, and later events for the
// user are dropped. It is idempotent.
func (s *Store) Erase(ctx context.Context, userID string, now time.Time) error {
	for attempt := 0; attempt < s.cfg.MaxConflictRetries; attempt++ {
		cur, err := s.rdb.Get(ctx, s.sp.Profile(userID)).Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("featurestore: erasing %q: %w", userID, err)
		}
		var expect string
		var prevRev uint64
		if err == nil && len(cur) >= revBytes {
			expect = string(cur[:revBytes])
			prevRev = revOf(cur)
		}
		t := &Profile{UserID: userID, ErasedAt: now.Unix()}
		for t.Rev == 0 || t.Rev == prevRev {
			t.Rev = rand.Uint64()
		}
		ok, err := keyspace.ProfileCAS.Run(ctx, s.rdb, []string{s.sp.Profile(userID)}, expect, Marshal(t)).Int()
		if err != nil {
			return fmt.Errorf("featurestore: erasing %q: %w", userID, err)
		}
		if ok == 1 {
			s.Invalidate(userID)
			if err := s.rdb.ZRem(ctx, s.sp.Changes(), userID).Err(); err != nil {
				return fmt.Errorf("featurestore: erasing %q: taking it off the change feed: %w", userID, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: erasing %q", ErrConflictRetries, userID)
}

type userBatch struct {
	id       string
	recs     []events.Record
	base     []byte // record the fold started from (nil: none)
	baseRev  uint64
	hasBase  bool
	out      []byte
	textChg  bool
	written  bool // a write of this user succeeded in this Fold
	lastSeen int64
	res      FoldResult
}

// Fold applies a batch of records. Records of one user must be in the order
// they are to be applied (offset order within a partition). Events already
// applied (at or below the profile's partition mark) or with a recently
// seen event_id are skipped, so Fold is idempotent under redelivery. When it
// returns nil every applied event is durable in Redis and the change feed
// names every changed user. It costs one Redis round trip when the profiles
// are cached, two when they must be read, plus one per conflict retry; on
// Redis Cluster the feed entries take one more after the profiles.
func (s *Store) Fold(ctx context.Context, recs []events.Record) (FoldResult, error) {
	start := time.Now()
	var total FoldResult
	if len(recs) == 0 {
		return total, nil
	}
	idx := make(map[string]int, 64)
	var users []*userBatch
	for _, r := range recs {
		i, ok := idx[r.Event.UserID]
		if !ok {
			i = len(users)
			idx[r.Event.UserID] = i
			users = append(users, &userBatch{id: r.Event.UserID})
		}
		users[i].recs = append(users[i].recs, r)
	}

	pending := users
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > s.cfg.MaxConflictRetries {
			return total, fmt.Errorf("%w: %d users still conflicting after %d attempts", ErrConflictRetries, len(pending), attempt)
		}
		if attempt > 1 {
			// Two writers hammering the same users would otherwise collide
			// in lock step: back off with jitter.
			d := time.Duration(rand.IntN(1000*min(attempt, 10))) * time.Microsecond
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(d):
			}
		}
		rt, err := s.load(ctx, pending, attempt > 0)
		total.RoundTrips += rt
		if err != nil {
			return total, err
		}
		var writes []*userBatch
		for _, u := range pending {
			if err := s.apply(u); err != nil {
				return total, err
			}
			if u.out != nil {
				writes = append(writes, u)
			}
		}
		conflicted, rt, err := s.write(ctx, writes)
		total.RoundTrips += rt
		if err != nil {
			return total, err
		}
		total.Conflicts += len(conflicted)
		pending = conflicted
	}
	rt, err := s.feedSkipped(ctx, users)
	total.RoundTrips += rt
	if err != nil {
		return total, err
	}
	for _, u := range users {
		total.Applied += u.res.Applied
		total.SkippedOffset += u.res.SkippedOffset
		total.SkippedDupID += u.res.SkippedDupID
		total.SkippedErased += u.res.SkippedErased
		if u.res.Applied > 0 {
			total.Users++
		}
		if u.textChg {
			total.TextChanged++
		}
	}
	s.m.observe(total, time.Since(start))
	if f := s.onChange.Load(); f != nil && (total.Users > 0 || total.SkippedOffset > 0) {
		(*f)()
	}
	return total, nil
}

// load fills base for each user: from the cache unless forced, otherwise
// with one MGET.
func (s *Store) load(ctx context.Context, us []*userBatch, force bool) (int, error) {
	var miss []*userBatch
	for _, u := range us {
		u.hasBase = false
		if !force && s.cache != nil {
			if b, ok := s.cache.get(u.id); ok {
				u.base, u.hasBase = b, true
				s.m.cacheHits.Inc()
				continue
			}
		}
		miss = append(miss, u)
	}
	if len(miss) == 0 {
		return 0, nil
	}
	s.m.cacheMisses.Add(float64(len(miss)))
	keys := make([]string, len(miss))
	for i, u := range miss {
		keys[i] = s.sp.Profile(u.id)
	}
	vals, err := keyspace.GetMany(ctx, s.rdb, keys)
	if err != nil {
		return 1, fmt.Errorf("featurestore: reading %d profiles: %w", len(keys), err)
	}
	for i, u := range miss {
		u.hasBase = true
		u.base = nil
		if v, ok := vals[i].(string); ok {
			u.base = []byte(v)
		}
	}
	return 1, nil
}

// apply folds the user's records onto its base record.
func (s *Store) apply(u *userBatch) error {
	p := &Profile{}
	u.baseRev = 0
	if u.base != nil {
		var err error
		if p, err = unmarshalShared(u.base); err != nil { // a record read or cached: never written to
			return fmt.Errorf("featurestore: user %q: %w", u.id, err)
		}
		u.baseRev = p.Rev
	}
	oldHash := p.TextHash
	u.res = FoldResult{}
	for _, r := range u.recs {
		switch p.Apply(r.Event, MarkOf(r), s.cfg.Limits) {
		case Applied:
			u.res.Applied++
		case SkippedOffset:
			u.res.SkippedOffset++
		case SkippedDupID:
			u.res.SkippedDupID++
		case SkippedErased:
			u.res.SkippedErased++
		}
	}
	u.out = nil
	u.textChg = false
	if u.res.Applied == 0 {
		return nil
	}
	u.textChg = p.TextHash != oldHash
	u.lastSeen = p.LastSeen
	for {
		p.Rev = rand.Uint64()
		if p.Rev != u.baseRev {
			break
		}
	}
	u.out = Marshal(p)
	return nil
}

// write sends the compare-and-set writes and then the change-feed entries
// in one pipeline (on Redis Cluster: the profiles' nodes, then the feeds'
// node). Profiles go first so that the label stage, which claims a user
// from the feed and then reads the profile, never takes the entry before
// the profile it announces is there. A process that dies in between leaves
// a written profile without its entry: the batch is redelivered, its events
// are skipped by their offset marks, and Fold re-adds those users to the
// feeds (feedSkipped).
func (s *Store) write(ctx context.Context, us []*userBatch) ([]*userBatch, int, error) {
	if len(us) == 0 {
		return nil, 0, nil
	}
	bp := s.sp.NewBatch(ctx)
	cmds := make([]*redis.Cmd, len(us))
	for i, u := range us {
		var expect string
		if u.base != nil {
			expect = string(u.base[:revBytes])
		}
		key := s.sp.Profile(u.id)
		cmds[i] = keyspace.ProfileCAS.EvalSha(ctx, bp.First(key), []string{key}, expect, u.out)
	}
	nowMs := time.Now().UnixMilli()
	changed := make([]redis.Z, 0, len(us))
	var maxTS int64
	for _, u := range us {
		changed = append(changed, redis.Z{Score: float64(oldestReceived(u.recs, nowMs)), Member: u.id})
		maxTS = max(maxTS, u.lastSeen)
	}
	bp.Then(s.sp.Changes()).ZAddNX(ctx, s.sp.Changes(), changed...)
	// the event-time clock only moves forward (ZADD GT)
	bp.Then(s.sp.Clock()).ZAddGT(ctx, s.sp.Clock(), redis.Z{Score: float64(maxTS), Member: "watermark"})
	err := bp.Exec()
	if retry, lerr := keyspace.Recover(ctx, s.rdb, err); retry {
		if lerr != nil {
			return nil, bp.RoundTrips(), fmt.Errorf("featurestore: %w", lerr)
		}
		// retry all: on one server nothing was written; on a cluster other
		// nodes may have written, and their users' compare-and-set now fails
		// on the retry and they re-fold, skipping what their marks cover
		return us, bp.RoundTrips(), nil
	}
	if err != nil {
		return nil, bp.RoundTrips(), fmt.Errorf("featurestore: writing %d profiles: %w", len(us), err)
	}
	var conflicted []*userBatch
	for i, u := range us {
		ok, err := cmds[i].Int()
		if err != nil {
			return nil, bp.RoundTrips(), fmt.Errorf("featurestore: writing profile of %q: %w", u.id, err)
		}
		if ok == 1 {
			u.written = true
			if s.cache != nil {
				s.cache.put(u.id, u.out)
			}
			continue
		}
		s.m.conflicts.Inc()
		if s.cache != nil {
			s.cache.del(u.id)
		}
		conflicted = append(conflicted, u)
	}
	return conflicted, bp.RoundTrips(), nil
}

// oldestReceived is the oldest Kafka timestamp of recs (unix ms), or now.
func oldestReceived(recs []events.Record, nowMs int64) int64 {
	if t := events.OldestReceived(recs); !t.IsZero() {
		return min(t.UnixMilli(), nowMs)
	}
	return nowMs
}

// feedSkipped puts users none of whose events were applied because their
// offsets were already (a redelivered batch) back on the change feed
// (ZADD NX): the write that applied them may have died before its feed
// entry. At worst the label stage evaluates an unchanged profile again,
// and the encoder skips an unchanged text.
func (s *Store) feedSkipped(ctx context.Context, users []*userBatch) (int, error) {
	nowMs := time.Now().UnixMilli()
	var zs []redis.Z
	for _, u := range users {
		if u.written || u.res.SkippedOffset == 0 {
			continue
		}
		zs = append(zs, redis.Z{Score: float64(oldestReceived(u.recs, nowMs)), Member: u.id})
	}
	if len(zs) == 0 {
		return 0, nil
	}
	bp := s.sp.NewBatch(ctx)
	bp.Then(s.sp.Changes()).ZAddNX(ctx, s.sp.Changes(), zs...)
	if err := bp.Exec(); err != nil {
		return bp.RoundTrips(), fmt.Errorf("featurestore: re-adding %d redelivered users to the change feed: %w", len(zs), err)
	}
	return bp.RoundTrips(), nil
}

// ErrNoProfile is returned by Get for a user without a profile.
var ErrNoProfile = errors.New("featurestore: no profile for user")

// Get reads a user's profile from Redis (never from the cache).
func (s *Store) Get(ctx context.Context, userID string) (*Profile, error) {
	b, err := s.rdb.Get(ctx, s.sp.Profile(userID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w %q (key %s)", ErrNoProfile, userID, s.sp.Profile(userID))
	}
	if err != nil {
		return nil, fmt.Errorf("featurestore: reading profile of %q: %w", userID, err)
	}
	p, err := Unmarshal(b)
	if err != nil {
		return nil, err
	}
	if p.ErasedAt != 0 {
		return nil, fmt.Errorf("%w %q: erased at %s", ErrErased, userID, time.Unix(p.ErasedAt, 0).UTC().Format(time.RFC3339))
	}
	return p, nil
}

// Invalidate drops a user's cached profile (after an external delete).
func (s *Store) Invalidate(userID string) {
	if s.cache != nil {
		s.cache.del(userID)
	}
}

// Change is one entry of a change feed.
type Change struct {
	UserID string
	Since  time.Time // first change not yet processed
}

// PendingChanges lists up to n users of the change feed, oldest first,
// without removing them.
func (s *Store) PendingChanges(ctx context.Context, n int64) ([]Change, error) {
	key := s.sp.Changes()
	zs, err := s.rdb.ZRangeWithScores(ctx, key, 0, n-1).Result()
	if err != nil {
		return nil, fmt.Errorf("featurestore: reading change feed %s: %w", key, err)
	}
	out := make([]Change, len(zs))
	for i, z := range zs {
		out[i] = Change{UserID: fmt.Sprint(z.Member), Since: time.UnixMilli(int64(z.Score))}
	}
	return out, nil
}

// revOf returns the revision prefix of a record.
func revOf(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// blobCache is a byte-bounded LRU of encoded profiles.
type blobCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	val []byte
}

func newBlobCache(max int) *blobCache {
	return &blobCache{max: max, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *blobCache) get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).val, true
	}
	return nil, false
}

func (c *blobCache) put(k string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		ce := e.Value.(*cacheEntry)
		c.size += len(v) - len(ce.val)
		ce.val = v
		c.ll.MoveToFront(e)
	} else {
		c.items[k] = c.ll.PushFront(&cacheEntry{key: k, val: v})
		c.size += len(k) + len(v) + 64
	}
	for c.size > c.max && c.ll.Len() > 0 {
		e := c.ll.Back()
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.items, ce.key)
		c.size -= len(ce.key) + len(ce.val) + 64
	}
}

func (c *blobCache) del(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.items, k)
		c.size -= len(ce.key) + len(ce.val) + 64
	}
}
