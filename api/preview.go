package api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/segments"
)

// PreviewResult is what definitions would hold over the profiles in Redis
// now (nothing is written).
type PreviewResult struct {
	// At is the clock time the profiles were evaluated at.
	At       time.Time        `json:"at"`
	Profiles int              `json:"profiles"`
	TookMs   float64          `json:"took_ms"`
	Segments []PreviewSegment `json:"segments"`
}

// PreviewSegment is one previewed segment (a family gives one per key
// that has members).
type PreviewSegment struct {
	Name   string   `json:"name"`
	Size   int      `json:"size"`
	Share  float64  `json:"share"`
	Sample []string `json:"sample"`
}

// Preview evaluates set (the live definitions with defs over them) on
// every profile in Redis at the labels' clock and counts the members of
// each of defs (each key of a family). progress, if not nil, is called
// after every batch with the profiles evaluated so far.
func Preview(ctx context.Context, st *labelstage.Stage, model *classifier.Model, set *segments.Set, opt segments.Options, defs []segments.Definition, samples int, progress func(int)) (PreviewResult, error) {
	t0 := time.Now()
	live := segments.NewLive(set.Definitions(), opt, nil, nil)
	seg, err := classifier.NewSegmenterFor(model, live)
	if err != nil {
		return PreviewResult{}, err
	}
	clock, err := st.Clock(ctx)
	if err != nil {
		return PreviewResult{}, err
	}
	mine := map[string]bool{}
	for _, d := range defs {
		mine[d.Name] = true
	}
	of := func(s string) bool {
		if mine[s] {
			return true
		}
		i := strings.IndexByte(s, ':')
		return i > 0 && mine[s[:i+1]+"*"]
	}
	size := map[string]int{}
	sample := map[string][]string{}
	total := 0
	err = st.EachSubject(ctx, func(batch []labelstage.Subject) error {
		for _, sj := range batch {
			asOf := clock
			if ls := time.Unix(sj.Profile.LastSeen, 0).UTC(); asOf.Before(ls) {
				asOf = ls
			}
			d, err := seg.Label(sj.Profile, featurestore.NewView(sj.Profile, asOf), sj.Embs, sj.State, asOf)
			if err != nil {
				return fmt.Errorf("user %q: %w", sj.User, err)
			}
			total++
			for _, s := range d.Segments {
				if of(s) {
					size[s]++
					if len(sample[s]) < samples {
						sample[s] = append(sample[s], sj.User)
					}
				}
			}
		}
		if progress != nil {
			progress(total)
		}
		return ctx.Err()
	})
	if err != nil {
		return PreviewResult{}, err
	}
	for _, d := range defs {
		if _, ok := size[d.Name]; !ok && !strings.HasSuffix(d.Name, "*") {
			size[d.Name] = 0
		}
	}
	out := PreviewResult{At: clock, Profiles: total, Segments: []PreviewSegment{}}
	for n, k := range size {
		ps := PreviewSegment{Name: n, Size: k, Sample: sample[n]}
		if ps.Sample == nil {
			ps.Sample = []string{}
		}
		if total > 0 {
			ps.Share = float64(k) / float64(total)
		}
		out.Segments = append(out.Segments, ps)
	}
	sort.Slice(out.Segments, func(i, j int) bool { return out.Segments[i].Name < out.Segments[j].Name })
	out.TookMs = float64(time.Since(t0).Microseconds()) / 1000
	return out, nil
}
