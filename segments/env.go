package segments

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/segstream/segstream/events"
)

// Var documents one variable of the language (README, `segstream segments
// vars`).
type Var struct {
	Name    string
	Type    string
	Doc     string
	Example string
	t       *cel.Type
	id      int
}

// Func documents one function of the language.
type Func struct {
	Signature string
	Doc       string
	Example   string
}

// variable ids (the activation caches by id)
const (
	vNow = iota
	vFirstSeen
	vLastSeen
	vDaysSinceFirst
	vDaysSinceLast
	vDaysSincePurchase
	vHasPurchased
	vOrders
	vPurchaseDays
	vSpend
	vNetSpend
	vAvgOrderValue
	vRefunds
	vRefundAmount
	vUnits
	vRatingCount
	vRatingMean
	vCategories
	vTextKinds
	vChurnRisk
	vValueTier
	vValueTierP
	vValueLogP
	vInterests
	vScores
	vModel
	vPrevious
	vFirstEvaluation
	vKey
	vValue
	numVars
)

var mapSD = cel.MapType(cel.StringType, cel.DoubleType)

// Vars are the variables every expression may read.
var Vars = []Var{
	{Name: "now", Type: "timestamp", t: cel.TimestampType, id: vNow, Doc: "the clock labels are computed at (the newest event time folded, or the wall clock with labels.clock: wall)", Example: `now - last_seen > duration("720h")`},
	{Name: "first_seen", Type: "timestamp", t: cel.TimestampType, id: vFirstSeen, Doc: "time of the user's first event", Example: `first_seen > timestamp("2011-01-01T00:00:00Z")`},
	{Name: "last_seen", Type: "timestamp", t: cel.TimestampType, id: vLastSeen, Doc: "time of the user's latest event", Example: `now - last_seen < duration("168h")`},
	{Name: "days_since_first_event", Type: "double", t: cel.DoubleType, id: vDaysSinceFirst, Doc: "days from the first event to now (tenure)", Example: `days_since_first_event < 30.0`},
	{Name: "days_since_last_event", Type: "double", t: cel.DoubleType, id: vDaysSinceLast, Doc: "days from the latest event to now", Example: `days_since_last_event <= 90.0`},
	{Name: "days_since_last_purchase", Type: "double", t: cel.DoubleType, id: vDaysSincePurchase, Doc: "days from the latest purchase to now (recency); +infinity without purchases", Example: `days_since_last_purchase > 60.0`},
	{Name: "has_purchased", Type: "bool", t: cel.BoolType, id: vHasPurchased, Doc: "at least one purchase", Example: `!has_purchased && count("add_to_cart") > 0`},
	{Name: "orders", Type: "int", t: cel.IntType, id: vOrders, Doc: "purchase events, all time", Example: `orders >= 5`},
	{Name: "purchase_days", Type: "int", t: cel.IntType, id: vPurchaseDays, Doc: "distinct UTC days with a purchase, all time", Example: `purchase_days == 1`},
	{Name: "spend", Type: "double", t: cel.DoubleType, id: vSpend, Doc: "gross purchase amount, all time (order currency)", Example: `spend >= 1000.0`},
	{Name: "net_spend", Type: "double", t: cel.DoubleType, id: vNetSpend, Doc: "purchases minus refunds, all time", Example: `net_spend < 0.0`},
	{Name: "avg_order_value", Type: "double", t: cel.DoubleType, id: vAvgOrderValue, Doc: "spend / orders (0 without orders)", Example: `avg_order_value > 200.0`},
	{Name: "refunds", Type: "int", t: cel.IntType, id: vRefunds, Doc: "refund events, all time", Example: `refunds >= 2`},
	{Name: "refund_amount", Type: "double", t: cel.DoubleType, id: vRefundAmount, Doc: "refunded amount, all time", Example: `refund_amount > spend * 0.5`},
	{Name: "units", Type: "int", t: cel.IntType, id: vUnits, Doc: "units bought, all time", Example: `units > 100`},
	{Name: "rating_count", Type: "int", t: cel.IntType, id: vRatingCount, Doc: "reviews written", Example: `rating_count >= 3`},
	{Name: "rating_mean", Type: "double", t: cel.DoubleType, id: vRatingMean, Doc: "mean review rating (0 without reviews)", Example: `rating_count > 0 && rating_mean <= 2.0`},
	{Name: "categories", Type: "map(string, double)", t: mapSD, id: vCategories, Doc: "share of the user's events in each tracked top category (featurestore.limits.top_categories of them), summing to 1", Example: `"Books" in categories && categories["Books"] >= 0.3`},
	{Name: "text_kinds", Type: "list(string)", t: cel.ListType(cel.StringType), id: vTextKinds, Doc: "kinds of text in the profile's text ring: purchase, review, search", Example: `"review" in text_kinds`},
	{Name: "churn_risk", Type: "double", t: cel.DoubleType, id: vChurnRisk, Doc: "the model's P(no purchase in the next 90 days)", Example: `churn_risk >= 0.6`},
	{Name: "value_tier", Type: "string", t: cel.StringType, id: vValueTier, Doc: "the model's predicted value tier: none, mid or high", Example: `value_tier == "high"`},
	{Name: "value_tier_p", Type: "map(string, double)", t: mapSD, id: vValueTierP, Doc: "the model's probability of each value tier", Example: `value_tier_p["high"] > 0.5`},
	{Name: "value_logp", Type: "map(string, double)", t: mapSD, id: vValueLogP, Doc: "log-probability of each value tier plus the model's tuned offset (what value_tier is the argmax of)", Example: `value_logp["high"] - value_logp["mid"] >= 0.2`},
	{Name: "interests", Type: "map(string, double)", t: mapSD, id: vInterests, Doc: "cosine similarity of the profile's text embedding to each theme of the model (empty without an embedding)", Example: `"kitchen_cake" in interests && interests["kitchen_cake"] > 0.4`},
	{Name: "scores", Type: "map(string, double)", t: mapSD, id: vScores, Doc: "every score of the label document (churn_risk, at_risk_score, value_tier_<tier>, interest:<theme>, and whatever a model adds)", Example: `scores["churn_risk"] > 0.5`},
	{Name: "model", Type: "map(string, double)", t: mapSD, id: vModel, Doc: "the model's tuned parameters: churn_threshold, at_risk_enter, at_risk_exit, tier_margin, interest_min_sim, max_interests, new_days, active_days, min_dwell_days", Example: `scores["at_risk_score"] >= model["at_risk_enter"]`},
	{Name: "previous", Type: "map(string, timestamp)", t: cel.MapType(cel.StringType, cel.TimestampType), id: vPrevious, Doc: "the segments the user held before this evaluation, each with the time it entered", Example: `"mid_value" in previous && now - previous["mid_value"] >= duration("168h")`},
	{Name: "first_evaluation", Type: "bool", t: cel.BoolType, id: vFirstEvaluation, Doc: "the user has never been labelled before", Example: `first_evaluation && churn_risk >= model["churn_threshold"]`},
	{Name: "key", Type: "string", t: cel.StringType, id: vKey, Doc: "in a family (each:), the key this segment is for", Example: `interests[key] >= 0.35`},
	{Name: "value", Type: "double", t: cel.DoubleType, id: vValue, Doc: "in a family (each:), the value of the key", Example: `value >= 0.35`},
}

// Funcs are the functions the language adds to CEL's standard library.
var Funcs = []Func{
	{Signature: "count(type string) int", Doc: "events of a type, all time (view, add_to_cart, remove_from_cart, search, purchase, refund, review)", Example: `count("view") > 50`},
	{Signature: "count_in(type string, days int) int", Doc: "events of a type in the last days (1 to featurestore.limits.retention_days, counting today)", Example: `count_in("view", 7) >= 10`},
	{Signature: "spend_in(days int) double", Doc: "gross purchase amount in the last days", Example: `spend_in(30) > 400.0`},
	{Signature: "refund_amount_in(days int) double", Doc: "refunded amount in the last days", Example: `refund_amount_in(90) > 0.0`},
	{Signature: "negative_reviews_in(days int) int", Doc: "reviews in the last days whose sentiment is negative (the producer's `sentiment`, else the service's sentiment model of the text's language, else a rating of 1 or 2)", Example: `negative_reviews_in(90) >= 2`},
	{Signature: "scored_reviews_in(days int) int", Doc: "reviews in the last days with a known sentiment (negative, neutral or positive)", Example: `scored_reviews_in(30) > 0`},
	{Signature: "negative_review_share_in(days int) double", Doc: "negative_reviews_in(days) / scored_reviews_in(days); 0 without scored reviews", Example: `scored_reviews_in(90) >= 2 && negative_review_share_in(90) >= 0.5`},
	{Signature: "purchase_days_in(days int) int", Doc: "distinct purchase days in the last days (any length: the profile keeps featurestore.limits.max_purchase_days of them)", Example: `purchase_days_in(365) >= 4`},
	{Signature: "segment(name string) bool", Doc: "membership of another segment in this evaluation (composition; cycles are refused)", Example: `segment("active") && churn_risk > 0.7`},
	{Signature: "rank(m map(string, double), key string) int", Doc: "0-based rank of key when m is sorted by value, highest first (ties by key); -1 when absent", Example: `rank(interests, key) < 2`},
	{Signature: "days(d duration) double", Doc: "a duration in days", Example: `days(now - last_seen) > 30.0`},
}

var eachable = map[string]bool{"interests": true, "categories": true, "scores": true, "value_tier_p": true}

// windowFuncs take a number of days as their last argument.
var windowFuncs = map[string]bool{"count_in": true, "spend_in": true, "refund_amount_in": true, "purchase_days_in": true,
	"negative_reviews_in": true, "scored_reviews_in": true, "negative_review_share_in": true}

// inputFuncs are read as reasons when their arguments are constants.
var inputFuncs = map[string]bool{"count": true, "count_in": true, "spend_in": true, "refund_amount_in": true, "purchase_days_in": true,
	"negative_reviews_in": true, "scored_reviews_in": true, "negative_review_share_in": true}

var varIDs = func() map[string]int {
	m := map[string]int{}
	for _, v := range Vars {
		m[v.Name] = v.id
	}
	return m
}()

// eventTypes maps type names to events.Type.
var eventTypes = func() map[string]int {
	m := map[string]int{}
	for t := 1; t < events.NumTypes; t++ {
		m[events.Type(t).String()] = t
	}
	return m
}()

func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{cel.DefaultUTCTimeZone(true), cel.CrossTypeNumericComparisons(true)}
	for _, v := range Vars {
		opts = append(opts, cel.Variable(v.Name, v.t))
	}
	late := cel.LateFunctionBinding()
	opts = append(opts,
		cel.Function("count", cel.Overload("count_string", []*cel.Type{cel.StringType}, cel.IntType, late)),
		cel.Function("count_in", cel.Overload("count_in_string_int", []*cel.Type{cel.StringType, cel.IntType}, cel.IntType, late)),
		cel.Function("spend_in", cel.Overload("spend_in_int", []*cel.Type{cel.IntType}, cel.DoubleType, late)),
		cel.Function("refund_amount_in", cel.Overload("refund_amount_in_int", []*cel.Type{cel.IntType}, cel.DoubleType, late)),
		cel.Function("purchase_days_in", cel.Overload("purchase_days_in_int", []*cel.Type{cel.IntType}, cel.IntType, late)),
		cel.Function("negative_reviews_in", cel.Overload("negative_reviews_in_int", []*cel.Type{cel.IntType}, cel.IntType, late)),
		cel.Function("scored_reviews_in", cel.Overload("scored_reviews_in_int", []*cel.Type{cel.IntType}, cel.IntType, late)),
		cel.Function("negative_review_share_in", cel.Overload("negative_review_share_in_int", []*cel.Type{cel.IntType}, cel.DoubleType, late)),
		cel.Function("segment", cel.Overload("segment_string", []*cel.Type{cel.StringType}, cel.BoolType, late)),
		// late-bound: the activation ranks a variable's map once per user
		cel.Function("rank", cel.Overload("rank_map_string", []*cel.Type{mapSD, cel.StringType}, cel.IntType, late)),
		cel.Function("days", cel.Overload("days_duration", []*cel.Type{cel.DurationType}, cel.DoubleType,
			cel.UnaryBinding(func(d ref.Val) ref.Val {
				dd, ok := d.Value().(time.Duration)
				if !ok {
					return types.NewErr("days: not a duration")
				}
				return types.Double(dd.Hours() / 24)
			}))),
	)
	return cel.NewEnv(opts...)
}

func rankOf(m, k ref.Val) ref.Val {
	mm, ok := m.(traits.Mapper)
	if !ok {
		return types.NewErr("rank: not a map")
	}
	key, ok := k.(types.String)
	if !ok {
		return types.NewErr("rank: key not a string")
	}
	mine, found := mm.Find(key)
	if !found {
		return types.Int(-1)
	}
	mv, _ := mine.(types.Double)
	n := 0
	it := mm.Iterator()
	for it.HasNext() == types.True {
		kk := it.Next()
		v, _ := mm.Get(kk).(types.Double)
		ks, _ := kk.(types.String)
		if v > mv || (v == mv && ks < key) {
			n++
		}
	}
	return types.Int(n)
}

// sortedKeys is for deterministic family order.
func sortedKeys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkWindow validates a window length.
func checkWindow(fn string, days int64, retention int) error {
	if days < 1 {
		return fmt.Errorf("%s: window of %d days: want at least 1", fn, days)
	}
	if fn != "purchase_days_in" && days > int64(retention) {
		return fmt.Errorf("%s: window of %d days is longer than the retention (featurestore.limits.retention_days = %d)", fn, days, retention)
	}
	return nil
}

func checkType(name string) error {
	if _, ok := eventTypes[name]; !ok {
		known := make([]string, 0, len(eventTypes))
		for k := range eventTypes {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown event type %q (known: %s)", name, strings.Join(known, ", "))
	}
	return nil
}

func inf() float64 { return math.Inf(1) }
