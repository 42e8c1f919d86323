package segments

import (
	"fmt"
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
	st := State{M: map[string]Membership{}}
	if len(b) == 0 {
		return st, nil
	}
	p := stateParsers.Get()
	defer stateParsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return st, fmt.Errorf("segment state: %w", err)
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
		return st, nil
	}
	st.Evaluated = v.GetInt("e") == 1
	o := v.GetObject("m")
	if o == nil {
		return st, nil
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
	return st, bad
}

// Encode writes the state compactly: {"e":1,"m":{"at_risk":[1,1700000000]}}
// (keys sorted, so equal states encode equally).
func (st State) Encode() []byte {
	keys := make([]string, 0, len(st.M))
	for k := range st.M {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := make([]byte, 0, 16+24*len(keys))
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
	return append(b, "}}"...)
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
