package segments

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"
)

// Options bound what definitions may ask for.
type Options struct {
	// RetentionDays is the profile's retention (featurestore.retention_days):
	// the longest window count_in, spend_in and refund_amount_in answer.
	// Default 90.
	RetentionDays int
	// MaxCost is the CEL cost limit of one expression, both estimated at
	// compile time (worst case) and enforced at run time. Default 10000.
	MaxCost uint64
}

func (o Options) withDefaults() Options {
	if o.RetentionDays <= 0 {
		o.RetentionDays = 90
	}
	if o.MaxCost == 0 {
		o.MaxCost = 10000
	}
	return o
}

// Set is a compiled, type-checked, acyclic set of definitions. It is
// immutable and safe for concurrent use.
type Set struct {
	defs    []*compiled // in the order given
	order   []*compiled // dependencies first
	byName  map[string]*compiled
	reads   map[string]bool // the names segment() reads
	opt     Options
	version string
}

type compiled struct {
	def      Definition
	idx      int // position in Set.defs
	enter    cel.Program
	exit     cel.Program       // nil: !enter
	enterF   fastBool          // enter natively, nil: not in the subset
	exitF    fastBool          // exit natively
	deps     []string          // segment() names read
	depAt    map[string]*Error // where each is read (field, expression, position)
	inputs   []input           // what a reason reports
	explain  string
	dwellSec int64
	prefix   string // family: the name without "*"
	read     bool   // a segment() reads this segment
	readKeys bool   // a family: a segment() reads some of its members (Set.reads)
}

// input is one value an expression reads, reported in reasons.
type input struct {
	name    string // as written: spend_in(30), churn_risk, interests[key]
	withKey bool   // name holds "key": rendered with the family key
	prg     cel.Program
}

// Definitions lists the set's definitions in order.
func (s *Set) Definitions() []Definition {
	out := make([]Definition, len(s.defs))
	for i, c := range s.defs {
		out[i] = c.def
	}
	return out
}

// Len is the number of definitions.
func (s *Set) Len() int { return len(s.defs) }

// Version identifies the set (its names and versions).
func (s *Set) Version() string { return s.version }

// Lookup returns the definition of a segment or family name.
func (s *Set) Lookup(name string) (Definition, bool) {
	if c := s.find(name); c != nil {
		return c.def, true
	}
	return Definition{}, false
}

func (s *Set) find(name string) *compiled {
	if c, ok := s.byName[name]; ok {
		return c
	}
	if i := strings.IndexByte(name, ':'); i > 0 {
		if c, ok := s.byName[name[:i+1]+"*"]; ok {
			return c
		}
	}
	return nil
}

// Changed lists the names defined differently in s and old (added,
// changed or removed), sorted.
func (s *Set) Changed(old *Set) []string {
	var out []string
	for name, c := range s.byName {
		if old == nil {
			out = append(out, name)
			continue
		}
		if o, ok := old.byName[name]; !ok || o.def.Version != c.def.Version {
			out = append(out, name)
		}
	}
	if old != nil {
		for name := range old.byName {
			if _, ok := s.byName[name]; !ok {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

var sharedEnv = func() *cel.Env {
	e, err := newEnv()
	if err != nil {
		panic(err) // the declarations are constants of this package
	}
	return e
}()

// Compile builds a set from definitions, refusing the bad ones: the
// returned set holds every definition that compiled, type-checked, stayed
// within the cost limit and whose composition is acyclic and complete;
// the error lists the others (Errors, each naming its segment).
func Compile(defs []Definition, opt Options) (*Set, error) {
	opt = opt.withDefaults()
	var errs Errors
	var ok []*compiled
	seen := map[string]bool{}
	for _, d := range defs {
		if seen[d.Name] {
			errs = append(errs, &Error{Source: d.Source, Segment: d.Name, Field: "name", Pos: d.pos["name"], Msg: "duplicate name"})
			continue
		}
		seen[d.Name] = true
		if ce := d.check(d.Source); len(ce) > 0 {
			errs = append(errs, ce...)
			continue
		}
		if d.Version == "" {
			d.Version = d.ContentHash()
		}
		c, err := compileOne(d, opt)
		if err != nil {
			errs = append(errs, AsErrors(err)...)
			continue
		}
		ok = append(ok, c)
	}
	// a fixed name inside a family's namespace would be two segments
	fams := map[string]string{}
	for _, c := range ok {
		if c.prefix != "" {
			fams[c.prefix] = c.def.Name
		}
	}
	kept := ok[:0]
	for _, c := range ok {
		if i := strings.IndexByte(c.def.Name, ':'); c.prefix == "" && i > 0 && fams[c.def.Name[:i+1]] != "" {
			errs = append(errs, &Error{Source: c.def.Source, Segment: c.def.Name, Field: "name", Pos: c.def.pos["name"],
				Msg: fmt.Sprintf("inside the namespace of the family %s", fams[c.def.Name[:i+1]])})
			continue
		}
		kept = append(kept, c)
	}
	ok = kept
	// composition: drop definitions with unknown or refused dependencies
	// and those on a cycle, until what is left is closed and acyclic
	for {
		s := index(ok)
		var bad map[*compiled]*Error
		for _, c := range ok {
			for _, dep := range c.deps {
				if s.find(dep) == nil {
					if bad == nil {
						bad = map[*compiled]*Error{}
					}
					bad[c] = c.depError(dep, fmt.Sprintf("segment(%q): no such segment (or it was refused)", dep))
				}
			}
		}
		if bad == nil {
			for c, cyc := range cycles(s) {
				if bad == nil {
					bad = map[*compiled]*Error{}
				}
				// the segment() that leads on along the cycle
				dep := ""
				for i, n := range cyc[:len(cyc)-1] {
					if n == c.def.Name {
						for _, d := range c.deps {
							if x := s.find(d); x != nil && x.def.Name == cyc[i+1] {
								dep = d
								break
							}
						}
						break
					}
				}
				bad[c] = c.depError(dep, "composition cycle: "+strings.Join(cyc, " -> "))
			}
		}
		if bad == nil {
			break
		}
		kept := ok[:0]
		for _, c := range ok {
			if e, isBad := bad[c]; isBad {
				errs = append(errs, e)
				continue
			}
			kept = append(kept, c)
		}
		ok = kept
	}
	s := index(ok)
	s.opt = opt
	s.order = topo(s)
	s.reads = map[string]bool{}
	for _, c := range s.defs {
		for _, dep := range c.deps {
			s.reads[dep] = true
		}
	}
	for _, c := range s.defs {
		c.read = s.reads[c.def.Name]
		for dep := range s.reads {
			c.readKeys = c.readKeys || c.prefix != "" && strings.HasPrefix(dep, c.prefix)
		}
	}
	h := sha256.New()
	for _, c := range s.defs {
		_, _ = fmt.Fprintf(h, "%s\x00%s\x00", c.def.Name, c.def.Version)
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	sortErrs(errs)
	return s, errs.Err()
}

// depError is a refusal of c for what it reads with segment(dep): placed
// at that call (at the enter field when dep is not known).
func (c *compiled) depError(dep, msg string) *Error {
	if at := c.depAt[dep]; at != nil {
		e := *at
		e.Msg = msg
		return &e
	}
	return &Error{Source: c.def.Source, Segment: c.def.Name, Field: "enter", Expr: c.def.Enter, Pos: c.def.pos["enter"], Msg: msg}
}

// sortErrs orders refusals by file, then line (a Source is "file:line"
// of the definition: compared as text, line 10 would come before line 2).
func sortErrs(es Errors) {
	key := func(e *Error) (string, int) {
		file, line := e.Source, 0
		if i := strings.LastIndexByte(file, ':'); i > 0 && isDigits(file[i+1:]) {
			file, line = file[:i], atoi(file[i+1:])
		}
		if e.Pos.Line > 0 {
			line = e.Pos.Line
		}
		return file, line
	}
	sort.SliceStable(es, func(i, j int) bool {
		fi, li := key(es[i])
		fj, lj := key(es[j])
		if fi != fj {
			return fi < fj
		}
		return li < lj
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			return 1 << 30
		}
	}
	return n
}

func index(cs []*compiled) *Set {
	s := &Set{byName: map[string]*compiled{}}
	for i, c := range cs {
		c.idx = i
		s.defs = append(s.defs, c)
		s.byName[c.def.Name] = c
	}
	return s
}

// cycles finds, for each definition on a composition cycle, the cycle.
func cycles(s *Set) map[*compiled][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[*compiled]int{}
	out := map[*compiled][]string{}
	var stack []*compiled
	var visit func(c *compiled)
	visit = func(c *compiled) {
		color[c] = grey
		stack = append(stack, c)
		for _, dep := range c.deps {
			d := s.find(dep)
			switch color[d] {
			case white:
				visit(d)
			case grey:
				var path []string
				start := 0
				for i, x := range stack {
					if x == d {
						start = i
					}
				}
				for _, x := range stack[start:] {
					path = append(path, x.def.Name)
				}
				path = append(path, d.def.Name)
				for _, x := range stack[start:] {
					out[x] = path
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[c] = black
	}
	for _, c := range s.defs {
		if color[c] == white {
			visit(c)
		}
	}
	return out
}

// topo orders definitions so that each comes after what it reads.
func topo(s *Set) []*compiled {
	done := map[*compiled]bool{}
	var out []*compiled
	var visit func(c *compiled)
	visit = func(c *compiled) {
		if done[c] {
			return
		}
		done[c] = true
		for _, dep := range c.deps {
			visit(s.find(dep))
		}
		out = append(out, c)
	}
	for _, c := range s.defs {
		visit(c)
	}
	return out
}

func compileOne(d Definition, opt Options) (*compiled, error) {
	c := &compiled{def: d, dwellSec: int64(time.Duration(d.MinDwell) / time.Second), depAt: map[string]*Error{}}
	if d.Each != "" {
		c.prefix = strings.TrimSuffix(d.Name, "*")
	}
	var errs Errors
	seenInputs := map[string]bool{}
	readsChurn := false
	for _, field := range []string{"enter", "exit"} {
		src := d.Enter
		if field == "exit" {
			src = d.Exit
			if strings.TrimSpace(src) == "" {
				continue
			}
		}
		at := func(p Pos) Pos {
			if x, ok := d.exprPos(field, p); ok {
				return x
			}
			return fieldPos(d.pos[field], p)
		}
		fail := func(p Pos, msg string) {
			errs = append(errs, &Error{Source: d.Source, Segment: d.Name, Field: field, Expr: src, Pos: at(p), Msg: msg})
		}
		a, iss := sharedEnv.Compile(src)
		if iss != nil && iss.Err() != nil {
			for _, e := range iss.Errors() {
				fail(Pos{Line: e.Location.Line(), Col: e.Location.Column() + 1}, e.Message)
			}
			continue
		}
		if !a.OutputType().IsExactType(cel.BoolType) {
			fail(Pos{}, fmt.Sprintf("the expression is of type %s, want bool", a.OutputType()))
			continue
		}
		est, err := sharedEnv.EstimateCost(a, estimator{})
		if err != nil {
			fail(Pos{}, "estimating its cost: "+err.Error())
			continue
		}
		if est.Max > opt.MaxCost {
			fail(Pos{}, fmt.Sprintf("estimated cost %d (worst case) is above the limit %d (segments.max_cost)", est.Max, opt.MaxCost))
			continue
		}
		native := a.NativeRep()
		info := native.SourceInfo()
		var walkErr bool
		bound := map[int64]bool{} // identifiers that are a comprehension's own variables
		celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
			loc := info.GetStartLocation(e.ID())
			at0 := Pos{Line: loc.Line(), Col: loc.Column() + 1}
			switch e.Kind() {
			case celast.ComprehensionKind:
				cx := e.AsComprehension()
				vars := map[string]bool{cx.IterVar(): true, cx.IterVar2(): true, cx.AccuVar(): true}
				for _, sub := range []celast.Expr{cx.LoopCondition(), cx.LoopStep(), cx.Result()} {
					celast.PreOrderVisit(sub, celast.NewExprVisitor(func(x celast.Expr) {
						if x.Kind() == celast.IdentKind && vars[x.AsIdent()] {
							bound[x.ID()] = true
						}
					}))
				}
			case celast.IdentKind:
				name := e.AsIdent()
				if (name == "key" || name == "value") && d.Each == "" && !bound[e.ID()] {
					fail(at0, name+" is bound only in a family (each:)")
					walkErr = true
				}
				if name == "churn_risk" {
					readsChurn = true
				}
			case celast.CallKind:
				call := e.AsCall()
				fn, args := call.FunctionName(), call.Args()
				if fn == "segment" {
					if len(args) != 1 || args[0].Kind() != celast.LiteralKind {
						fail(at0, "segment() takes a constant name (so that composition can be checked)")
						walkErr = true
						return
					}
					name, _ := args[0].AsLiteral().(types.String)
					c.deps = append(c.deps, string(name))
					if c.depAt[string(name)] == nil {
						c.depAt[string(name)] = &Error{Source: d.Source, Segment: d.Name, Field: field, Expr: src, Pos: at(at0)}
					}
					return
				}
				if fn == "count" || fn == "count_in" {
					if len(args) > 0 && args[0].Kind() == celast.LiteralKind {
						if s, ok := args[0].AsLiteral().(types.String); ok {
							if err := checkType(string(s)); err != nil {
								fail(at0, err.Error())
								walkErr = true
							}
						}
					}
				}
				if windowFuncs[fn] && len(args) > 0 && args[len(args)-1].Kind() == celast.LiteralKind {
					if n, ok := args[len(args)-1].AsLiteral().(types.Int); ok {
						if err := checkWindow(fn, int64(n), opt.RetentionDays); err != nil {
							fail(at0, err.Error())
							walkErr = true
						}
					}
				}
			}
		}))
		if walkErr {
			continue
		}
		prg, err := program(a, opt.MaxCost)
		if err != nil {
			fail(Pos{}, err.Error())
			continue
		}
		fast := compileFast(native, native.Expr())
		if field == "enter" {
			c.enter, c.enterF = prg, fast
		} else {
			c.exit, c.exitF = prg, fast
		}
		for _, in := range collectInputs(native.Expr(), info) {
			if seenInputs[in] || len(c.inputs) >= maxInputs {
				continue
			}
			seenInputs[in] = true
			ia, iss := sharedEnv.Compile(in)
			if iss != nil && iss.Err() != nil {
				continue // not a value of its own (cannot happen for what collectInputs returns)
			}
			ip, err := program(ia, opt.MaxCost)
			if err != nil {
				continue
			}
			// m[key] (what collectInputs writes of key), not any name holding "key"
			c.inputs = append(c.inputs, input{name: in, withKey: strings.HasSuffix(in, "[key]"), prg: ip})
		}
	}
	c.deps = uniq(c.deps)
	switch {
	case d.Explain != "":
		c.explain = d.Explain
	case readsChurn:
		c.explain = "churn"
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// program plans a checked expression. The runtime cost limit (a tracker
// charging every call, allocating on every evaluation) is set only where
// the cost can depend on the inputs: an expression whose worst case stays
// within the limit even with every map, list and string of unbounded size
// (comparisons, map lookups, the profile functions: no comprehension, no
// list membership, no string scanning) cannot reach it at run time, the
// runtime charging never more than the estimate.
func program(a *cel.Ast, maxCost uint64) (cel.Program, error) {
	if est, err := sharedEnv.EstimateCost(a, unsized{}); err == nil && est.Max <= maxCost {
		return sharedEnv.Program(a, cel.EvalOptions(cel.OptOptimize))
	}
	return sharedEnv.Program(a, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(maxCost))
}

// unsized is estimator without its size assumptions: every size unknown.
type unsized struct{}

func (unsized) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

func (unsized) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return estimator{}.EstimateCallCost(function, overloadID, target, args)
}

// maxInputs caps the inputs a reason lists per segment.
const maxInputs = 8

// fieldPos is the position of a CEL location within a YAML field: the
// field's line plus the expression's line (a plain or quoted scalar
// starts at the field; a block scalar on the next line).
func fieldPos(field, in Pos) Pos {
	if in.Line == 0 {
		return field // no position within the expression: the field's
	}
	if field.Line == 0 {
		return in
	}
	if in.Line <= 1 {
		return Pos{Line: field.Line, Col: field.Col + in.Col - 1}
	}
	return Pos{Line: field.Line + in.Line - 1, Col: in.Col}
}

// notInputs are variables that are the rule's own machinery, not facts
// about the user.
var notInputs = map[string]bool{"now": true, "model": true, "previous": true, "key": true, "first_evaluation": true}

// mapInputs are the map variables read as reasons when indexed by a
// constant or by key.
var mapInputs = map[string]bool{"categories": true, "value_tier_p": true, "value_logp": true, "interests": true, "scores": true}

// collectInputs lists, as expressions of their own, the values e reads:
// scalar variables, maps indexed by a constant or by key, and profile
// functions with constant arguments.
func collectInputs(e celast.Expr, info *celast.SourceInfo) []string {
	var out []string
	var walk func(e celast.Expr)
	unparse := func(e celast.Expr) string {
		s, err := parser.Unparse(e, info)
		if err != nil {
			return ""
		}
		return s
	}
	walk = func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			name := e.AsIdent()
			if _, known := varIDs[name]; known && !notInputs[name] && !mapInputs[name] && name != "text_kinds" {
				out = append(out, name)
			}
		case celast.CallKind:
			call := e.AsCall()
			args := call.Args()
			if call.FunctionName() == operators.Index && len(args) == 2 && args[0].Kind() == celast.IdentKind && mapInputs[args[0].AsIdent()] {
				if args[1].Kind() == celast.LiteralKind || (args[1].Kind() == celast.IdentKind && args[1].AsIdent() == "key") {
					if s := unparse(e); s != "" {
						out = append(out, s)
					}
					return
				}
			}
			if inputFuncs[call.FunctionName()] {
				constant := true
				for _, a := range args {
					if a.Kind() != celast.LiteralKind {
						constant = false
					}
				}
				if constant {
					if s := unparse(e); s != "" {
						out = append(out, s)
					}
					return
				}
			}
			if call.IsMemberFunction() {
				walk(call.Target())
			}
			for _, a := range args {
				walk(a)
			}
		case celast.SelectKind:
			walk(e.AsSelect().Operand())
		case celast.ListKind:
			for _, x := range e.AsList().Elements() {
				walk(x)
			}
		case celast.MapKind:
			for _, x := range e.AsMap().Entries() {
				me := x.AsMapEntry()
				walk(me.Key())
				walk(me.Value())
			}
		case celast.ComprehensionKind:
			cx := e.AsComprehension()
			walk(cx.IterRange())
		}
	}
	walk(e)
	return out
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// estimator sizes the variables for the compile-time cost estimate.
type estimator struct{}

func (estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 {
		return nil
	}
	var max uint64
	switch p[0] {
	case "categories":
		max = 64
	case "interests", "scores", "model":
		max = 256
	case "value_tier_p", "value_logp":
		max = 8
	case "text_kinds":
		max = 4
	case "previous":
		max = 1024
	case "value_tier", "key":
		max = 128
	default:
		return nil
	}
	if len(p) > 1 { // an element: a key or a value (strings of names)
		max = 128
	}
	return &cost.SizeEstimate{Min: 0, Max: max}
}

func (estimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	switch function {
	case "rank":
		return cost.NewCallEstimate(cost.Estimate{Min: 1, Max: 256}, nil)
	case "count", "count_in", "spend_in", "refund_amount_in", "purchase_days_in", "segment", "days",
		"negative_reviews_in", "scored_reviews_in", "negative_review_share_in":
		return cost.NewCallEstimate(cost.Estimate{Min: 1, Max: 4}, nil)
	}
	return nil
}

// Native evaluation of the simplest expressions. CEL's interpreter costs
// a few hundred nanoseconds an expression (an execution frame, a runtime
// type guard and a dispatch per operator, an argument slice per function
// call); most definitions are comparisons of the profile's numbers with
// constants joined by && and ||, which Go evaluates in a few nanoseconds.
// An expression made only of
//
//   - bool, int and double constants;
//   - scalar variables (no list or string, no key or value);
//   - m["constant"] and "constant" in m, for the map(string, double)
//     variables (fastMaps);
//   - !, &&, || and c ? x : y on bools, c ? x : y on doubles; ==, != on
//     two bools; <, <=, >, >=, ==, != on two ints or two doubles (no int
//     against double);
//   - segment, count, count_in, spend_in, refund_amount_in,
//     purchase_days_in and the review-sentiment windows with constant arguments (an unknown event type or
//     a window out of bounds is left to CEL);
//
// is also compiled into Go closures (fastBool) that give its CEL value,
// evaluating in the same order and short-circuiting as CEL does. In
// these expressions only a missing map key (an error in CEL), a NaN (the
// closures leave its ordering to CEL) or a value of an unexpected type
// could make CEL fail or differ: the closures then report !ok and the CEL
// program evaluates the expression instead.
// Comprehensions are not in the subset, so an identifier is always a
// variable; neither is anything whose cost depends on sizes (these
// expressions run without a runtime cost limit, see program).
type (
	fastBool   func(a *activation) (v, ok bool)
	fastInt    func(a *activation) (v int64, ok bool)
	fastDouble func(a *activation) (v float64, ok bool)
)

// compileFast compiles e, of the checked AST a, or returns nil when it is
// not in the subset.
func compileFast(a *celast.AST, e celast.Expr) fastBool {
	kind := func(e celast.Expr) types.Kind {
		if t := a.GetType(e.ID()); t != nil {
			return t.Kind()
		}
		return types.ErrorKind
	}
	if kind(e) != types.BoolKind {
		return nil
	}
	switch e.Kind() {
	case celast.LiteralKind:
		b, ok := e.AsLiteral().(types.Bool)
		if !ok {
			return nil
		}
		return func(*activation) (bool, bool) { return bool(b), true }
	case celast.IdentKind:
		id, ok := scalarVar(e.AsIdent(), types.BoolKind)
		if !ok {
			return nil
		}
		return func(a *activation) (bool, bool) {
			v, ok := a.variable(id).(types.Bool)
			return bool(v), ok
		}
	case celast.CallKind:
	default:
		return nil
	}
	call := e.AsCall()
	args := call.Args()
	if call.IsMemberFunction() {
		return nil
	}
	switch fn := call.FunctionName(); {
	case fn == operators.LogicalNot && len(args) == 1:
		x := compileFast(a, args[0])
		if x == nil {
			return nil
		}
		return func(a *activation) (bool, bool) {
			v, ok := x(a)
			return !v, ok
		}
	case (fn == operators.LogicalAnd || fn == operators.LogicalOr) && len(args) == 2:
		l, r := compileFast(a, args[0]), compileFast(a, args[1])
		if l == nil || r == nil {
			return nil
		}
		and := fn == operators.LogicalAnd
		return func(a *activation) (bool, bool) {
			v, ok := l(a)
			if !ok || v != and { // false && _, true || _
				return v, ok
			}
			return r(a)
		}
	case fn == operators.In && len(args) == 2:
		id, key, ok := mapLookup(args[1], args[0])
		if !ok {
			return nil
		}
		return func(a *activation) (bool, bool) {
			_, found := a.doubles(id)[key]
			return found, true
		}
	case fn == operators.Conditional && len(args) == 3:
		c, x, y := compileFast(a, args[0]), compileFast(a, args[1]), compileFast(a, args[2])
		if c == nil || x == nil || y == nil {
			return nil
		}
		return func(a *activation) (bool, bool) {
			if v, ok := c(a); !ok {
				return false, false
			} else if v {
				return x(a)
			}
			return y(a)
		}
	case fn == "segment" && len(args) == 1:
		name, ok := litString(args[0])
		if !ok {
			return nil
		}
		return func(a *activation) (bool, bool) { return a.members[name], true }
	case len(args) != 2:
		return nil
	}
	op := call.FunctionName()
	cmp := fastCompare(op)
	if cmp == nil {
		return nil
	}
	switch k0, k1 := kind(args[0]), kind(args[1]); {
	case k0 == types.BoolKind && k1 == types.BoolKind && (op == operators.Equals || op == operators.NotEquals):
		l, r := compileFast(a, args[0]), compileFast(a, args[1])
		if l == nil || r == nil {
			return nil
		}
		eq := op == operators.Equals
		return func(a *activation) (bool, bool) {
			x, ok := l(a)
			if !ok {
				return false, false
			}
			y, ok := r(a)
			return (x == y) == eq, ok
		}
	case k0 == types.IntKind && k1 == types.IntKind:
		l, r := compileInt(a, args[0]), compileInt(a, args[1])
		if l == nil || r == nil {
			return nil
		}
		return func(a *activation) (bool, bool) {
			x, ok := l(a)
			if !ok {
				return false, false
			}
			y, ok := r(a)
			if !ok {
				return false, false
			}
			return cmp(compareInt(x, y)), true
		}
	case k0 == types.DoubleKind && k1 == types.DoubleKind:
		l, r := compileDouble(a, args[0]), compileDouble(a, args[1])
		if l == nil || r == nil {
			return nil
		}
		return func(a *activation) (bool, bool) {
			x, ok := l(a)
			if !ok || x != x { // NaN: CEL's to decide
				return false, false
			}
			y, ok := r(a)
			if !ok || y != y {
				return false, false
			}
			return cmp(compareDouble(x, y)), true
		}
	}
	return nil
}

func compareInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func compareDouble(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0 // equal (NaN excluded), -0 == +0 as in CEL
}

// fastCompare maps a comparison operator to its test of a -1, 0, 1 result.
func fastCompare(op string) func(int) bool {
	switch op {
	case operators.Less:
		return func(c int) bool { return c < 0 }
	case operators.LessEquals:
		return func(c int) bool { return c <= 0 }
	case operators.Greater:
		return func(c int) bool { return c > 0 }
	case operators.GreaterEquals:
		return func(c int) bool { return c >= 0 }
	case operators.Equals:
		return func(c int) bool { return c == 0 }
	case operators.NotEquals:
		return func(c int) bool { return c != 0 }
	}
	return nil
}

func compileInt(a *celast.AST, e celast.Expr) fastInt {
	switch e.Kind() {
	case celast.LiteralKind:
		n, ok := e.AsLiteral().(types.Int)
		if !ok {
			return nil
		}
		return func(*activation) (int64, bool) { return int64(n), true }
	case celast.IdentKind:
		id, ok := scalarVar(e.AsIdent(), types.IntKind)
		if !ok {
			return nil
		}
		return func(a *activation) (int64, bool) {
			v, ok := a.variable(id).(types.Int)
			return int64(v), ok
		}
	case celast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			return nil
		}
		fn, args := call.FunctionName(), call.Args()
		switch {
		case fn == "rank" && len(args) == 2:
			// rank(m, key) of a family, or rank(m, "constant")
			if args[0].Kind() != celast.IdentKind || !fastMaps[args[0].AsIdent()] || args[0].AsIdent() == "model" {
				return nil
			}
			id := varIDs[args[0].AsIdent()]
			if args[1].Kind() == celast.IdentKind && args[1].AsIdent() == "key" {
				return func(a *activation) (int64, bool) {
					if !a.family {
						return 0, false
					}
					return int64(a.rankIn(id, string(a.key))), true
				}
			}
			if k, ok := litString(args[1]); ok {
				return func(a *activation) (int64, bool) { return int64(a.rankIn(id, k)), true }
			}
			return nil
		case fn == "int" && len(args) == 1:
			// int(double): truncation towards zero; out of range or NaN
			// is CEL's error
			if x := compileDouble(a, args[0]); x != nil {
				return func(a *activation) (int64, bool) {
					v, ok := x(a)
					if !ok || v != v || v <= -9.2e18 || v >= 9.2e18 {
						return 0, false
					}
					return int64(v), true
				}
			}
			return nil
		}
		return fastIntCall(fn, args)
	}
	return nil
}

func compileDouble(a *celast.AST, e celast.Expr) fastDouble {
	switch e.Kind() {
	case celast.LiteralKind:
		x, ok := e.AsLiteral().(types.Double)
		if !ok {
			return nil
		}
		return func(*activation) (float64, bool) { return float64(x), true }
	case celast.IdentKind:
		if e.AsIdent() == "value" {
			return func(a *activation) (float64, bool) { return float64(a.value), a.family }
		}
		id, ok := scalarVar(e.AsIdent(), types.DoubleKind)
		if !ok {
			return nil
		}
		return func(a *activation) (float64, bool) {
			v, ok := a.variable(id).(types.Double)
			return float64(v), ok
		}
	case celast.CallKind:
		call := e.AsCall()
		fn, args := call.FunctionName(), call.Args()
		if call.IsMemberFunction() {
			return nil
		}
		switch {
		case fn == "spend_in" || fn == "refund_amount_in" || fn == "negative_review_share_in":
			return fastDoubleCall(fn, args)
		case fn == operators.Index && len(args) == 2:
			if id, ok := familyLookup(args[0], args[1]); ok {
				return func(a *activation) (float64, bool) {
					if !a.family {
						return 0, false
					}
					v, found := a.doubles(id)[string(a.key)]
					return v, found
				}
			}
			id, key, ok := mapLookup(args[0], args[1])
			if !ok {
				return nil
			}
			return func(a *activation) (float64, bool) {
				v, found := a.doubles(id)[key]
				return v, found // a missing key: CEL's error
			}
		case fn == operators.Conditional && len(args) == 3:
			c, x, y := compileFast(a, args[0]), compileDouble(a, args[1]), compileDouble(a, args[2])
			if c == nil || x == nil || y == nil {
				return nil
			}
			return func(a *activation) (float64, bool) {
				if v, ok := c(a); !ok {
					return 0, false
				} else if v {
					return x(a)
				}
				return y(a)
			}
		}
	}
	return nil
}

// fastMaps are the map(string, double) variables of the subset.
var fastMaps = map[string]bool{"categories": true, "value_tier_p": true, "value_logp": true, "interests": true, "scores": true, "model": true}

// mapLookup is m[key] or key in m for one of fastMaps and a constant key.
func mapLookup(m, key celast.Expr) (int, string, bool) {
	if m.Kind() != celast.IdentKind || !fastMaps[m.AsIdent()] || key.Kind() != celast.LiteralKind {
		return 0, "", false
	}
	k, ok := key.AsLiteral().(types.String)
	return varIDs[m.AsIdent()], string(k), ok
}

// familyLookup is m[key] for one of fastMaps and the family's key
// variable.
func familyLookup(m, key celast.Expr) (int, bool) {
	if m.Kind() != celast.IdentKind || !fastMaps[m.AsIdent()] || key.Kind() != celast.IdentKind || key.AsIdent() != "key" {
		return 0, false
	}
	return varIDs[m.AsIdent()], true
}

// scalarVar is the id of a variable of the kind (not key or value).
func scalarVar(name string, k types.Kind) (int, bool) {
	id, ok := varIDs[name]
	if !ok || id == vKey || id == vValue {
		return 0, false
	}
	for _, v := range Vars {
		if v.id == id {
			return id, v.t.Kind() == k
		}
	}
	return 0, false
}

// fastIntCall is count, count_in or purchase_days_in with constant
// arguments, nil otherwise. An unknown event type or a window out of
// bounds is CEL's to report (the definition is refused before anyway).
func fastIntCall(fn string, args []celast.Expr) fastInt {
	switch {
	case fn == "count" && len(args) == 1:
		if t, ok := litType(args[0]); ok {
			return func(a *activation) (int64, bool) { return a.count(t), true }
		}
	case fn == "count_in" && len(args) == 2:
		t, ok := litType(args[0])
		d, ok2 := litInt(args[1])
		if ok && ok2 {
			return func(a *activation) (int64, bool) {
				if checkWindow(fn, d, a.set.opt.RetentionDays) != nil {
					return 0, false
				}
				return a.countIn(t, d), true
			}
		}
	case (fn == "negative_reviews_in" || fn == "scored_reviews_in") && len(args) == 1:
		if d, ok := litInt(args[0]); ok {
			neg := fn == "negative_reviews_in"
			return func(a *activation) (int64, bool) {
				if checkWindow(fn, d, a.set.opt.RetentionDays) != nil {
					return 0, false
				}
				if w := a.window(d); neg {
					return int64(w.ReviewsNegative), true
				} else {
					return int64(w.ReviewsScored), true
				}
			}
		}
	case fn == "purchase_days_in" && len(args) == 1:
		if d, ok := litInt(args[0]); ok {
			return func(a *activation) (int64, bool) {
				if checkWindow(fn, d, a.set.opt.RetentionDays) != nil {
					return 0, false
				}
				return a.purchaseDaysIn(d), true
			}
		}
	}
	return nil
}

// fastDoubleCall is spend_in, refund_amount_in or negative_review_share_in
// with a constant window.
func fastDoubleCall(fn string, args []celast.Expr) fastDouble {
	if len(args) != 1 {
		return nil
	}
	d, ok := litInt(args[0])
	if !ok {
		return nil
	}
	return func(a *activation) (float64, bool) {
		if checkWindow(fn, d, a.set.opt.RetentionDays) != nil {
			return 0, false
		}
		switch fn {
		case "spend_in":
			return a.spendIn(d), true
		case "negative_review_share_in":
			return a.window(d).NegativeReviewShare(), true
		}
		return a.refundIn(d), true
	}
}

func litString(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

func litInt(e celast.Expr) (int64, bool) {
	if e.Kind() != celast.LiteralKind {
		return 0, false
	}
	n, ok := e.AsLiteral().(types.Int)
	return int64(n), ok
}

// litType is a constant event type (see eventTypes).
func litType(e celast.Expr) (int, bool) {
	s, ok := litString(e)
	if !ok {
		return 0, false
	}
	t, ok := eventTypes[s]
	return t, ok
}

// Overlay compiles defs on top of base (each replaces the base definition
// of its name; new names come after) and returns the set and the refusals
// of defs alone (and those naming no segment). `segstream segments` and
// the read API check definitions this way before they publish them.
func Overlay(base, defs []Definition, opt Options) (*Set, Errors) {
	mine := map[string]bool{}
	for _, d := range defs {
		mine[d.Name] = true
	}
	var all []Definition
	for _, d := range base {
		if !mine[d.Name] {
			all = append(all, d)
		}
	}
	all = append(all, defs...)
	set, err := Compile(all, opt)
	var errs Errors
	for _, e := range AsErrors(err) {
		if mine[e.Segment] || e.Segment == "" {
			errs = append(errs, e)
		}
	}
	return set, errs
}
