package segments_test

import (
	"os"
	"testing"
	"time"

	"github.com/segstream/segstream/segments"
)

// small files with a bit of everything: families, composition, hysteresis,
// dwell, windows, block and quoted scalars, and some refusals
var fuzzSeeds = []string{
	"segments:\n  - name: a\n    enter: spend > 1.0\n",
	"segments:\n  - name: a\n    enter: segment(\"b\")\n  - name: b\n    enter: segment(\"a\")\n",
	"segments:\n  - name: \"interest:*\"\n    each: interests\n    enter: value >= 0.3 && rank(interests, key) < 2\n    exit: value < 0.2\n    min_dwell: 2d\n  - name: interest:x\n    enter: true\n",
	"segments:\n  - name: w\n    enter: >-\n      spend_in(30) > 1.0 &&\n      count_in(\"view\", 7) >= 1 ||\n      purchase_days_in(365) > 2\n    exit: |\n      refund_amount_in(90) > 0.0\n",
	"segments:\n  - name: q\n    enter: '!segment(\"r\") && days(now - last_seen) < 3.0'\n  - name: r\n    enter: \"value_tier == \\\"high\\\" && scores[\\\"x\\\"] > 0.5\"\n    explain: value:high\n",
	"segments:\n  - name: p\n    enter: '\"at_risk\" in previous && now - previous[\"at_risk\"] > duration(\"1h\") || first_evaluation'\n    min_dwell: 30m\n",
	"segments:\n  - name: bad\n    enter: spend >= \"x\"\n  - name: bad\n    enter: key\n    colour: red\n",
	"segments:\n  - name: c\n    enter: categories.exists(k, categories[k] > 0.5) && \"review\" in text_kinds\n  - name: \"cat:*\"\n    each: categories\n    enter: value > 0.1 && segment(\"c\")\n",
	"segments:\r\n  - name: crlf\r\n    enter: orders >\r\n      1\r\n",
	"segments: [{name: f, enter: 'interests.all(k, interests.all(j, interests[k] > interests[j]))'}]\n",
	"\ufeffsegments:\n  - name: t\n    enter: &e !!str \"orders > 1 && spend >= \\u0022x\\\"\"\n    exit: *e\n",
}

func fuzzInput(t *testing.T, at time.Duration) *segments.Input {
	p := profile(t, purchase(t0.Add(-40*24*time.Hour), 10), view(t0.Add(-time.Hour)))
	in := input(p, t0.Add(at))
	in.Scores["x"] = 0.6
	return in
}

// checkErrors: every refusal has text, and a position inside the text.
func checkErrors(t *testing.T, data []byte, err error) segments.Errors {
	t.Helper()
	es := segments.AsErrors(err)
	if err != nil && len(es) == 0 {
		t.Fatalf("error %v lists no refusals", err)
	}
	if err != nil && err.Error() == "" {
		t.Fatalf("empty error text %#v", err)
	}
	lines := 1 // an upper bound of YAML's count
	for _, r := range string(data) {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			lines++
		}
	}
	for _, e := range es {
		if e == nil || e.Msg == "" || e.Error() == "" {
			t.Fatalf("empty refusal %#v in %v", e, err)
		}
		if e.Pos.Line < 0 || e.Pos.Col < 0 || e.Pos.Line > lines {
			t.Fatalf("refusal %v at %v, past the text (%d lines)", e, e.Pos, lines)
		}
	}
	return es
}

// roundTrip: a definition written for the topic reads back the same.
func roundTrip(t *testing.T, d segments.Definition) {
	t.Helper()
	b, err := d.Marshal()
	if err != nil {
		t.Fatalf("marshal %+v: %v", d, err)
	}
	back, err := segments.ParseOne(b, "topic")
	if err != nil {
		t.Fatalf("the marshalled definition %q does not read back: %v", b, err)
	}
	if back.Name != d.Name || back.Enter != d.Enter || back.Exit != d.Exit || back.MinDwell != d.MinDwell || back.Each != d.Each ||
		back.Explain != d.Explain || back.Description != d.Description || back.Version != d.Version {
		t.Fatalf("round trip:\n%+v\n%+v\nvia %q", d, back, b)
	}
}

// evaluate: what compiled evaluates twice (the second time on the state
// of the first, a day later) without panicking.
func evaluate(t *testing.T, set *segments.Set) {
	t.Helper()
	var state []byte
	for _, at := range []time.Duration{0, 24 * time.Hour} {
		r, err := set.Evaluate(fuzzInput(t, at), state)
		if err != nil {
			t.Fatalf("evaluate: %v", err)
		}
		for _, e := range r.Errors {
			if e.Segment == "" || e.Err == nil || e.Error() == "" {
				t.Fatalf("empty evaluation error %#v", e)
			}
		}
		if len(r.Segments) > 0 && len(r.State) == 0 {
			t.Fatalf("members %v and no state", r.Segments)
		}
		if _, err := segments.DecodeState(r.State); err != nil {
			t.Fatalf("state %q: %v", r.State, err)
		}
		state = r.State
	}
}

func FuzzParseCompile(f *testing.F) {
	taxonomy, err := os.ReadFile("../deploy/segments/taxonomy.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(taxonomy)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := segments.ParseFile(data, "fuzz.yaml")
		_ = checkErrors(t, data, err)
		for _, d := range defs {
			if d.Name == "" || d.Version == "" {
				t.Fatalf("parsed a definition without name or version: %+v", d)
			}
			roundTrip(t, d)
		}
		set, err := segments.Compile(defs, segments.Options{})
		if set == nil {
			t.Fatal("no set")
		}
		es := checkErrors(t, data, err)
		if set.Len()+len(es) < len(defs) {
			t.Fatalf("%d definitions, %d compiled and %d refused", len(defs), set.Len(), len(es))
		}
		refused := map[string]bool{}
		for _, e := range es {
			refused[e.Segment] = true
		}
		for _, d := range set.Definitions() {
			if refused[d.Name] {
				t.Fatalf("%q both compiled and refused: %v", d.Name, err)
			}
		}
		evaluate(t, set)
	})
}

func FuzzParseOne(f *testing.F) {
	defs, err := segments.Defaults()
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range defs {
		b, err := d.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"name: a\nenter: spend > 1.0\n",
		"name: \"x:*\"\neach: scores\nenter: value > 0.5 && key != \"churn_risk\"\nmin_dwell: 1d\nexplain: churn\n",
		"name: b\nenter: |\n  orders > 1 &&\n    spend >= \"x\"\nexit: 'segment(\"b\")'\n",
		"name: c\nenter: \"count(\\\"view\\\") > 1\"\nversion: v2\n",
		"{name: d, enter: 'spend_in(91) > 0.0'}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := segments.ParseOne(data, "segments.definitions/0@1")
		if err != nil {
			_ = checkErrors(t, data, err)
			return
		}
		if d.Name == "" || d.Version == "" {
			t.Fatalf("parsed a definition without name or version: %+v", d)
		}
		roundTrip(t, d)
		set, err := segments.Compile([]segments.Definition{d}, segments.Options{})
		if set == nil {
			t.Fatal("no set")
		}
		es := checkErrors(t, data, err)
		if (set.Len() == 1) == (len(es) > 0) {
			t.Fatalf("compiled %d with refusals %v", set.Len(), err)
		}
		evaluate(t, set)
	})
}

// Strings yaml.v3 writes as block scalars that do not read back (a
// leading line break: dropped; a leading tab: not YAML) are quoted.
func TestMarshalAwkwardStrings(t *testing.T) {
	for _, s := range []string{"\norders > 1", "\n\norders > 1", "\torders > 1 &&\n  spend > 1.0", "orders > 1 &&\n\tspend > 1.0", "orders > 1\n"} {
		d := segments.Definition{Name: "a", Description: s, Enter: s, Exit: s, MinDwell: segments.Duration(time.Hour), Version: "v1"}
		roundTrip(t, d)
	}
	// what reads back as written stays as yaml.v3 writes it
	d := segments.Definition{Name: "a", Enter: "orders > 1 &&\n  spend > 1.0", Version: "v1"}
	b, err := d.Marshal()
	if err != nil || string(b) != "name: a\nenter: |-\n    orders > 1 &&\n      spend > 1.0\nversion: v1\n" {
		t.Errorf("%q %v", b, err)
	}
}
