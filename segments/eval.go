package segments

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
)

// Input is what one evaluation reads about a user: the profile as of the
// clock and the model's outputs.
type Input struct {
	Profile *featurestore.Profile
	Now     time.Time

	ChurnRisk  float64
	ValueTier  string             // none, mid, high
	ValueTierP map[string]float64 // tier -> probability
	ValueLogP  map[string]float64 // tier -> log-probability + offset
	Interests  map[string]float64 // theme -> similarity
	Scores     map[string]float64 // the document's scores
	Model      map[string]float64 // the model's tuned parameters
	// Explain gives the model's contributions for a head ("churn",
	// "value:<tier>"), or nil; called only for segments that changed.
	Explain func(head string) []label.Reason
}

// Result is one evaluation.
type Result struct {
	// Segments the user is in: definitions in order, a family's members by
	// value (highest first).
	Segments []string
	// Changed: the segments differ from the previous evaluation's (or this
	// is the first); only then are Reasons and ExitReasons filled.
	Changed bool
	// Reasons explain every segment held (each naming its Segment): the
	// inputs its rule read with their values, then the model's
	// contributions for a model-backed segment.
	Reasons []label.Reason
	// ExitReasons explain the segments left, the same way.
	ExitReasons []label.Reason
	// Versions names the definition version of every segment entered or
	// exited whose definition is in the set.
	Versions map[string]string
	// State is the encoded State to store for the next evaluation.
	State []byte
	// Errors are the runtime failures (a cost limit hit, a missing map key,
	// ...): the segment kept its previous membership.
	Errors []EvalError
	// Reindex: the stored state was an earlier version's (from before the
	// member index; see label.Decision.Reindex).
	Reindex bool
}

// EvalError is one failed expression evaluation.
type EvalError struct {
	Segment string
	Field   string
	Err     error
}

func (e EvalError) Error() string {
	return fmt.Sprintf("segment %q: %s: %v", e.Segment, e.Field, e.Err)
}

var actPool = sync.Pool{New: func() any { a := &activation{}; a.bind(); return a }}

// Evaluate decides the user's segments from in and the stored state
// (empty: first evaluation).
func (s *Set) Evaluate(in *Input, state []byte) (Result, error) {
	a := actPool.Get().(*activation)
	defer func() { a.reset(); actPool.Put(a) }()
	// the maps of this evaluation are the pooled activation's, emptied:
	// nothing of them outlives it (the result holds copies)
	prev, canon, prevHeld, err := decodeState(state, a.prevM, s)
	if err != nil {
		return Result{}, err
	}
	a.prevM = prev.M
	reindex := prev.Legacy
	if a.members == nil {
		a.members = make(map[string]bool, len(s.order)+len(prev.M))
	}
	a.in, a.prev, a.set = in, &prev, s
	now := in.Now.Unix()
	var res Result
	kept := a.kept[:0]
	// the next state's memberships, and whether they are prev's (then the
	// stored bytes, canonical, are its encoding)
	next := a.next[:0]
	same := canon
	defer func() { clear(kept); a.kept = kept[:0]; clear(next); a.next = next[:0] }()
	for _, c := range s.order {
		decide := func(name string) bool {
			pm, found := prev.M[name]
			m := pm
			blocked := c.dwellSec > 0 && m.Since != 0 && now < m.Since+c.dwellSec
			in := m.In
			switch {
			case blocked:
			case !m.In:
				v, err := a.evalFast(c.enterF, c.enter)
				if err != nil {
					res.Errors = append(res.Errors, EvalError{name, "enter", err})
				} else {
					in = v
				}
			case c.exit != nil:
				v, err := a.evalFast(c.exitF, c.exit)
				if err != nil {
					res.Errors = append(res.Errors, EvalError{name, "exit", err})
				} else {
					in = !v
				}
			default:
				v, err := a.evalFast(c.enterF, c.enter)
				if err != nil {
					res.Errors = append(res.Errors, EvalError{name, "enter", err})
				} else {
					in = v
				}
			}
			if in != m.In {
				m = Membership{In: in, Since: now}
			}
			if c.read || c.readKeys && s.reads[name] { // what segment() asks
				a.members[name] = in
			}
			// keep what a later evaluation needs: members, and the time of a
			// recent exit while it still blocks a return
			if in || (c.dwellSec > 0 && m.Since != 0 && now < m.Since+c.dwellSec) {
				next = append(next, entry{name, m})
				same = same && found && pm == m
			}
			return in
		}
		if c.prefix == "" {
			if decide(c.def.Name) {
				kept = append(kept, held{c: c, name: c.def.Name})
			}
			continue
		}
		vals := a.familyMap(c.def.Each)
		var fam []held
		for _, k := range sortedKeys(vals) {
			name := c.prefix + k
			a.key, a.value, a.family = types.String(k), types.Double(vals[k]), true
			if decide(name) {
				fam = append(fam, held{c: c, name: name, key: k, value: vals[k]})
			}
		}
		a.family = false
		// members whose key is gone (a theme the model no longer has) leave
		for name, m := range prev.M {
			if m.In && strings.HasPrefix(name, c.prefix) {
				if _, ok := vals[name[len(c.prefix):]]; !ok {
					a.members[name] = false
				}
			}
		}
		// highest value first (ties: key order)
		slices.SortStableFunc(fam, func(x, y held) int {
			switch {
			case x.value > y.value:
				return -1
			case y.value > x.value:
				return 1
			}
			return 0
		})
		kept = append(kept, fam...)
	}
	// output in definition order (s.order is, but for dependencies on
	// later definitions)
	byIdx := func(x, y held) int { return cmp.Compare(x.c.idx, y.c.idx) }
	if !slices.IsSortedFunc(kept, byIdx) {
		slices.SortStableFunc(kept, byIdx)
	}
	res.Segments = make([]string, len(kept))
	for i, h := range kept {
		res.Segments[i] = h.name
	}
	if same && len(next) == len(prev.M) {
		// nothing changed, not even a since (the names are distinct: as
		// many, all equal to prev's, is prev): the stored bytes (copied,
		// the caller may reuse its buffer) are the encoding
		res.State = append(make([]byte, 0, len(state)), state...)
	} else {
		res.State = appendEntries(nil, true, next)
	}
	// changed: the segments held differ from the previous ones (the names
	// held are distinct: the same count, all held before, is the same set)
	res.Changed = !prev.Evaluated || prevHeld != len(kept)
	for i := 0; i < len(kept) && !res.Changed; i++ {
		res.Changed = !prev.M[kept[i].name].In
	}
	res.Reindex = reindex
	if !res.Changed {
		return res, nil
	}
	entered, exited := label.Diff(prev.Members(), res.Segments)
	res.Versions = map[string]string{}
	for _, name := range append(entered, exited...) {
		if c := s.find(name); c != nil {
			res.Versions[name] = c.def.Version
		}
	}
	for _, h := range kept {
		if h.c.prefix != "" {
			a.key, a.value, a.family = types.String(h.key), types.Double(h.value), true
		}
		res.Reasons = a.reasons(res.Reasons, h.c, h.name, h.key)
		a.family = false
	}
	for _, name := range exited {
		c := s.find(name)
		if c == nil {
			continue // a removed definition: nothing to explain
		}
		key := ""
		if c.prefix != "" {
			key = name[len(c.prefix):]
			v, ok := a.familyMap(c.def.Each)[key]
			if !ok {
				continue
			}
			a.key, a.value, a.family = types.String(key), types.Double(v), true
		}
		res.ExitReasons = a.reasons(res.ExitReasons, c, name, key)
		a.family = false
	}
	return res, nil
}

// held is a segment an evaluation keeps.
type held struct {
	c     *compiled
	name  string
	key   string
	value float64
}

// reasons appends the inputs c read, and the model's contributions when c
// is model-backed.
func (a *activation) reasons(out []label.Reason, c *compiled, name, key string) []label.Reason {
	for _, in := range c.inputs {
		if in.withKey && !a.family {
			continue
		}
		v, _, err := in.prg.Eval(a)
		if err != nil {
			continue
		}
		f, ok := number(v)
		if !ok {
			continue
		}
		n := in.name
		if in.withKey {
			n = strings.ReplaceAll(n, "[key]", fmt.Sprintf("[%q]", key))
		}
		out = append(out, label.Reason{Segment: name, Input: n, Value: label.Round(f)})
	}
	if c.explain != "" && a.in.Explain != nil {
		for _, r := range a.in.Explain(c.explain) {
			r.Segment = name
			out = append(out, r)
		}
	}
	return out
}

func number(v ref.Val) (float64, bool) {
	switch x := v.(type) {
	case types.Double:
		return float64(x), !math.IsInf(float64(x), 0) && !math.IsNaN(float64(x))
	case types.Int:
		return float64(x), true
	case types.Uint:
		return float64(x), true
	case types.Bool:
		if x {
			return 1, true
		}
		return 0, true
	case types.Timestamp:
		return float64(x.Unix()), true
	case types.Duration:
		return x.Hours() / 24, true
	}
	return 0, false
}

// activation resolves variables lazily (each at most once per user) and
// binds the profile functions to the user being evaluated.
type activation struct {
	ranks   map[int]map[string]int // rankIn's, per variable
	in      *Input
	prev    *State
	set     *Set
	members map[string]bool
	vals    [numVars]ref.Val
	have    uint64
	family  bool
	key     types.String
	value   types.Double
	wins    [4]win
	nwin    int
	fns     map[string]functions.LateBoundOp

	cats     map[string]float64 // categories for the native evaluation
	haveCats bool

	// reused by the next evaluation (emptied)
	prevM map[string]Membership
	kept  []held
	next  []entry
}

type win struct {
	days int64
	b    featurestore.Bucket
}

// maxReuse bounds the maps and slices an activation keeps for the next
// evaluation (a user with many family members should not pin their size).
const maxReuse = 1024

// rankIn is key's 0-based rank in variable id's map by value, highest
// first, ties by key; -1 when absent. The ranking is computed once per
// evaluation and map.
func (a *activation) rankIn(id int, key string) int {
	if a.ranks == nil {
		a.ranks = map[int]map[string]int{}
	}
	r, ok := a.ranks[id]
	if !ok {
		var m map[string]float64
		switch id {
		case vInterests:
			m = a.in.Interests
		case vScores:
			m = a.in.Scores
		case vValueTierP:
			m = a.in.ValueTierP
		case vValueLogP:
			m = a.in.ValueLogP
		case vCategories:
			m = a.familyMap("categories")
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if m[keys[i]] != m[keys[j]] {
				return m[keys[i]] > m[keys[j]]
			}
			return keys[i] < keys[j]
		})
		r = make(map[string]int, len(keys))
		for i, k := range keys {
			r[k] = i
		}
		a.ranks[id] = r
	}
	if i, ok := r[key]; ok {
		return i
	}
	return -1
}

func (a *activation) reset() {
	a.ranks = nil
	a.in, a.prev, a.set = nil, nil, nil
	a.have, a.nwin, a.family = 0, 0, false
	a.cats, a.haveCats = nil, false
	for i := range a.vals {
		a.vals[i] = nil
	}
	a.members = reuseMap(a.members)
	a.prevM = reuseMap(a.prevM)
	if cap(a.kept) > maxReuse {
		a.kept = nil
	}
	if cap(a.next) > maxReuse {
		a.next = nil
	}
}

// reuseMap empties m for the next evaluation, or drops it when big.
func reuseMap[V any](m map[string]V) map[string]V {
	if len(m) > maxReuse {
		return nil
	}
	clear(m)
	return m
}

func (a *activation) eval(p cel.Program) (bool, error) {
	v, _, err := p.Eval(a)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %v, not a bool", v)
	}
	return bool(b), nil
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	id, ok := varIDs[name]
	if !ok {
		return nil, false
	}
	switch id {
	case vKey:
		return a.key, a.family
	case vValue:
		return a.value, a.family
	}
	return a.variable(id), true
}

// variable is the value of a variable other than key and value, computed
// at most once per user.
func (a *activation) variable(id int) ref.Val {
	if a.have&(1<<id) == 0 {
		a.vals[id] = a.compute(id)
		a.have |= 1 << id
	}
	return a.vals[id]
}

// doubles is the Go map of a map(string, double) variable (fastMaps):
// what the variable is made of.
func (a *activation) doubles(id int) map[string]float64 {
	switch id {
	case vCategories:
		if !a.haveCats {
			a.cats, a.haveCats = a.familyMap("categories"), true
		}
		return a.cats
	case vValueTierP:
		return a.in.ValueTierP
	case vValueLogP:
		return a.in.ValueLogP
	case vInterests:
		return a.in.Interests
	case vScores:
		return a.in.Scores
	case vModel:
		return a.in.Model
	}
	return nil
}

// evalFast evaluates natively when the expression is in the subset (see
// compileFast) and the values allow, else with CEL.
func (a *activation) evalFast(f fastBool, p cel.Program) (bool, error) {
	if f != nil {
		if v, ok := f(a); ok {
			return v, nil
		}
	}
	return a.eval(p)
}

// ResolveFunction implements interpreter.FunctionActivation.
func (a *activation) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	f, ok := a.fns[name]
	return f, ok
}

func days(d time.Duration) float64 { return d.Hours() / 24 }

func (a *activation) compute(id int) ref.Val {
	p, in := a.in.Profile, a.in
	switch id {
	case vNow:
		return types.Timestamp{Time: in.Now}
	case vFirstSeen:
		return types.Timestamp{Time: time.Unix(p.FirstSeen, 0).UTC()}
	case vLastSeen:
		return types.Timestamp{Time: time.Unix(p.LastSeen, 0).UTC()}
	case vDaysSinceFirst:
		return types.Double(days(in.Now.Sub(time.Unix(p.FirstSeen, 0))))
	case vDaysSinceLast:
		return types.Double(days(in.Now.Sub(time.Unix(p.LastSeen, 0))))
	case vDaysSincePurchase:
		if p.LastPurchase == 0 {
			return types.Double(inf())
		}
		return types.Double(days(in.Now.Sub(time.Unix(p.LastPurchase, 0))))
	case vHasPurchased:
		return types.Bool(p.Orders() > 0)
	case vOrders:
		return types.Int(p.Orders())
	case vPurchaseDays:
		return types.Int(p.DistinctPurchaseDays())
	case vSpend:
		return types.Double(float64(p.SpendCents) / 100)
	case vNetSpend:
		return types.Double(float64(p.SpendCents-p.RefundCents) / 100)
	case vAvgOrderValue:
		return types.Double(p.AvgOrderCents() / 100)
	case vRefunds:
		return types.Int(p.Counts[events.TypeRefund])
	case vRefundAmount:
		return types.Double(float64(p.RefundCents) / 100)
	case vUnits:
		return types.Int(p.UnitsBought)
	case vRatingCount:
		return types.Int(p.RatingCount)
	case vRatingMean:
		return types.Double(p.RatingMean())
	case vCategories:
		var total float64
		for _, c := range p.Categories {
			total += float64(c.Count)
		}
		m := make(map[ref.Val]ref.Val, len(p.Categories))
		for _, c := range p.Categories {
			if total > 0 {
				m[types.String(c.Category)] = types.Double(float64(c.Count) / total)
			}
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	case vTextKinds:
		var kinds []string
		for _, t := range p.Texts {
			k := t.Kind.String()
			found := false
			for _, x := range kinds {
				found = found || x == k
			}
			if !found {
				kinds = append(kinds, k)
			}
		}
		return types.NewStringList(types.DefaultTypeAdapter, kinds)
	case vChurnRisk:
		return types.Double(in.ChurnRisk)
	case vValueTier:
		return types.String(in.ValueTier)
	case vValueTierP:
		return doubleMap(in.ValueTierP)
	case vValueLogP:
		return doubleMap(in.ValueLogP)
	case vInterests:
		return doubleMap(in.Interests)
	case vScores:
		return doubleMap(in.Scores)
	case vModel:
		return doubleMap(in.Model)
	case vPrevious:
		m := map[ref.Val]ref.Val{}
		for k, ms := range a.prev.M {
			if ms.In {
				m[types.String(k)] = types.Timestamp{Time: time.Unix(ms.Since, 0).UTC()}
			}
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	case vFirstEvaluation:
		return types.Bool(!a.prev.Evaluated)
	}
	return types.NewErr("no variable %d", id)
}

func doubleMap(m map[string]float64) ref.Val {
	r := make(map[ref.Val]ref.Val, len(m))
	for k, v := range m {
		r[types.String(k)] = types.Double(v)
	}
	return types.NewRefValMap(types.DefaultTypeAdapter, r)
}

// familyMap is the map a family iterates.
func (a *activation) familyMap(each string) map[string]float64 {
	switch each {
	case "interests":
		return a.in.Interests
	case "scores":
		return a.in.Scores
	case "value_tier_p":
		return a.in.ValueTierP
	case "categories":
		var total float64
		for _, c := range a.in.Profile.Categories {
			total += float64(c.Count)
		}
		m := map[string]float64{}
		for _, c := range a.in.Profile.Categories {
			if total > 0 {
				m[c.Category] = float64(c.Count) / total
			}
		}
		return m
	}
	return nil
}

// window is the profile's bucket sum over the last days (cached per user).
func (a *activation) window(d int64) featurestore.Bucket {
	for i := 0; i < a.nwin; i++ {
		if a.wins[i].days == d {
			return a.wins[i].b
		}
	}
	b := a.in.Profile.Window(a.in.Now, int(d))
	if a.nwin < len(a.wins) {
		a.wins[a.nwin] = win{d, b}
		a.nwin++
	}
	return b
}

func (a *activation) bind() {
	typeArg := func(v ref.Val) (int, ref.Val) {
		s, ok := v.(types.String)
		if !ok {
			return 0, types.NewErr("event type must be a string")
		}
		t, ok := eventTypes[string(s)]
		if !ok {
			return 0, types.NewErr("%v", checkType(string(s)))
		}
		return t, nil
	}
	daysArg := func(fn string, v ref.Val) (int64, ref.Val) {
		n, ok := v.(types.Int)
		if !ok {
			return 0, types.NewErr("%s: days must be an int", fn)
		}
		if err := checkWindow(fn, int64(n), a.set.opt.RetentionDays); err != nil {
			return 0, types.NewErr("%v", err)
		}
		return int64(n), nil
	}
	a.fns = map[string]functions.LateBoundOp{
		"count": func(_ string, args ...ref.Val) ref.Val {
			t, e := typeArg(args[0])
			if e != nil {
				return e
			}
			return types.Int(a.count(t))
		},
		"count_in": func(_ string, args ...ref.Val) ref.Val {
			t, e := typeArg(args[0])
			if e != nil {
				return e
			}
			d, e := daysArg("count_in", args[1])
			if e != nil {
				return e
			}
			return types.Int(a.countIn(t, d))
		},
		"spend_in": func(_ string, args ...ref.Val) ref.Val {
			d, e := daysArg("spend_in", args[0])
			if e != nil {
				return e
			}
			return types.Double(a.spendIn(d))
		},
		"refund_amount_in": func(_ string, args ...ref.Val) ref.Val {
			d, e := daysArg("refund_amount_in", args[0])
			if e != nil {
				return e
			}
			return types.Double(a.refundIn(d))
		},
		"negative_reviews_in": func(_ string, args ...ref.Val) ref.Val {
			d, e := daysArg("negative_reviews_in", args[0])
			if e != nil {
				return e
			}
			return types.Int(a.window(d).ReviewsNegative)
		},
		"scored_reviews_in": func(_ string, args ...ref.Val) ref.Val {
			d, e := daysArg("scored_reviews_in", args[0])
			if e != nil {
				return e
			}
			return types.Int(a.window(d).ReviewsScored)
		},
		"negative_review_share_in": func(_ string, args ...ref.Val) ref.Val {
			d, e := daysArg("negative_review_share_in", args[0])
			if e != nil {
				return e
			}
			return types.Double(a.window(d).NegativeReviewShare())
		},
		"purchase_days_in": func(_ string, args ...ref.Val) ref.Val {
			d, e := daysArg("purchase_days_in", args[0])
			if e != nil {
				return e
			}
			return types.Int(a.purchaseDaysIn(d))
		},
		"rank": func(_ string, args ...ref.Val) ref.Val {
			// the map of a variable (the same value resolved this
			// evaluation): ranked once, then looked up
			if len(args) == 2 {
				if key, ok := args[1].(types.String); ok {
					for _, id := range [...]int{vInterests, vCategories, vScores, vValueTierP, vValueLogP} {
						if a.have&(1<<id) != 0 && a.vals[id] == args[0] {
							return types.Int(a.rankIn(id, string(key)))
						}
					}
				}
				return rankOf(args[0], args[1])
			}
			return types.NewErr("rank: want (map, key)")
		},
		"segment": func(_ string, args ...ref.Val) ref.Val {
			s, _ := args[0].(types.String)
			return types.Bool(a.members[string(s)])
		},
	}
}

// The profile functions, once their arguments are checked (shared by the
// CEL bindings and the native evaluation).

func (a *activation) count(t int) int64 { return int64(a.in.Profile.Counts[t]) }

func (a *activation) countIn(t int, d int64) int64 { return int64(a.window(d).Counts[t]) }

func (a *activation) spendIn(d int64) float64 { return float64(a.window(d).SpendCents) / 100 }

func (a *activation) refundIn(d int64) float64 { return float64(a.window(d).RefundCents) / 100 }

func (a *activation) purchaseDaysIn(d int64) int64 {
	today := a.in.Now.Unix() / 86400
	from := int32(today - d + 1)
	pd := a.in.Profile.PurchaseDays
	i := sort.Search(len(pd), func(i int) bool { return pd[i] >= from })
	n := 0
	for _, x := range pd[i:] {
		if int64(x) <= today {
			n++
		}
	}
	return int64(n)
}
