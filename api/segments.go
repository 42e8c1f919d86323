package api

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/segments"
)

// Segment is one definition with its current size.
type Segment struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enter       string `json:"enter"`
	Exit        string `json:"exit"`
	MinDwell    string `json:"min_dwell"`
	Each        string `json:"each"`
	Explain     string `json:"explain"`
	Version     string `json:"version"`
	Source      string `json:"source"`
	// Size counts the members (for a family: of every key together).
	Size int64 `json:"size"`
	// Keys are a family's member counts per segment name (e.g.
	// "interest:fashion"); empty for a plain segment.
	Keys map[string]int64 `json:"keys"`
}

// Segments is the body of GET /v1/segments.
type Segments struct {
	SetVersion string    `json:"set_version"`
	Segments   []Segment `json:"segments"`
}

func segmentOf(d segments.Definition, sizes map[string]int64) Segment {
	sg := Segment{Name: d.Name, Description: d.Description, Enter: d.Enter, Exit: d.Exit, Each: d.Each, Explain: d.Explain,
		Version: d.Version, Source: d.Source, Keys: map[string]int64{}}
	if d.MinDwell != 0 {
		sg.MinDwell = time.Duration(d.MinDwell).String()
	}
	if prefix, ok := strings.CutSuffix(d.Name, "*"); ok {
		for n, k := range sizes {
			if strings.HasPrefix(n, prefix) {
				sg.Keys[n] = k
				sg.Size += k
			}
		}
	} else {
		sg.Size = sizes[d.Name]
	}
	return sg
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request, _ []string) {
	set := s.d.Live.Set()
	sizes, err := s.d.Labels.SegmentSizes(r.Context())
	if err != nil {
		s.internal(w, r, "reading segment sizes", err)
		return
	}
	out := Segments{SetVersion: set.Version(), Segments: []Segment{}}
	for _, d := range set.Definitions() {
		out.Segments = append(out.Segments, segmentOf(d, sizes))
	}
	writeJSON(w, http.StatusOK, out)
}

// segmentArg checks the path's segment name and finds its definition: a
// segment, a family ("interest:*") or a family's key ("interest:fashion").
func (s *Server) segmentArg(w http.ResponseWriter, args []string) (string, segments.Definition, bool) {
	name := args[0]
	if err := checkID(name); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "name", "segment name: "+err.Error())
		return "", segments.Definition{}, false
	}
	d, ok := s.d.Live.Set().Lookup(name)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "name", "no segment "+quote(name)+" is defined")
		return "", segments.Definition{}, false
	}
	return name, d, true
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request, args []string) {
	name, d, ok := s.segmentArg(w, args)
	if !ok {
		return
	}
	sizes := map[string]int64{}
	if strings.HasSuffix(d.Name, "*") {
		all, err := s.d.Labels.SegmentSizes(r.Context())
		if err != nil {
			s.internal(w, r, "reading segment sizes", err)
			return
		}
		sizes = all
	} else {
		n, err := s.d.Labels.SegmentSize(r.Context(), name)
		if err != nil {
			s.internal(w, r, "reading the segment size", err)
			return
		}
		sizes[name] = n
	}
	sg := segmentOf(d, sizes)
	if name != d.Name { // one key of a family
		sg.Size, sg.Keys = sizes[name], map[string]int64{name: sizes[name]}
	}
	writeJSON(w, http.StatusOK, sg)
}

// Members is the body of GET /v1/segments/{name}/members.
type Members struct {
	Segment string   `json:"segment"`
	Size    int64    `json:"size"`
	Members []Member `json:"members"`
	// NextCursor continues after the last member of this page; empty on
	// the last page.
	NextCursor string `json:"next_cursor"`
}

// Member is one member and the clock time it entered.
type Member struct {
	UserID string    `json:"user_id"`
	Since  time.Time `json:"since"`
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, args []string) {
	name, d, ok := s.segmentArg(w, args)
	if !ok {
		return
	}
	if strings.HasSuffix(name, "*") {
		writeError(w, http.StatusBadRequest, "bad_request", "name", quote(d.Name)+" is a family: ask for one of its keys, e.g. "+quote(strings.TrimSuffix(d.Name, "*")+"KEY"))
		return
	}
	q := r.URL.Query()
	limit, perr := queryLimit(q, "limit", 100, s.cfg.MaxPage)
	if perr != nil {
		writeError(w, http.StatusBadRequest, "bad_request", perr.param, perr.Error())
		return
	}
	var score, after string
	if c := q.Get("cursor"); c != "" {
		var err error
		if score, after, err = decodeCursor(c); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "cursor", "cursor: "+err.Error())
			return
		}
	}
	// one more than the page tells whether another page follows
	page, size, err := s.d.Labels.MembersPage(r.Context(), name, score, after, limit+1)
	if err != nil {
		s.internal(w, r, "reading members", err)
		return
	}
	more := len(page) > limit
	page = page[:min(len(page), limit)]
	out := Members{Segment: name, Size: size, Members: make([]Member, len(page))}
	for i, m := range page {
		out.Members[i] = Member{UserID: m.User, Since: m.Since}
	}
	if more {
		last := page[len(page)-1]
		out.NextCursor = encodeCursor(last.Score, last.User)
	}
	writeJSON(w, http.StatusOK, out)
}

// Sizes is the body of GET /v1/segments/{name}/sizes: the size at To and
// every step before it back to From (null before the first sample).
type Sizes struct {
	Segment     string      `json:"segment"`
	From        time.Time   `json:"from"`
	To          time.Time   `json:"to"`
	StepSeconds int64       `json:"step_seconds"`
	Points      []SizePoint `json:"points"`
}

// SizePoint is a segment's size at a time: the last sample at or before
// it (samples: every api.sizes_interval, kept per clock minute for two
// days and per clock hour for 400 days).
type SizePoint struct {
	At   time.Time `json:"at"`
	Size *int64    `json:"size"`
}

func (s *Server) sizes(w http.ResponseWriter, r *http.Request, args []string) {
	name, _, ok := s.segmentArg(w, args)
	if !ok {
		return
	}
	from, to, ok := s.timeRange(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	bad := func(p *paramError) { writeError(w, http.StatusBadRequest, "bad_request", p.param, p.Error()) }
	step, hasStep, perr := queryDuration(q, "step")
	if perr != nil {
		bad(perr)
		return
	}
	if !hasStep {
		step = max(time.Minute, (to.Sub(from) / 100).Truncate(time.Minute))
	}
	if step < time.Second || step%time.Second != 0 {
		bad(badParam("step", "%s is not a whole number of seconds (at least 1s)", step))
		return
	}
	n := int64(to.Sub(from)/step) + 1
	if n > int64(s.cfg.MaxPoints) {
		bad(badParam("step", "%s gives %d points from %s to %s; at most %d (api.max_points)", step, n, from.Format(time.RFC3339), to.Format(time.RFC3339), s.cfg.MaxPoints))
		return
	}
	series, err := s.d.Labels.SizeSeries(r.Context(), name, from, to)
	if err != nil {
		s.internal(w, r, "reading the size series", err)
		return
	}
	out := Sizes{Segment: name, From: from, To: to, StepSeconds: int64(step / time.Second), Points: make([]SizePoint, 0, n)}
	// the points end at to (the newest size is always there) and go back
	// by step while they are not before from
	for t := to.Add(-time.Duration(n-1) * step); !t.After(to); t = t.Add(step) {
		p := SizePoint{At: t}
		if v, ok := labelstage.SizeAt(series, t); ok {
			p.Size = &v
		}
		out.Points = append(out.Points, p)
	}
	writeJSON(w, http.StatusOK, out)
}

// Flow is the body of GET /v1/segments/{name}/flow: entries and exits
// per clock hour.
type Flow struct {
	Segment string     `json:"segment"`
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	Hours   []FlowHour `json:"hours"`
}

// FlowHour is one clock hour's entries and exits.
type FlowHour struct {
	At      time.Time `json:"at"`
	Entered int64     `json:"entered"`
	Exited  int64     `json:"exited"`
}

func (s *Server) flow(w http.ResponseWriter, r *http.Request, args []string) {
	name, _, ok := s.segmentArg(w, args)
	if !ok {
		return
	}
	from, to, ok := s.timeRange(w, r)
	if !ok {
		return
	}
	if n := int(to.Sub(from)/time.Hour) + 1; n > s.cfg.MaxPoints {
		writeError(w, http.StatusBadRequest, "bad_request", "from", strconv.Itoa(n)+" hours from "+from.Format(time.RFC3339)+" to "+to.Format(time.RFC3339)+"; at most "+strconv.Itoa(s.cfg.MaxPoints)+" (api.max_points)")
		return
	}
	hours, err := s.d.Labels.Flow(r.Context(), name, from, to)
	if err != nil {
		s.internal(w, r, "reading the flow", err)
		return
	}
	out := Flow{Segment: name, From: from, To: to, Hours: make([]FlowHour, len(hours))}
	for i, h := range hours {
		out.Hours[i] = FlowHour{At: h.At, Entered: h.Entered, Exited: h.Exited}
	}
	writeJSON(w, http.StatusOK, out)
}

// timeRange reads from and to: to defaults to the labels' clock (to the
// minute), from to 24 hours before to; from must be before to. It
// answers a refusal itself.
func (s *Server) timeRange(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	q := r.URL.Query()
	bad := func(p *paramError) { writeError(w, http.StatusBadRequest, "bad_request", p.param, p.Error()) }
	to, hasTo, perr := queryTime(q, "to")
	if perr != nil {
		bad(perr)
		return from, to, false
	}
	if !hasTo {
		c, err := s.d.Labels.Clock(r.Context())
		if err != nil {
			s.internal(w, r, "reading the clock", err)
			return from, to, false
		}
		to = c.Truncate(time.Minute)
	}
	from, hasFrom, perr := queryTime(q, "from")
	if perr != nil {
		bad(perr)
		return from, to, false
	}
	if !hasFrom {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) {
		bad(badParam("from", "%s is not before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339)))
		return from, to, false
	}
	return from, to, true
}

// readDefinition parses a request body as one definition (YAML or JSON);
// it answers the refusal itself.
func (s *Server) readDefinition(w http.ResponseWriter, r *http.Request) (segments.Definition, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.bodyError(w, err)
		return segments.Definition{}, false
	}
	d, err := segments.ParseOne(body, "body")
	if err != nil {
		refused(w, http.StatusBadRequest, "the definition is refused", err)
		return segments.Definition{}, false
	}
	return d, true
}

// refused answers definition errors with each field and position.
func refused(w http.ResponseWriter, code int, msg string, err error) {
	e := Error{Code: "invalid_definition", Message: msg + ": " + err.Error(), Parameter: "body"}
	for _, se := range segments.AsErrors(err) {
		e.Details = append(e.Details, Detail{Segment: se.Segment, Field: se.Field, Line: se.Pos.Line, Column: se.Pos.Col, Message: se.Msg})
	}
	if code == http.StatusConflict {
		e.Code = "conflict"
	}
	writeJSON(w, code, e)
}

func (s *Server) preview(w http.ResponseWriter, r *http.Request, _ []string) {
	d, ok := s.readDefinition(w, r)
	if !ok {
		return
	}
	set, errs := segments.Overlay(s.d.Live.Set().Definitions(), []segments.Definition{d}, s.d.Options)
	if len(errs) > 0 {
		refused(w, http.StatusBadRequest, "the definition is refused", errs)
		return
	}
	if s.d.Model == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "no model loaded: previews need the label stage")
		return
	}
	res, err := Preview(r.Context(), s.d.Labels, s.d.Model, set, s.d.Options, []segments.Definition{d}, s.cfg.PreviewSamples, nil)
	if err != nil {
		s.internal(w, r, "the preview", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Change is the body of a PUT or DELETE of a definition.
type Change struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Live tells whether the service already evaluates with the change
	// (it waits up to 10 s for the definitions topic to come back).
	Live bool `json:"live"`
}

// changeArg checks the name a PUT or DELETE changes, and that there is a
// topic to publish the change on.
func (s *Server) changeArg(w http.ResponseWriter, args []string) (string, bool) {
	name := args[0]
	if err := checkID(name); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "name", "segment name: "+err.Error())
		return "", false
	}
	if name == "preview" {
		writeError(w, http.StatusBadRequest, "bad_request", "name", `"preview" is reserved by POST /v1/segments/preview`)
		return "", false
	}
	if s.d.Publish == nil {
		writeError(w, http.StatusConflict, "conflict", "", "segments.topic is off: definitions come from segments.dir only")
		return "", false
	}
	return name, true
}

// changed answers a PUT or DELETE: 200 once live here, else 202.
func changed(w http.ResponseWriter, c Change) {
	code := http.StatusOK
	if !c.Live {
		code = http.StatusAccepted
	}
	writeJSON(w, code, c)
}

func (s *Server) putSegment(w http.ResponseWriter, r *http.Request, args []string) {
	name, ok := s.changeArg(w, args)
	if !ok {
		return
	}
	d, ok := s.readDefinition(w, r)
	if !ok {
		return
	}
	if d.Name != name {
		writeError(w, http.StatusBadRequest, "bad_request", "name", "the path names "+quote(name)+" but the definition is "+quote(d.Name))
		return
	}
	set, errs := segments.Overlay(s.d.Live.Set().Definitions(), []segments.Definition{d}, s.d.Options)
	if len(errs) > 0 {
		refused(w, http.StatusBadRequest, "the definition is refused", errs)
		return
	}
	compiled, _ := set.Lookup(name)
	if err := s.d.Publish(r.Context(), []segments.Definition{d}, nil); err != nil {
		s.internal(w, r, "publishing the definition", err)
		return
	}
	s.log.Info("api: definition published", zap.String("segment", name), zap.String("version", compiled.Version))
	live := s.waitLive(r.Context(), func(set *segments.Set) bool {
		c, ok := set.Lookup(name)
		return ok && c.Name == name && c.Version == compiled.Version
	})
	changed(w, Change{Name: name, Version: compiled.Version, Live: live})
}

func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request, args []string) {
	name, ok := s.changeArg(w, args)
	if !ok {
		return
	}
	cur := s.d.Live.Set()
	found := false
	var rest []segments.Definition
	for _, d := range cur.Definitions() {
		if d.Name == name {
			found = true
			continue
		}
		rest = append(rest, d)
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "name", "no segment "+quote(name)+" is defined")
		return
	}
	if _, err := segments.Compile(rest, s.d.Options); err != nil {
		refused(w, http.StatusConflict, "deleting "+quote(name)+" would refuse other definitions", err)
		return
	}
	if err := s.d.Publish(r.Context(), nil, []string{name}); err != nil {
		s.internal(w, r, "publishing the tombstone", err)
		return
	}
	s.log.Info("api: definition deleted", zap.String("segment", name))
	live := s.waitLive(r.Context(), func(set *segments.Set) bool {
		d, ok := set.Lookup(name)
		return !ok || d.Name != name
	})
	changed(w, Change{Name: name, Live: live})
}

// waitLive waits up to 10 s for the live set to satisfy done.
func (s *Server) waitLive(ctx context.Context, done func(*segments.Set) bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if done(s.d.Live.Set()) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
