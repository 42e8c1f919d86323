package segments

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/valyala/fastjson"
)

// State is what an evaluation remembers about one user for the next: which
// segments it holds and when each membership last changed (for min_dwell
// and previous). It is stored next to the label document, opaque to
// everything but this package.
type State struct {
	Evaluated bool
	M         map[string]Membership
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
	st, _, err := decodeState(b, nil, nil)
	return st, err
}

// canonPrefix starts every encoding of an evaluated state.
const canonPrefix = `{"e":1,"m":{`

// decodeState is DecodeState into m (emptied first; nil: a new map), so
// that an evaluation can reuse the map of the previous one; the names of
// s's definitions (s may be nil) are not allocated again. canon: b is
// exactly what Encode writes of the state (an evaluated state, read by
// decodeCanonical without the JSON parser).
func decodeState(b []byte, m map[string]Membership, s *Set) (st State, canon bool, err error) {
	if m == nil {
		m = map[string]Membership{}
	} else {
		clear(m)
	}
	st = State{M: m}
	if len(b) == 0 {
		return st, false, nil
	}
	if decodeCanonical(b, m, s) {
		st.Evaluated = true
		return st, true, nil
	}
	clear(m)
	p := stateParsers.Get()
	defer stateParsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return st, false, fmt.Errorf("segment state: %w", err)
	}
	if v.Exists("decided") { // classifier.State of earlier versions
		st.Evaluated = v.GetBool("decided")
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
		return st, false, nil
	}
	st.Evaluated = v.GetInt("e") == 1
	o := v.GetObject("m")
	if o == nil {
		return st, false, nil
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
	return st, false, bad
}

// decodeCanonical reads b into m when b is, byte for byte, Encode's
// writing of an evaluated state: {"e":1,"m":{ then "name":[in,since]
// entries, names in strictly ascending order and written as they are
// (printable ASCII but " and \), in 0 or 1, since a decimal int64 without
// a leading zero or a -0, then }}. Anything else is false (m partly
// filled): the JSON parser reads it.
func decodeCanonical(b []byte, m map[string]Membership, s *Set) bool {
	if len(b) < len(canonPrefix)+2 || string(b[:len(canonPrefix)]) != canonPrefix {
		return false
	}
	i := len(canonPrefix)
	var last []byte
	for first := true; b[i] != '}'; first = false {
		if !first {
			if b[i] != ',' {
				return false
			}
			i++
		}
		if i >= len(b) || b[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if c := b[j]; c < 0x20 || c >= 0x7f || c == '\\' {
				return false
			}
			j++
		}
		if j >= len(b) {
			return false
		}
		k := b[i+1 : j]
		if !first && string(k) <= string(last) {
			return false
		}
		last = k
		i = j + 1
		// :[in,
		if len(b)-i < 4 || b[i] != ':' || b[i+1] != '[' || b[i+2] != '0' && b[i+2] != '1' || b[i+3] != ',' {
			return false
		}
		in := b[i+2] == '1'
		i += 4
		since, n, ok := canonInt(b[i:])
		if !ok {
			return false
		}
		i += n
		if len(b)-i < 2 || b[i] != ']' {
			return false
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
	}
	return len(b)-i == 2 && b[i+1] == '}'
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

// canonical reports whether st encodes to b, decoded as prev (canon: b is
// prev's encoding, see decodeState): st and prev are equal.
func (st State) canonical(prev State, canon bool) bool {
	if !canon || st.Evaluated != prev.Evaluated || len(st.M) != len(prev.M) {
		return false
	}
	for k, m := range st.M {
		if p, ok := prev.M[k]; !ok || p != m {
			return false
		}
	}
	return true
}

// Encode writes the state compactly: {"e":1,"m":{"at_risk":[1,1700000000]}}
// (keys sorted, so equal states encode equally).
func (st State) Encode() []byte {
	b, _ := st.appendEncode(nil, nil)
	return b
}

// appendEncode is Encode appended to b, sorting the keys in keys (a
// scratch slice, returned for reuse).
func (st State) appendEncode(b []byte, keys []string) ([]byte, []string) {
	keys = keys[:0]
	n := 16
	for k := range st.M {
		keys = append(keys, k)
		n += len(k) + 24 // "k":[1,since]
	}
	slices.Sort(keys)
	if b == nil {
		b = make([]byte, 0, n)
	}
	b = append(b, `{"e":`...)
	if st.Evaluated {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, `,"m":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		m := st.M[k]
		b = strconv.AppendQuote(b, k)
		b = append(b, ":["...)
		if m.In {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, m.Since, 10)
		b = append(b, ']')
	}
	return append(b, "}}"...), keys
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
