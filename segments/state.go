package segments

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// State is what an evaluation remembers about one user for the next: which
// segments it holds and when each membership last changed (for min_dwell
// and previous). It is stored next to the label document, opaque to
// everything but this package.
type State struct {
	Evaluated bool
	// Legacy: read from the state of the built-in rules of earlier
	// versions (see DecodeState).
	Legacy bool
	M      map[string]Membership
}

// Membership is one segment's state for a user.
type Membership struct {
	In    bool
	Since int64 // event time (unix s) of the last entry or exit; 0: never changed
}

var stateParsers fastjson.ParserPool

// DecodeState reads a stored state. Empty: never evaluated. It also reads
// the state of the built-in rules of earlier versions (at_risk and the
// value tier with their since times), so hysteresis and dwell carry over.
func DecodeState(b []byte) (State, error) {
	st, _, _, err := decodeState(b, nil, nil)
	return st, err
}

// canonPrefix starts every encoding of an evaluated state.
const canonPrefix = `{"e":1,"m":{`

// decodeState is DecodeState into m (emptied first; nil: a new map), so
// that an evaluation can reuse the map of the previous one; the names of
// s's definitions (s may be nil) are not allocated again. canon: b is
// exactly what Encode writes of the state (an evaluated state, read by
// decodeCanonical without the JSON parser). held: the segments held.
func decodeState(b []byte, m map[string]Membership, s *Set) (st State, canon bool, held int, err error) {
	if m == nil {
		m = map[string]Membership{}
	} else {
		clear(m)
	}
	st = State{M: m}
	if len(b) == 0 {
		return st, false, 0, nil
	}
	if held, ok := decodeCanonical(b, m, s); ok {
		st.Evaluated = true
		return st, true, held, nil
	}
	clear(m)
	p := stateParsers.Get()
	defer stateParsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return st, false, 0, fmt.Errorf("segment state: %w", err)
	}
	if v.Exists("decided") { // classifier.State of earlier versions
		st.Evaluated = v.GetBool("decided")
		st.Legacy = true
		since := func(k string) int64 {
			t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes(k)))
			if err != nil {
				return 0
			}
			return t.Unix()
		}
		st.M["at_risk"] = Membership{In: v.GetBool("at_risk"), Since: since("at_risk_since")}
		tiers := []string{"low_value", "mid_value", "high_value"}
		if t := v.GetInt("tier"); t >= 0 && t < 3 {
			st.M[tiers[t]] = Membership{In: true, Since: since("tier_since")}
		}
		return st, false, st.held(), nil
	}
	st.Evaluated = v.GetInt("e") == 1
	o := v.GetObject("m")
	if o == nil {
		return st, false, 0, nil
	}
	var bad error
	o.Visit(func(k []byte, x *fastjson.Value) {
		a, err := x.Array()
		if err != nil || len(a) != 2 {
			bad = fmt.Errorf("segment state: %q: want [in, since]", k)
			return
		}
		st.M[string(k)] = Membership{In: a[0].GetInt() == 1, Since: a[1].GetInt64()}
	})
	return st, false, st.held(), bad
}

// decodeCanonical reads b into m when b is, byte for byte, Encode's
// writing of an evaluated state: {"e":1,"m":{ then "name":[in,since]
// entries, names in strictly ascending order and written as they are
// (printable ASCII but " and \), in 0 or 1, since a decimal int64 without
// a leading zero or a -0, then }}; held counts the entries with in 1.
// Anything else is !ok (m partly filled): the JSON parser reads it.
func decodeCanonical(b []byte, m map[string]Membership, s *Set) (held int, ok bool) {
	if len(b) < len(canonPrefix)+2 || string(b[:len(canonPrefix)]) != canonPrefix {
		return 0, false
	}
	i := len(canonPrefix)
	var last []byte
	for first := true; b[i] != '}'; first = false {
		if !first {
			if b[i] != ',' {
				return 0, false
			}
			i++
		}
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if c := b[j]; c < 0x20 || c >= 0x7f || c == '\\' {
				return 0, false
			}
			j++
		}
		if j >= len(b) {
			return 0, false
		}
		k := b[i+1 : j]
		if !first && string(k) <= string(last) {
			return 0, false
		}
		last = k
		i = j + 1
		// :[in,
		if len(b)-i < 4 || b[i] != ':' || b[i+1] != '[' || b[i+2] != '0' && b[i+2] != '1' || b[i+3] != ',' {
			return 0, false
		}
		in := b[i+2] == '1'
		i += 4
		since, n, ok := canonInt(b[i:])
		if !ok {
			return 0, false
		}
		i += n
		if len(b)-i < 2 || b[i] != ']' {
			return 0, false
		}
		i++
		name := ""
		if s != nil {
			if c, ok := s.byName[string(k)]; ok {
				name = c.def.Name
			}
		}
		if name == "" {
			name = string(k)
		}
		m[name] = Membership{In: in, Since: since}
		if in {
			held++
		}
	}
	return held, len(b)-i == 2 && b[i+1] == '}'
}

// canonInt reads the decimal int64 that strconv.AppendInt writes at the
// start of b: its value and length.
func canonInt(b []byte) (int64, int, bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	start := i
	var u uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start == 19 {
			return 0, 0, false // more than an int64
		}
		u = u*10 + uint64(b[i]-'0')
		i++
	}
	switch nd := i - start; {
	case nd == 0, b[start] == '0' && (nd > 1 || neg):
		return 0, 0, false
	case neg && u > 1<<63, !neg && u > 1<<63-1:
		return 0, 0, false
	case neg:
		return -int64(u), i, true
	}
	return int64(u), i, true
}

// Encode writes the state compactly: {"e":1,"m":{"at_risk":[1,1700000000]}}
// (keys sorted, so equal states encode equally).
func (st State) Encode() []byte {
	es := make([]entry, 0, len(st.M))
	for k, m := range st.M {
		es = append(es, entry{k, m})
	}
	return appendEntries(nil, st.Evaluated, es)
}

// entry is one membership of a state.
type entry struct {
	name string
	m    Membership
}

// appendEntries appends the encoding of the state of es (distinct names;
// sorted here) to b.
func appendEntries(b []byte, evaluated bool, es []entry) []byte {
	slices.SortFunc(es, func(x, y entry) int { return strings.Compare(x.name, y.name) })
	if b == nil {
		n := 16
		for _, e := range es {
			n += len(e.name) + 24 // "k":[1,since]
		}
		b = make([]byte, 0, n)
	}
	b = append(b, `{"e":`...)
	if evaluated {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, `,"m":{`...)
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, e.name)
		b = append(b, ":["...)
		if e.m.In {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, e.m.Since, 10)
		b = append(b, ']')
	}
	return append(b, "}}"...)
}

// held is the number of segments held.
func (st State) held() int {
	n := 0
	for _, m := range st.M {
		if m.In {
			n++
		}
	}
	return n
}

// Members lists the segments held, sorted.
func (st State) Members() []string {
	var out []string
	for k, m := range st.M {
		if m.In {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
