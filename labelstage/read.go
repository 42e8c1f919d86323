package labelstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

// The reads of the read API: a user's label document and profile in one
// round trip, its history, a page of a member index, and the size series.

// UserRead is what one round trip reads of a user.
type UserRead struct {
	// Doc is the stored label document as JSON (nil when none yet).
	Doc       []byte
	Version   int64
	Published int64
	Erased    bool
	// Profile is nil when the user has none (or it is a tombstone).
	Profile *featurestore.Profile
}

// Known tells whether the user exists at all (a profile, a label record,
// or an erasure).
func (u UserRead) Known() bool { return u.Doc != nil || u.Erased || u.Profile != nil || u.Version > 0 }

// User reads a user's label record (its document as stored, not decoded)
// and profile in one round trip.
func (st *Stage) User(ctx context.Context, user string) (UserRead, error) {
	out, err := st.Users(ctx, []string{user})
	if err != nil {
		return UserRead{}, err
	}
	return out[0], nil
}

// Users reads several users as User does, all in one round trip (the read
// API coalesces concurrent requests into one call).
func (st *Stage) Users(ctx context.Context, users []string) ([]UserRead, error) {
	pipe := st.rdb.Pipeline()
	profs := st.store.QueueReads(ctx, pipe, users)
	labs := make([]*redis.SliceCmd, len(users))
	for i, u := range users {
		labs[i] = pipe.HMGet(ctx, st.sp.Label(u), "doc", "ver", "published", "erased")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]UserRead, len(users))
	for i := range users {
		vals := labs[i].Val()
		if len(vals) < 4 {
			return nil, fmt.Errorf("label record of %q: %w", users[i], labs[i].Err())
		}
		str := func(j int) string { s, _ := vals[j].(string); return s }
		u := &out[i]
		if d := str(0); d != "" && d != "null" {
			u.Doc = []byte(d)
		}
		u.Version, _ = strconv.ParseInt(str(1), 10, 64)
		u.Published, _ = strconv.ParseInt(str(2), 10, 64)
		u.Erased = str(3) == "1"
		p, ok, err := profs.Profile(i)
		if err != nil {
			return nil, err
		}
		if p != nil && p.ErasedAt != 0 {
			u.Erased = true
		}
		if ok {
			u.Profile = p
		}
		if u.Erased {
			u.Doc, u.Profile = nil, nil
		}
	}
	return out, nil
}

// History returns a user's newest history entries, newest first (all that
// are kept when limit ≤ 0), and the record's current version and erased
// marker.
func (st *Stage) History(ctx context.Context, user string, limit int) (entries []label.HistoryEntry, version int64, erased bool, err error) {
	pipe := st.rdb.Pipeline()
	stop := int64(limit) - 1
	if limit <= 0 {
		stop = -1
	}
	h := pipe.ZRevRange(ctx, st.sp.History(user), 0, stop)
	lab := pipe.HMGet(ctx, st.sp.Label(user), "ver", "erased")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, false, err
	}
	vals := lab.Val()
	if s, ok := vals[0].(string); ok {
		version, _ = strconv.ParseInt(s, 10, 64)
	}
	if s, ok := vals[1].(string); ok && s == "1" {
		return nil, version, true, nil
	}
	for _, raw := range h.Val() {
		var e label.HistoryEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, version, false, fmt.Errorf("history of %q: %w", user, err)
		}
		entries = append(entries, e)
	}
	return entries, version, false, nil
}

// Member is one user of a member index and the clock time it entered.
type Member struct {
	User  string
	Since time.Time
	// score is the index's own score, for the cursor.
	Score string
}

// MembersPage reads up to limit members of a segment's index in its
// order (entry time, then user id) after the cursor (afterScore, afterUser;
// afterScore "" for the first page), and the index's size, in one round
// trip to the segment's node. A member who stays is returned once however
// others enter and leave between pages; one who enters after the cursor
// passed its place is not returned.
func (st *Stage) MembersPage(ctx context.Context, segment, afterScore, afterUser string, limit int) ([]Member, int64, error) {
	key := st.sp.Members(segment)
	for attempt := 0; ; attempt++ {
		pipe := st.rdb.Pipeline()
		page := keyspace.MembersPage.EvalSha(ctx, pipe, []string{key}, afterScore, afterUser, limit)
		size := pipe.ZCard(ctx, key)
		_, err := pipe.Exec(ctx)
		if retry, lerr := keyspace.Recover(ctx, st.rdb, err); retry && attempt == 0 {
			if lerr != nil {
				return nil, 0, lerr
			}
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		flat, err := page.StringSlice()
		if err != nil {
			return nil, 0, err
		}
		out := make([]Member, 0, len(flat)/2)
		for i := 0; i+1 < len(flat); i += 2 {
			f, _ := strconv.ParseFloat(flat[i+1], 64)
			out = append(out, Member{User: flat[i], Score: flat[i+1], Since: time.Unix(int64(f), 0).UTC()})
		}
		return out, size.Val(), nil
	}
}

// SizeSample is a segment's size at a clock time.
type SizeSample struct {
	At   time.Time
	Size int64
}

// Size series retention, in clock time.
const (
	sizesFineKeep   = 48 * time.Hour
	sizesHourlyKeep = 400 * 24 * time.Hour
)

// RecordSizes records sizes (a segment's member count, as SegmentSizes
// reads them) into each segment's series at clock time at: one sample per clock minute for two days, and the last
// sample of each clock hour for 400 days (a later sample of the same minute
// or hour replaces the earlier). Several instances sampling the same minute write
// the same kind of value; the last one stays.
func (st *Stage) RecordSizes(ctx context.Context, sizes map[string]int64, at time.Time) error {
	if len(sizes) == 0 || at.IsZero() {
		return nil
	}
	minute := at.Truncate(time.Minute).Unix()
	hour := minute - minute%3600
	pipe := st.rdb.Pipeline()
	for s, n := range sizes {
		fine, hourly := st.sp.SizeSeries(s), st.sp.SizeSeriesHourly(s)
		m := strconv.FormatInt(minute, 10)
		pipe.ZRemRangeByScore(ctx, fine, m, m)
		pipe.ZAdd(ctx, fine, redis.Z{Score: float64(minute), Member: m + ":" + strconv.FormatInt(n, 10)})
		pipe.ZRemRangeByScore(ctx, fine, "-inf", "("+strconv.FormatInt(at.Add(-sizesFineKeep).Unix(), 10))
		// the hour keeps its last sample, at that sample's minute
		pipe.ZRemRangeByScore(ctx, hourly, strconv.FormatInt(hour, 10), strconv.FormatInt(hour+3599, 10))
		pipe.ZAdd(ctx, hourly, redis.Z{Score: float64(minute), Member: m + ":" + strconv.FormatInt(n, 10)})
		pipe.ZRemRangeByScore(ctx, hourly, "-inf", "("+strconv.FormatInt(at.Add(-sizesHourlyKeep).Unix(), 10))
	}
	_, err := pipe.Exec(ctx)
	return err
}

// SizeSeries returns a segment's samples from both resolutions between
// from and to, ascending, with the last sample before from (if any) first,
// so that a reader can tell the size at every moment of the range.
func (st *Stage) SizeSeries(ctx context.Context, segment string, from, to time.Time) ([]SizeSample, error) {
	f, t := strconv.FormatInt(from.Unix(), 10), strconv.FormatInt(to.Unix(), 10)
	pipe := st.rdb.Pipeline()
	var cmds []*redis.StringSliceCmd
	for _, key := range []string{st.sp.SizeSeries(segment), st.sp.SizeSeriesHourly(segment)} {
		cmds = append(cmds,
			pipe.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: "(" + f, Stop: "-inf", ByScore: true, Rev: true, Count: 1}),
			pipe.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: f, Stop: t, ByScore: true}))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	seen := map[int64]SizeSample{}
	var before *SizeSample
	for i, c := range cmds {
		for _, m := range c.Val() {
			ts, n, ok := strings.Cut(m, ":")
			if !ok {
				continue
			}
			sec, err1 := strconv.ParseInt(ts, 10, 64)
			size, err2 := strconv.ParseInt(n, 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			s := SizeSample{At: time.Unix(sec, 0).UTC(), Size: size}
			if i%2 == 0 { // the last before from, from either resolution
				if before == nil || s.At.After(before.At) {
					before = &s
				}
				continue
			}
			seen[sec] = s // both resolutions hold the same minute's sample
		}
	}
	out := make([]SizeSample, 0, len(seen)+1)
	if before != nil {
		out = append(out, *before)
	}
	rest := make([]SizeSample, 0, len(seen))
	for _, s := range seen {
		rest = append(rest, s)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].At.Before(rest[j].At) })
	return append(out, rest...), nil
}

// SizeAt is the size a series (SizeSeries's result) gives at time t: the
// last sample at or before t; ok is false before the first sample.
func SizeAt(series []SizeSample, t time.Time) (int64, bool) {
	i := sort.Search(len(series), func(i int) bool { return series[i].At.After(t) })
	if i == 0 {
		return 0, false
	}
	return series[i-1].Size, true
}

// HistoryKept is how many versions each user's history keeps
// (labels.history).
func (st *Stage) HistoryKept() int { return st.cfg.History }

// FlowHour is a segment's entries and exits in one clock hour.
type FlowHour struct {
	At              time.Time
	Entered, Exited int64
}

// Flow returns a segment's entries and exits per clock hour from the hour
// of from to the hour of to, ascending, every hour present (zeros where
// none). The counts follow the label writes that won (flowCounts).
func (st *Stage) Flow(ctx context.Context, segment string, from, to time.Time) ([]FlowHour, error) {
	m, err := st.rdb.HGetAll(ctx, st.sp.Flow(segment)).Result()
	if err != nil {
		return nil, err
	}
	first, last := from.Unix()-from.Unix()%3600, to.Unix()-to.Unix()%3600
	if last < first {
		return []FlowHour{}, nil
	}
	out := make([]FlowHour, 0, (last-first)/3600+1)
	for h := first; h <= last; h += 3600 {
		hs := strconv.FormatInt(h, 10)
		e, _ := strconv.ParseInt(m[hs+":e"], 10, 64)
		x, _ := strconv.ParseInt(m[hs+":x"], 10, 64)
		out = append(out, FlowHour{At: time.Unix(h, 0).UTC(), Entered: e, Exited: x})
	}
	return out, nil
}

// TrimFlow drops the hourly counts older than 400 days of clock time
// before now from each segment's flow.
func (st *Stage) TrimFlow(ctx context.Context, segs []string, now time.Time) error {
	cut := now.Add(-sizesHourlyKeep).Unix()
	for _, s := range segs {
		fields, err := st.rdb.HKeys(ctx, st.sp.Flow(s)).Result()
		if err != nil {
			return err
		}
		var old []string
		for _, f := range fields {
			h, _, _ := strings.Cut(f, ":")
			if n, err := strconv.ParseInt(h, 10, 64); err == nil && n < cut {
				old = append(old, f)
			}
		}
		if len(old) > 0 {
			if err := st.rdb.HDel(ctx, st.sp.Flow(s), old...).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
