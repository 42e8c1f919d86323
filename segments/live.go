package segments

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/segstream/segstream/deploy"
)

// Defaults are the built-in taxonomy (deploy/segments/*.yaml, embedded).
func Defaults() ([]Definition, error) {
	return loadFS(deploy.Segments, "segments", "deploy/")
}

// LoadDir reads every *.yaml and *.yml file of a folder, in name order.
func LoadDir(dir string) ([]Definition, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, &Error{Source: dir, Msg: "segments.dir: " + err.Error()}
	}
	return loadFS(os.DirFS(dir), ".", strings.TrimSuffix(dir, "/")+"/")
}

func loadFS(fsys fs.FS, dir, prefix string) ([]Definition, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var defs []Definition
	var errs Errors
	for _, n := range names {
		b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, n)))
		if err != nil {
			return nil, err
		}
		src := prefix + n
		if dir != "." {
			src = prefix + dir + "/" + n
		}
		ds, err := ParseFile(b, src)
		errs = append(errs, AsErrors(err)...)
		defs = append(defs, ds...)
	}
	return defs, errs.Err()
}

// Live is the set of definitions in force on this instance: a base (the
// folder, or the defaults) overlaid by the definitions topic. Changes are
// compiled before they are used; a refused one leaves the previous
// version live. Safe for concurrent use.
type Live struct {
	mu       sync.Mutex
	base     []Definition
	overlay  map[string]*Definition // nil value: deleted (a tombstone)
	arrival  []string               // overlay names in the order first seen
	cur      atomic.Pointer[Set]
	opt      Options
	log      *zap.Logger
	onChange []func(old, cur *Set, changed []string)
	m        liveMetrics
}

type liveMetrics struct {
	defs     prometheus.Gauge
	refused  *prometheus.CounterVec
	accepted *prometheus.CounterVec
	evalErrs *prometheus.CounterVec
}

// NewLive compiles the base; refused definitions are logged and counted
// and the rest are live. log and reg may be nil.
func NewLive(base []Definition, opt Options, log *zap.Logger, reg prometheus.Registerer) *Live {
	if log == nil {
		log = zap.NewNop()
	}
	l := &Live{overlay: map[string]*Definition{}, opt: opt.withDefaults(), log: log.With(zap.String("component", "segments"))}
	l.m = liveMetrics{
		defs: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_segments_definitions", Help: "Segment definitions live on this instance."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_segments_refused_total",
			Help: "Segment definitions refused (syntax, type, cost, composition, duplicate), by source (file, topic)."}, []string{"source"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_segments_updates_total",
			Help: "Segment definition changes made live, by source (file, topic)."}, []string{"source"}),
		evalErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_segments_eval_errors_total",
			Help: "Expression evaluations that failed at run time (the user kept its membership), by segment."}, []string{"segment"}),
	}
	if reg != nil {
		reg.MustRegister(l.m.defs, l.m.refused, l.m.accepted, l.m.evalErrs)
	}
	l.base = base
	s, err := Compile(l.effective(), l.opt)
	l.refuse("file", err)
	l.cur.Store(s)
	l.m.defs.Set(float64(s.Len()))
	return l
}

// Set is the set in force.
func (l *Live) Set() *Set { return l.cur.Load() }

// OnChange registers fn, called (under the update) with the old and new
// sets and the names that changed whenever the set changes.
func (l *Live) OnChange(fn func(old, cur *Set, changed []string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onChange = append(l.onChange, fn)
}

// CountEvalErrors counts runtime failures of an evaluation.
func (l *Live) CountEvalErrors(errs []EvalError) {
	for _, e := range errs {
		l.m.evalErrs.WithLabelValues(e.Segment).Inc()
	}
}

// effective is the base with the overlay applied: replaced in place,
// added at the end in arrival order, tombstones removed. Callers hold mu
// (or own l).
func (l *Live) effective() []Definition {
	var out []Definition
	for _, d := range l.base {
		o, over := l.overlay[d.Name]
		switch {
		case !over:
			out = append(out, d)
		case o != nil:
			out = append(out, *o)
		}
	}
	inBase := map[string]bool{}
	for _, d := range l.base {
		inBase[d.Name] = true
	}
	for _, n := range l.arrival {
		if o := l.overlay[n]; o != nil && !inBase[n] {
			out = append(out, *o)
		}
	}
	return out
}

func (l *Live) refuse(source string, err error) {
	for _, e := range AsErrors(err) {
		l.m.refused.WithLabelValues(source).Inc()
		l.log.Error("segment definition refused", zap.String("source", source), zap.String("segment", e.Segment),
			zap.String("field", e.Field), zap.String("expr", e.Expr), zap.String("at", e.Source+":"+e.Pos.String()), zap.String("reason", e.Msg))
	}
}

// Put makes d live in place of any definition of its name (from the
// topic). It is refused, and the previous version stays live, when it
// does not compile or when the set with it would refuse anything the
// current set holds (a cycle, a segment() of a removed name).
func (l *Live) Put(d Definition) error {
	return l.update("topic", func() { l.setOverlay(d.Name, &d) }, d.Name)
}

// Delete removes a definition (a tombstone on the topic).
func (l *Live) Delete(name string) error {
	return l.update("topic", func() { l.setOverlay(name, nil) }, name)
}

// SetBase replaces the base (a folder was edited). Refused definitions
// keep their previous version where there is one.
func (l *Live) SetBase(defs []Definition) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	l.base = defs
	s, err := Compile(l.effective(), l.opt)
	if err != nil {
		// put the live version back in place of each refused one
		refused := map[string]bool{}
		for _, e := range AsErrors(err) {
			refused[e.Segment] = true
		}
		var fixed []Definition
		for _, d := range defs {
			if refused[d.Name] {
				if prev, ok := old.Lookup(d.Name); ok {
					fixed = append(fixed, prev)
				}
				continue
			}
			fixed = append(fixed, d)
		}
		l.base = fixed
		s, _ = Compile(l.effective(), l.opt)
	}
	l.refuse("file", err)
	l.install(old, s, "file")
	return err
}

func (l *Live) setOverlay(name string, d *Definition) {
	if _, seen := l.overlay[name]; !seen {
		l.arrival = append(l.arrival, name)
	}
	l.overlay[name] = d
}

func (l *Live) update(source string, apply func(), name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	saved := map[string]*Definition{}
	for k, v := range l.overlay {
		saved[k] = v
	}
	savedArrival := append([]string(nil), l.arrival...)
	apply()
	s, err := Compile(l.effective(), l.opt)
	if err != nil {
		// refuse the change if the new set loses anything the old one had
		// or refuses the changed definition itself
		var worse Errors
		for _, e := range AsErrors(err) {
			if _, had := old.byName[e.Segment]; had || e.Segment == name || e.Segment == "" {
				worse = append(worse, e)
			}
		}
		if len(worse) > 0 {
			l.overlay, l.arrival = saved, savedArrival
			l.refuse(source, worse)
			return worse
		}
	}
	l.install(old, s, source)
	return nil
}

func (l *Live) install(old, s *Set, source string) {
	changed := s.Changed(old)
	if len(changed) == 0 {
		return
	}
	l.cur.Store(s)
	l.m.defs.Set(float64(s.Len()))
	l.m.accepted.WithLabelValues(source).Add(float64(len(changed)))
	l.log.Info("segment definitions changed", zap.String("source", source), zap.Strings("segments", changed),
		zap.Int("definitions", s.Len()), zap.String("set_version", s.Version()))
	for _, fn := range l.onChange {
		fn(old, s, changed)
	}
}

// NewDefaultLive is a Live on the built-in taxonomy alone.
func NewDefaultLive(opt Options, log *zap.Logger, reg prometheus.Registerer) (*Live, error) {
	defs, err := Defaults()
	if err != nil {
		return nil, err
	}
	l := NewLive(defs, opt, log, reg)
	if l.Set().Len() != len(defs) {
		return nil, errors.New("segments: the built-in definitions do not compile")
	}
	return l, nil
}
