package segments_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/segments"
)

// posOf is the line and column (1-based, in characters) of the first
// occurrence of marker in text.
func posOf(t *testing.T, text, marker string) segments.Pos {
	t.Helper()
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("marker %q not in the text", marker)
	}
	before := text[:i]
	line := strings.Count(before, "\n") + 1
	col := len([]rune(before[strings.LastIndexByte(before, '\n')+1:])) + 1
	return segments.Pos{Line: line, Col: col}
}

// load parses and compiles a file and returns the set and every refusal
// (of the parse and of the compile), each checked to be a *segments.Error
// with text.
func load(t *testing.T, text string, opt segments.Options) (*segments.Set, segments.Errors) {
	t.Helper()
	defs, perr := segments.ParseFile([]byte(text), "test.yaml")
	set, cerr := segments.Compile(defs, opt)
	if set == nil {
		t.Fatal("Compile returned no set")
	}
	var all segments.Errors
	for _, err := range []error{perr, cerr} {
		if err == nil {
			continue
		}
		var es segments.Errors
		if !errors.As(err, &es) {
			t.Fatalf("error %T %v: want segments.Errors", err, err)
		}
		all = append(all, es...)
	}
	for _, e := range all {
		if e == nil || e.Error() == "" || e.Msg == "" {
			t.Fatalf("empty refusal %#v", e)
		}
	}
	return set, all
}

// find is the refusal of a segment, failing when there is none or more.
func find(t *testing.T, es segments.Errors, segment string) *segments.Error {
	t.Helper()
	var out *segments.Error
	for _, e := range es {
		if e.Segment == segment {
			if out != nil {
				t.Fatalf("two refusals of %q:\n%v\n%v", segment, out, e)
			}
			out = e
		}
	}
	if out == nil {
		t.Fatalf("%q not refused; refusals:\n%v", segment, es)
	}
	return out
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		opt     segments.Options
		segment string // the refused one
		field   string
		expr    string // want Error.Expr (enter and exit)
		at      string // where Error.Pos points: the first occurrence of this
		col     bool   // the column too (else the line alone)
		msg     string // in Error.Msg
	}{
		{name: "syntax error", segment: "bad", field: "enter", expr: "spend >= 1.0 &&& true", at: "& true", col: true, msg: "Syntax error",
			yaml: "segments:\n  - name: good\n    enter: spend > 1.0\n  - name: bad\n    enter: spend >= 1.0 &&& true\n"},
		{name: "syntax error at the end", segment: "bad", field: "enter", expr: "spend > (1.0", at: "\n", col: true, msg: "missing ')'",
			yaml: "segments:\n  - name: bad\n    enter: spend > (1.0"},
		{name: "unknown variable", segment: "bad", field: "enter", expr: "spent >= 1.0", at: "spent", col: true, msg: "undeclared reference to 'spent'",
			yaml: "segments:\n  - name: bad\n    enter: spent >= 1.0\n"},
		{name: "type error", segment: "bad", field: "enter", expr: `spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    enter: spend >= \"x\"\n"},
		{name: "not a bool", segment: "bad", field: "enter", expr: "spend + 1.0", at: "spend + 1.0", col: true, msg: "of type double, want bool",
			yaml: "segments:\n  - name: bad\n    enter: spend + 1.0\n"},
		{name: "type error in exit", segment: "bad", field: "exit", expr: `orders == "5"`, at: `== "5"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    enter: orders > 5\n    exit: orders == \"5\"\n"},
		{name: "estimated cost over the default limit", segment: "bad", field: "enter", expr: "interests.all(k, interests.all(j, interests[k] > interests[j]))",
			at: "interests.all(k,", col: true, msg: "estimated cost",
			yaml: "segments:\n  - name: bad\n    enter: interests.all(k, interests.all(j, interests[k] > interests[j]))\n"},
		{name: "estimated cost over a small limit", opt: segments.Options{MaxCost: 3}, segment: "bad", field: "enter",
			expr: `spend_in(30) > 1.0 && count("view") > 2 && orders > 1`, at: "spend_in", col: true, msg: "above the limit 3",
			yaml: "segments:\n  - name: bad\n    enter: spend_in(30) > 1.0 && count(\"view\") > 2 && orders > 1\n"},
		{name: "self cycle", segment: "me", field: "enter", expr: `segment("me") || spend > 1.0`, at: `("me")`, col: true, msg: "cycle: me -> me",
			yaml: "segments:\n  - name: me\n    enter: segment(\"me\") || spend > 1.0\n"},
		{name: "unknown segment", segment: "bad", field: "enter", expr: `spend > 1.0 && segment("nope")`, at: `("nope")`, col: true, msg: `segment("nope"): no such segment`,
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0 && segment(\"nope\")\n"},
		{name: "unknown segment in exit", segment: "bad", field: "exit", expr: `segment("nope")`, at: `("nope")`, col: true, msg: `no such segment`,
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    exit: segment(\"nope\")\n"},
		{name: "non-constant segment()", segment: "bad", field: "enter", expr: `segment(value_tier)`, at: "(value_tier)", col: true, msg: "constant name",
			yaml: "segments:\n  - name: bad\n    enter: segment(value_tier)\n"},
		{name: "duplicate name", segment: "twice", field: "name", at: "twice\n    enter: orders", col: true, msg: "duplicate name (first at line 2)",
			yaml: "segments:\n  - name: twice\n    enter: spend > 1.0\n  - name: twice\n    enter: orders > 1\n"},
		{name: "unknown field", segment: "bad", field: "colour", at: "colour", col: true, msg: "unknown field",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    colour: red\n"},
		{name: "field given twice", segment: "bad", field: "enter", at: "enter: orders", col: true, msg: "given twice",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    enter: orders > 1\n"},
		{name: "bad min_dwell", segment: "bad", field: "min_dwell", at: "a week", col: true, msg: "duration",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    min_dwell: a week\n"},
		{name: "negative min_dwell", segment: "bad", field: "min_dwell", at: "-7d", col: true, msg: "duration",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    min_dwell: -7d\n"},
		{name: "window longer than the retention", segment: "bad", field: "enter", expr: "spend_in(120) > 1.0", at: "(120)", col: true, msg: "longer than the retention",
			yaml: "segments:\n  - name: bad\n    enter: spend_in(120) > 1.0\n"},
		{name: "window longer than a set retention", opt: segments.Options{RetentionDays: 30}, segment: "bad", field: "enter",
			expr: `count_in("view", 31) > 1`, at: `("view", 31)`, col: true, msg: "retention_days = 30",
			yaml: "segments:\n  - name: bad\n    enter: count_in(\"view\", 31) > 1\n"},
		{name: "empty window", segment: "bad", field: "enter", expr: "refund_amount_in(0) > 1.0", at: "(0)", col: true, msg: "at least 1",
			yaml: "segments:\n  - name: bad\n    enter: refund_amount_in(0) > 1.0\n"},
		{name: "unknown event type", segment: "bad", field: "enter", expr: `count("clicks") > 1`, at: `("clicks")`, col: true, msg: `unknown event type "clicks"`,
			yaml: "segments:\n  - name: bad\n    enter: count(\"clicks\") > 1\n"},
		{name: "key outside a family", segment: "bad", field: "enter", expr: "interests[key] > 0.5", at: "key]", col: true, msg: "only in a family",
			yaml: "segments:\n  - name: bad\n    enter: interests[key] > 0.5\n"},
		{name: "value outside a family", segment: "bad", field: "exit", expr: "value < 0.5", at: "value <", col: true, msg: "only in a family",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    exit: value < 0.5\n"},
		{name: "fixed name in a family's namespace", segment: "interest:books", field: "name", at: "interest:books", col: true, msg: "namespace of the family interest:*",
			yaml: "segments:\n  - name: \"interest:*\"\n    each: interests\n    enter: value > 0.5\n  - name: interest:books\n    enter: spend > 1.0\n"},
		{name: "bad name", segment: "Big-Spender", field: "name", at: "Big-Spender", col: true, msg: "lower-case",
			yaml: "segments:\n  - name: Big-Spender\n    enter: spend > 1.0\n"},
		{name: "star outside a family", segment: "x:*", field: "name", at: "x:*", col: true, msg: "only names a family",
			yaml: "segments:\n  - name: x:*\n    enter: spend > 1.0\n"},
		{name: "missing enter", segment: "bad", field: "enter", at: "\"\"", col: true, msg: "missing",
			yaml: "segments:\n  - name: bad\n    enter: \"\"\n"},
		{name: "unknown each", segment: "x:*", field: "each", at: "colours", col: true, msg: "want one of",
			yaml: "segments:\n  - name: x:*\n    each: colours\n    enter: value > 0.5\n"},
		{name: "bad explain", segment: "bad", field: "explain", at: "magic", col: true, msg: "want churn or value",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    explain: magic\n"},
		{name: "a list where a string goes", segment: "bad", field: "exit", at: "[a, b]", col: true, msg: "want a string",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    exit: [a, b]\n"},
		// positions inside quoted and block scalars
		{name: "single-quoted", segment: "bad", field: "enter", expr: `!segment("new") && spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: new\n    enter: orders == 0\n  - name: bad\n    enter: '!segment(\"new\") && spend >= \"x\"'\n"},
		{name: "double-quoted with escapes", segment: "bad", field: "enter", expr: `value_tier == "high" && spend >= "x"`, at: `>= \"x\"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    enter: \"value_tier == \\\"high\\\" && spend >= \\\"x\\\"\"\n"},
		{name: "folded block, error on its third line", segment: "bad", field: "enter", expr: `value_tier == "high" && orders > 1 && spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    enter: >-\n      value_tier == \"high\" &&\n      orders > 1 &&\n      spend >= \"x\"\n    min_dwell: 7d\n"},
		{name: "literal block, error on its second line", segment: "bad", field: "exit", expr: "orders > 1 &&\n  nosuch > 2\n", at: "nosuch", col: true, msg: "undeclared reference",
			yaml: "segments:\n  - name: bad\n    enter: spend > 1.0\n    exit: |  # a comment\n      orders > 1 &&\n        nosuch > 2\n"},
		{name: "multi-line plain scalar", segment: "bad", field: "enter", expr: `orders > 1 && spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    enter: orders > 1 &&\n      spend >= \"x\"\n"},
		{name: "non-ASCII before the error", segment: "bad", field: "enter", expr: `value_tier == "é" && spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    description: café\n    enter: value_tier == \"é\" && spend >= \"x\"\n"},
		{name: "CRLF line ends", segment: "bad", field: "enter", expr: `orders > 1 && spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\r\n  - name: bad\r\n    enter: >-\r\n      orders > 1 &&\r\n      spend >= \"x\"\r\n"},
		{name: "anchor and tag", segment: "bad", field: "enter", expr: `orders > 1 && spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "segments:\n  - name: bad\n    enter: &e !!str orders > 1 && spend >= \"x\"\n"},
		{name: "byte order mark", segment: "bad", field: "enter", expr: `spend >= "x"`, at: `>= "x"`, col: true, msg: "no matching overload",
			yaml: "\ufeffsegments: [{name: bad, enter: 'spend >= \"x\"'}]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, es := load(t, tc.yaml, tc.opt)
			e := find(t, es, tc.segment)
			if e.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", e.Field, tc.field, e)
			}
			if e.Expr != tc.expr {
				t.Errorf("expr %q, want %q", e.Expr, tc.expr)
			}
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("message %q, want it to say %q", e.Msg, tc.msg)
			}
			// columns count characters as YAML does: a CR before LF or a
			// byte order mark is none
			want := posOf(t, strings.TrimPrefix(strings.ReplaceAll(tc.yaml, "\r\n", "\n"), "\ufeff"), tc.at)
			if tc.at == "\n" { // just past the end of the text
				last := tc.yaml[strings.LastIndexByte(tc.yaml, '\n')+1:]
				want = segments.Pos{Line: strings.Count(tc.yaml, "\n") + 1, Col: len(last) + 1}
			}
			if e.Pos.Line != want.Line || tc.col && e.Pos.Col != want.Col {
				t.Errorf("at %v, want %v (%q) in\n%s", e.Pos, want, tc.at, tc.yaml)
			}
			if !strings.HasPrefix(e.Source, "test.yaml") {
				t.Errorf("source %q", e.Source)
			}
			// the text names the file, the exact position, the segment
			// and the field once
			txt := e.Error()
			if !strings.HasPrefix(txt, fmt.Sprintf("test.yaml:%d:%d: segment %q: %s: ", e.Pos.Line, e.Pos.Col, tc.segment, tc.field)) {
				t.Errorf("text %q", txt)
			}
			// the refused one is not in the set (the first of a duplicate is)
			kept := 0
			for _, d := range set.Definitions() {
				if d.Name == tc.segment {
					kept++
				}
			}
			text := strings.ReplaceAll(tc.yaml, "\r", "")
			if want := strings.Count(text, "name: "+tc.segment+"\n") + strings.Count(text, "name: "+tc.segment+",") - 1; kept != want {
				t.Errorf("%d definitions of %q in the set, want %d", kept, tc.segment, want)
			}
			if tc.segment == "bad" && strings.Contains(tc.yaml, "name: good") {
				if _, ok := set.Lookup("good"); !ok {
					t.Errorf("the good definition was dropped")
				}
			}
			t.Log(txt)
		})
	}
}

func TestRefusedCycle(t *testing.T) {
	text := `segments:
  - name: a
    enter: spend > 1.0 && segment("b")
  - name: b
    enter: orders > 1
    exit: segment("a")
  - name: c
    enter: segment("a") || orders > 10
  - name: d
    enter: orders > 3
`
	set, es := load(t, text, segments.Options{})
	a, b := find(t, es, "a"), find(t, es, "b")
	for _, e := range []*segments.Error{a, b} {
		if !strings.Contains(e.Msg, "cycle") {
			t.Errorf("%v: does not say cycle", e)
		}
	}
	if !strings.Contains(a.Msg, "a -> b -> a") {
		t.Errorf("a: %q", a.Msg)
	}
	if a.Field != "enter" || a.Pos != posOf(t, text, `("b")`) || a.Expr != `spend > 1.0 && segment("b")` {
		t.Errorf("a refused at %s %v %q", a.Field, a.Pos, a.Expr)
	}
	if b.Field != "exit" || b.Pos != posOf(t, text, `("a")`) || b.Expr != `segment("a")` {
		t.Errorf("b refused at %s %v %q", b.Field, b.Pos, b.Expr)
	}
	// c reads a refused segment: refused too
	c := find(t, es, "c")
	if !strings.Contains(c.Msg, `segment("a"): no such segment (or it was refused)`) || c.Pos.Line != 8 {
		t.Errorf("c: %v", c)
	}
	if len(es) != 3 {
		t.Errorf("%d refusals, want 3:\n%v", len(es), es)
	}
	if names := names(set); !slices.Equal(names, []string{"d"}) {
		t.Errorf("set holds %v, want [d]", names)
	}
}

func names(s *segments.Set) []string {
	var out []string
	for _, d := range s.Definitions() {
		out = append(out, d.Name)
	}
	return out
}

func TestCompileKeepsTheGood(t *testing.T) {
	text := `segments:
  - name: one
    enter: spend > 1.0
  - name: broken
    enter: spend >= "x"
  - name: two
    enter: orders > 2 && segment("one")
  - name: leans_on_broken
    enter: segment("broken") && orders > 1
  - name: leans_on_that
    enter: '!segment("leans_on_broken")'
  - name: "interest:*"
    each: interests
    enter: value >= 0.3 && segment("two")
`
	set, es := load(t, text, segments.Options{})
	if got := names(set); !slices.Equal(got, []string{"one", "two", "interest:*"}) {
		t.Fatalf("set holds %v", got)
	}
	_ = find(t, es, "broken")
	if e := find(t, es, "leans_on_broken"); !strings.Contains(e.Msg, "refused") || e.Pos != posOf(t, text, `("broken")`) {
		t.Errorf("leans_on_broken: %v", e)
	}
	if e := find(t, es, "leans_on_that"); !strings.Contains(e.Msg, `segment("leans_on_broken")`) {
		t.Errorf("leans_on_that: %v", e)
	}
	// what compiled evaluates
	p := profile(t, purchase(t0.Add(-time.Hour), 10), purchase(t0.Add(-2*time.Hour), 10), purchase(t0.Add(-3*time.Hour), 10))
	r, err := set.Evaluate(input(p, t0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Segments, " "); got != "one two interest:kitchen interest:garden" {
		t.Fatalf("segments %q", got)
	}
}

// A comprehension variable named key or value is its own, not the
// family's: allowed outside a family.
func TestComprehensionVariablesNamedKey(t *testing.T) {
	s := compile(t, `segments:
  - name: likes_kitchen
    enter: interests.exists(key, key == "kitchen" && interests[key] > 0.4)
  - name: all_low
    enter: scores.all(key, scores[key] < 0.9) && interests.all(value, interests[value] < 0.6)
`)
	r, err := s.Evaluate(input(profile(t, view(t0)), t0), nil)
	if err != nil || len(r.Errors) > 0 {
		t.Fatal(err, r.Errors)
	}
	if got := strings.Join(r.Segments, " "); got != "likes_kitchen all_low" {
		t.Fatalf("segments %q", got)
	}
	// but key outside the comprehension is still the family's
	text := `segments:
  - name: bad
    enter: interests.exists(key, key == "x") || key == "y"
`
	_, es := load(t, text, segments.Options{})
	if e := find(t, es, "bad"); e.Pos != posOf(t, text, `key == "y"`) {
		t.Errorf("refused at %v: %v", e.Pos, e)
	}
}

// Definitions built in code (no source) are refused with the position
// within the expression alone.
func TestRefusalWithoutSource(t *testing.T) {
	_, err := segments.Compile([]segments.Definition{{Name: "x", Enter: "orders > 1 &&\n  spend >= \"x\""}, {Name: "y", Enter: "spend + 1.0"}}, segments.Options{})
	es := segments.AsErrors(err)
	if len(es) != 2 {
		t.Fatalf("%v", err)
	}
	if x := find(t, es, "x"); x.Pos != (segments.Pos{Line: 2, Col: 9}) || x.Expr == "" {
		t.Errorf("x: %+v", x)
	}
	if y := find(t, es, "y"); y.Pos != (segments.Pos{}) || y.Field != "enter" {
		t.Errorf("y: %+v", y)
	}
}

func TestParseOneRefusals(t *testing.T) {
	for _, tc := range []struct {
		text, field, msg string
		line             int
	}{
		{"name: x\nenter: spend > 1.0\nmin_dwell: 3 weeks\n", "min_dwell", "duration", 3},
		{"name: x\nenter: spend > 1.0\nextra: 1\n", "extra", "unknown field", 3},
		{"- name: x\n", "", "must be a mapping", 1},
		{"name: x\n", "enter", "missing", 0},
		{"name: [x]\nenter: spend > 1.0\n", "name", "want a string", 1},
		{"enter: spend > 1.0\n", "name", "missing", 0},
		{"name: x\nenter: 'a\n", "", "not YAML", 0},
		{"", "", "empty", 0},
		{"---", "", "empty", 0},
	} {
		_, err := segments.ParseOne([]byte(tc.text), "topic/0@7")
		es := segments.AsErrors(err)
		if len(es) == 0 {
			t.Errorf("%q: accepted", tc.text)
			continue
		}
		e := es[0]
		if e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) || e.Pos.Line != tc.line {
			t.Errorf("%q: %s %d %q, want %s %d %q", tc.text, e.Field, e.Pos.Line, e.Msg, tc.field, tc.line, tc.msg)
		}
		if !strings.HasPrefix(e.Error(), "topic/0@7") {
			t.Errorf("%q: text %q", tc.text, e.Error())
		}
	}
	d, err := segments.ParseOne([]byte("name: x\nenter: spend >= \"x\"\n"), "topic/0@8")
	if err != nil {
		t.Fatal(err)
	}
	_, err = segments.Compile([]segments.Definition{d}, segments.Options{})
	if e := find(t, segments.AsErrors(err), "x"); e.Pos != (segments.Pos{Line: 2, Col: 14}) || e.Error() != `topic/0@8:2:14: segment "x": enter: found no matching overload for '_>=_' applied to '(double, string)' (in "spend >= \"x\"")` {
		t.Errorf("%+v\n%s", e, e)
	}
}

func TestParseFileRefusals(t *testing.T) {
	for _, tc := range []struct{ text, msg string }{
		{"", "empty file"},
		{"---", "empty file"},
		{"---\n# nothing\n", "empty file"},
		{"- a\n", "want a mapping"},
		{"segs: []\n", "unknown field"},
		{"segments: {}\n", "must be a list"},
		{"segments: [\n", "not YAML"},
		{"segments:\n  - 1\n", "must be a mapping"},
	} {
		defs, err := segments.ParseFile([]byte(tc.text), "f.yaml")
		if len(defs) != 0 || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v %v", tc.text, defs, err)
		}
	}
}

func liveOf(t *testing.T, text string) *segments.Live {
	t.Helper()
	defs, err := segments.ParseFile([]byte(text), "base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := segments.NewLive(defs, segments.Options{}, nil, nil)
	if l.Set().Len() != len(defs) {
		t.Fatalf("%d of %d live", l.Set().Len(), len(defs))
	}
	return l
}

func one(t *testing.T, text string) segments.Definition {
	t.Helper()
	d, err := segments.ParseOne([]byte(text), "segments.definitions/0@1")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func version(t *testing.T, l *segments.Live, name string) string {
	t.Helper()
	d, ok := l.Set().Lookup(name)
	if !ok {
		t.Fatalf("%q not live", name)
	}
	return d.Version
}

const liveBase = `segments:
  - name: buyer
    enter: orders >= 1
  - name: loyal
    enter: segment("buyer") && orders >= 5
  - name: browser
    enter: count("view") > 3
`

func TestLiveRefusesBadPut(t *testing.T) {
	l := liveOf(t, liveBase)
	var calls [][]string
	l.OnChange(func(old, cur *segments.Set, changed []string) { calls = append(calls, changed) })
	before, setVersion := version(t, l, "buyer"), l.Set().Version()

	for _, tc := range []struct{ name, def, msg string }{
		{"type error", "name: buyer\nenter: orders >= \"1\"\n", "no matching overload"},
		{"cycle", "name: buyer\nenter: orders >= 1 || segment(\"loyal\")\n", "cycle"},
		{"self cycle", "name: buyer\nenter: segment(\"buyer\")\n", "cycle"},
		{"unknown segment", "name: buyer\nenter: segment(\"nope\")\n", "no such segment"},
		{"cost", "name: buyer\nenter: interests.all(k, interests.all(j, interests[k] > interests[j]))\n", "estimated cost"},
	} {
		err := l.Put(one(t, tc.def))
		es := segments.AsErrors(err)
		if len(es) == 0 || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Put: %v, want it refused (%s)", tc.name, err, tc.msg)
			continue
		}
		var e *segments.Error
		if !errors.As(err, &e) && len(es) == 0 {
			t.Errorf("%s: %T", tc.name, err)
		}
		if got := version(t, l, "buyer"); got != before {
			t.Errorf("%s: buyer is at version %s, want the previous %s", tc.name, got, before)
		}
		if l.Set().Version() != setVersion || l.Set().Len() != 3 {
			t.Errorf("%s: the set changed", tc.name)
		}
	}
	// a cycle through a new definition: refused, nothing changes
	if err := l.Put(one(t, "name: buyer\nenter: segment(\"newcomer\")\n")); err == nil {
		t.Errorf("buyer reading an absent segment accepted")
	}
	if err := l.Put(one(t, "name: newcomer\nenter: segment(\"loyal\") && segment(\"newcomer\")\n")); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("a new self-cycle: %v", err)
	}
	if _, ok := l.Set().Lookup("newcomer"); ok {
		t.Errorf("refused newcomer is live")
	}
	if len(calls) != 0 {
		t.Errorf("OnChange called for refused updates: %v", calls)
	}

	// a good Put changes the version and says so
	if err := l.Put(one(t, "name: buyer\nenter: orders >= 2\n")); err != nil {
		t.Fatal(err)
	}
	if got := version(t, l, "buyer"); got == before {
		t.Errorf("buyer still at %s after a good Put", got)
	}
	if len(calls) != 1 || !slices.Equal(calls[0], []string{"buyer"}) {
		t.Errorf("OnChange calls %v, want [[buyer]]", calls)
	}
	// putting the same again changes nothing
	if err := l.Put(one(t, "name: buyer\nenter: orders >= 2\n")); err != nil || len(calls) != 1 {
		t.Errorf("same Put: %v, calls %v", err, calls)
	}
	// a new definition reading the others
	if err := l.Put(one(t, "name: newcomer\nenter: segment(\"loyal\") || segment(\"browser\")\n")); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || !slices.Equal(calls[1], []string{"newcomer"}) {
		t.Errorf("OnChange calls %v", calls)
	}
}

func TestLiveRefusesDeleteOfADependency(t *testing.T) {
	l := liveOf(t, liveBase)
	var calls [][]string
	l.OnChange(func(old, cur *segments.Set, changed []string) { calls = append(calls, changed) })
	err := l.Delete("buyer")
	if err == nil || !strings.Contains(err.Error(), `segment("buyer")`) {
		t.Fatalf("Delete of buyer (loyal reads it): %v", err)
	}
	if e := find(t, segments.AsErrors(err), "loyal"); e.Field != "enter" || e.Expr == "" {
		t.Errorf("refusal %+v", e)
	}
	version(t, l, "buyer")
	version(t, l, "loyal")
	// deleting the reader first, then what it read, is fine
	if err := l.Delete("loyal"); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete("buyer"); err != nil {
		t.Fatal(err)
	}
	if got := names(l.Set()); !slices.Equal(got, []string{"browser"}) {
		t.Errorf("live %v", got)
	}
	if len(calls) != 2 || !slices.Equal(calls[0], []string{"loyal"}) || !slices.Equal(calls[1], []string{"buyer"}) {
		t.Errorf("OnChange calls %v", calls)
	}
}

func TestLiveSetBaseKeepsPreviousVersionOfRefused(t *testing.T) {
	l := liveOf(t, liveBase)
	var calls [][]string
	l.OnChange(func(old, cur *segments.Set, changed []string) { calls = append(calls, changed) })
	buyer, loyal := version(t, l, "buyer"), version(t, l, "loyal")
	defs, err := segments.ParseFile([]byte(`segments:
  - name: buyer
    enter: orders >= 1
  - name: loyal
    enter: segment("buyer") && orders >= "5"
  - name: browser
    enter: count("view") > 5
  - name: spender
    enter: spend > 100.0
`), "base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = l.SetBase(defs)
	e := find(t, segments.AsErrors(err), "loyal")
	if e.Field != "enter" || e.Pos.Line != 5 {
		t.Errorf("refusal %+v", e)
	}
	if got := version(t, l, "loyal"); got != loyal {
		t.Errorf("loyal at %s, want the previous %s", got, loyal)
	}
	if got := version(t, l, "buyer"); got != buyer {
		t.Errorf("buyer (unchanged) at %s, was %s", got, buyer)
	}
	if d, _ := l.Set().Lookup("browser"); d.Enter != `count("view") > 5` {
		t.Errorf("browser not updated: %q", d.Enter)
	}
	version(t, l, "spender")
	if len(calls) != 1 || !slices.Equal(calls[0], []string{"browser", "spender"}) {
		t.Errorf("OnChange calls %v", calls)
	}
	// a refused new definition has no previous version: it is left out
	defs = append(defs[:3:3], one(t, "name: fresh\nenter: spend >= \"x\"\n"))
	if err := l.SetBase(defs); err == nil {
		t.Fatal("fresh accepted")
	}
	if _, ok := l.Set().Lookup("fresh"); ok {
		t.Error("refused fresh is live")
	}
	version(t, l, "loyal")
}

func TestRuntimeErrorKeepsMembership(t *testing.T) {
	s := compile(t, `segments:
  - name: scored
    enter: scores["special"] > 0.5
  - name: buyer
    enter: orders >= 1
`)
	p := profile(t, purchase(t0.Add(-time.Hour), 10))
	in := input(p, t0)
	in.Scores = map[string]float64{"special": 0.9}
	r, err := s.Evaluate(in, nil)
	if err != nil || len(r.Errors) != 0 || !slices.Contains(r.Segments, "scored") {
		t.Fatalf("first: %v %v %v", err, r.Errors, r.Segments)
	}
	// the key is gone: the expression fails, the member stays in
	in = input(p, t0.Add(time.Hour))
	in.Scores = map[string]float64{}
	r2, err := s.Evaluate(in, r.State)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r2.Segments, []string{"scored", "buyer"}) || r2.Changed {
		t.Errorf("after the failure: %v changed %v", r2.Segments, r2.Changed)
	}
	if len(r2.Errors) != 1 || r2.Errors[0].Segment != "scored" || r2.Errors[0].Field != "enter" ||
		!strings.Contains(r2.Errors[0].Error(), "no such key") {
		t.Errorf("errors %v", r2.Errors)
	}
	// and a non-member stays out
	r3, err := s.Evaluate(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r3.Segments, []string{"buyer"}) || len(r3.Errors) != 1 {
		t.Errorf("first evaluation failing: %v %v", r3.Segments, r3.Errors)
	}
	// an exit failing keeps the member in too
	s2 := compile(t, `segments:
  - name: scored
    enter: orders >= 1
    exit: scores["special"] < 0.5
`)
	r4, _ := s2.Evaluate(in, nil)
	r5, err := s2.Evaluate(in, r4.State)
	if err != nil || !slices.Equal(r5.Segments, []string{"scored"}) || len(r5.Errors) != 1 || r5.Errors[0].Field != "exit" {
		t.Errorf("exit failing: %v %v %v", err, r5.Segments, r5.Errors)
	}
}

// The compile-time estimate sizes the maps (interests: at most 256 keys);
// a bigger map at run time meets the runtime limit.
func TestRuntimeCostLimit(t *testing.T) {
	s := compile(t, `segments:
  - name: all_low
    enter: interests.all(k, interests[k] < 0.9)
  - name: buyer
    enter: orders >= 1
`)
	p := profile(t, purchase(t0.Add(-time.Hour), 10))
	in := input(p, t0)
	r, err := s.Evaluate(in, nil)
	if err != nil || len(r.Errors) != 0 || !slices.Contains(r.Segments, "all_low") {
		t.Fatalf("small map: %v %v %v", err, r.Errors, r.Segments)
	}
	big := input(p, t0.Add(time.Hour))
	big.Interests = map[string]float64{}
	for i := 0; i < 20000; i++ {
		big.Interests[fmt.Sprintf("theme%05d", i)] = 0.1
	}
	r2, err := s.Evaluate(big, r.State)
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Errors) != 1 || r2.Errors[0].Segment != "all_low" || !strings.Contains(r2.Errors[0].Err.Error(), "cost limit") {
		t.Fatalf("errors %v", r2.Errors)
	}
	if !slices.Equal(r2.Segments, []string{"all_low", "buyer"}) {
		t.Errorf("segments %v: all_low should be kept", r2.Segments)
	}
}

// Refusals are listed in file order (line 10 after line 2).
func TestRefusalOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("segments:\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, "  - name: s%d\n    enter: spend >= \"%d\"\n", i, i)
	}
	_, es := load(t, b.String(), segments.Options{})
	if len(es) != 6 {
		t.Fatalf("%d refusals", len(es))
	}
	for i, e := range es {
		if e.Segment != fmt.Sprintf("s%d", i) || e.Pos.Line != 3+2*i {
			t.Errorf("refusal %d: %v", i, e)
		}
	}
}

// An input whose text holds "key" (not the family's key) is a reason
// like any other.
func TestReasonNamedLikeKey(t *testing.T) {
	s := compile(t, `segments:
  - name: monkey
    enter: scores["monkey"] > 0.5 && count("view") >= 1
`)
	in := input(profile(t, view(t0)), t0)
	in.Scores["monkey"] = 0.75
	r, err := s.Evaluate(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Reasons) != 2 || r.Reasons[0].Input != `scores["monkey"]` || r.Reasons[0].Value != 0.75 {
		t.Fatalf("reasons %+v", r.Reasons)
	}
}
