package classifier

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"

	"github.com/segstream/segstream/featurestore"
)

// FeatureVersion names the feature code; bump it whenever Features changes
// meaning so that older model files are refused.
const FeatureVersion = "features/v2"

// NumericFeatures are the names of the profile features, in the order
// Extractor.Features returns them. Counts and amounts are log1p-transformed
// (they are heavy-tailed); amounts are in the order currency (GBP for
// Online Retail).
var NumericFeatures = []string{
	"log_recency_days",     // days since the last purchase (tenure without purchases)
	"log_days_since_event", // days since the last event of any type
	"log_tenure_days",      // days since the first event
	"log_purchase_days",    // distinct purchase days
	"log_orders",           // purchase events
	"log_monetary",         // gross spend
	"log_net_monetary",     // spend minus refunds (floored at 0)
	"log_aov",              // average order value
	"log_units",            // units bought
	"log_refunds",          // refund events
	"refund_share",         // refunded / spent, capped at 2
	"log_orders_7d",        // purchases in the last 7 days
	"log_orders_30d",       // ... 30 days
	"log_orders_90d",       // ... 90 days
	"log_spend_7d",         // spend in the last 7 days
	"log_spend_30d",        // ... 30 days
	"log_spend_90d",        // ... 90 days
	"log_refunds_90d",      // refund events in the last 90 days
	"log_clicks_30d",       // views, carts and searches in the last 30 days
	"log_purchase_rate",    // purchase days per 30 days of tenure
	"log_recency_over_gap", // recency divided by the mean gap between purchase days
	"one_time_buyer",       // 1 when there is exactly one purchase day
	"log_ratings",          // reviews
	"rating_mean_centered", // mean rating minus 3 (0 without reviews)
	"log_categories",       // distinct top categories
	"category_entropy",     // entropy of the top-category counts (nats)
	"bgnbd_logit_p_buy90",  // logit of BG/NBD P(>=1 purchase in 90 days), from the stored BG/NBD fit
	"recency_x_frequency",  // log_recency_days × log_purchase_days (a cross)
	"recency_x_tenure",     // log_recency_days × log_tenure_days (a cross)
	// From the exact purchase days (History), v2:
	"log_pdays_30d",              // distinct purchase days in the last 30 days
	"log_pdays_90d",              // ... 90 days
	"log_pdays_180d",             // ... 180 days
	"log_pdays_365d",             // ... 365 days
	"log_pdays_prev90",           // ... 90 to 180 days ago
	"pdays_trend",                // log_pdays_90d - log_pdays_prev90
	"log_pdays_last_year_next90", // ... 275 to 365 days ago (the next 90 days, one year earlier)
	"log_first_purchase_days",    // days since the first purchase day
	"log_gap_mean",               // mean gap between consecutive purchase days
	"gap_cv",                     // standard deviation / mean of those gaps
	"log_last_gap",               // gap between the last two purchase days
	"log_overdue",                // recency / mean gap (0 with one purchase day)
	"log_spend_per_pday",         // gross spend per purchase day
	"spend_90d_share",            // spend in the last 90 days / gross spend
}

// NumFeaturesV1 is how many of NumericFeatures features/v1 had (the view
// features); the rest read the purchase history. A head trained on the
// "v1" feature set (Head.FeatureSet) has zero weight on the rest.
const NumFeaturesV1 = 29

// TextFeature names the text embedding when it is an input: its dimensions
// are grouped as one input in explanations.
const TextFeature = "text_embedding"

// SchemaHash identifies the feature schema: the feature code version, the
// names in order and the embedding dimension (0 without text).
func SchemaHash(names []string, textDim int) string {
	h := sha256.New()
	h.Write([]byte(FeatureVersion))
	h.Write([]byte{0})
	h.Write([]byte(strings.Join(names, ",")))
	h.Write([]byte{0, byte(textDim >> 8), byte(textDim)})
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// Extractor computes features from a view. Its only state is the BG/NBD fit
// whose P(buy) is one of the features; the zero Extractor gives that feature
// as 0.
type Extractor struct {
	BGNBD *BGNBDParams
}

// HorizonDays is the label window of both heads.
const HorizonDays = 90

const secondsPerDay = 86400

// History is what the features read from a profile beyond its View: the
// exact distinct purchase days (featurestore.Profile.PurchaseDays).
type History struct {
	// PurchaseDays are distinct UTC days (days since 1970-01-01) with a
	// purchase, ascending; only days before the view's AsOf are used.
	PurchaseDays []int32
	// Dropped counts older purchase days no longer listed.
	Dropped uint32
}

// HistoryOf copies the purchase history of p.
func HistoryOf(p *featurestore.Profile) History {
	return History{PurchaseDays: append([]int32(nil), p.PurchaseDays...), Dropped: p.PurchaseDaysDropped}
}

// approxHistory stands in for a missing History (a bare View): the view's
// distinct purchase days spread evenly from its first event to its last
// purchase. Serving should pass the profile's real History.
func approxHistory(v featurestore.View) History {
	n := v.RFM.PurchaseDays
	if n <= 0 || v.RFM.RecencyDays == nil {
		return History{}
	}
	last := float64(v.AsOf.Unix())/secondsPerDay - *v.RFM.RecencyDays
	first := math.Min(float64(v.FirstSeen.Unix())/secondsPerDay, last)
	h := History{PurchaseDays: make([]int32, 0, n)}
	for i := 0; i < n; i++ {
		d := last
		if n > 1 {
			d = first + (last-first)*float64(i)/float64(n-1)
		}
		day := int32(math.Floor(d))
		if k := len(h.PurchaseDays); k > 0 && day <= h.PurchaseDays[k-1] {
			day = h.PurchaseDays[k-1] + 1
		}
		h.PurchaseDays = append(h.PurchaseDays, day)
	}
	return h
}

// Features appends the NumericFeatures of v and its purchase history h to
// dst and returns it. A zero h with purchases in v is approximated from the
// view (approxHistory). Training and serving both call it, so they compute
// identical inputs.
func (e Extractor) Features(dst []float64, v featurestore.View, h History) []float64 {
	tenure := math.Max(v.TenureDays, 0)
	recency := tenure
	if v.RFM.RecencyDays != nil {
		recency = math.Max(*v.RFM.RecencyDays, 0)
	}
	sinceEvent := math.Max(v.AsOf.Sub(v.LastSeen).Hours()/24, 0)
	pd := float64(v.RFM.PurchaseDays)
	w7, w30, w90 := v.Windows["7d"], v.Windows["30d"], v.Windows["90d"]
	clicks := float64(w30.Counts["view"] + w30.Counts["add_to_cart"] + w30.Counts["remove_from_cart"] + w30.Counts["search"])
	refundShare := 0.0
	if v.RFM.Monetary > 0 {
		refundShare = math.Min(v.RefundAmount/v.RFM.Monetary, 2)
	}
	gap := recency * pd / (tenure + 1)
	oneTime := 0.0
	if v.RFM.PurchaseDays == 1 {
		oneTime = 1
	}
	ratingC := 0.0
	if v.Ratings.Count > 0 {
		ratingC = v.Ratings.Mean - 3
	}
	var catTotal float64
	for _, c := range v.TopCategories {
		catTotal += float64(c.Count)
	}
	var ent float64
	for _, c := range v.TopCategories {
		if c.Count > 0 && catTotal > 0 {
			p := float64(c.Count) / catTotal
			ent -= p * math.Log(p)
		}
	}
	bg := 0.0
	if e.BGNBD != nil && v.RFM.PurchaseDays > 0 {
		x, tx, T := bgnbdObsFromView(v)
		p := e.BGNBD.PBuy(x, tx, T, HorizonDays/7.0)
		p = math.Min(math.Max(p, 1e-6), 1-1e-6)
		bg = math.Log(p / (1 - p))
	}
	lr, lpd, lt := math.Log1p(recency), math.Log1p(pd), math.Log1p(tenure)
	dst = append(dst,
		lr,
		math.Log1p(sinceEvent),
		lt,
		lpd,
		math.Log1p(float64(v.Orders)),
		math.Log1p(math.Max(v.RFM.Monetary, 0)),
		math.Log1p(math.Max(v.RFM.NetMonetary, 0)),
		math.Log1p(math.Max(v.AvgOrderValue, 0)),
		math.Log1p(math.Max(float64(v.Units), 0)),
		math.Log1p(float64(v.Refunds)),
		refundShare,
		math.Log1p(float64(w7.Counts["purchase"])),
		math.Log1p(float64(w30.Counts["purchase"])),
		math.Log1p(float64(w90.Counts["purchase"])),
		math.Log1p(math.Max(w7.Spend, 0)),
		math.Log1p(math.Max(w30.Spend, 0)),
		math.Log1p(math.Max(w90.Spend, 0)),
		math.Log1p(float64(w90.Counts["refund"])),
		math.Log1p(clicks),
		math.Log1p(30*pd/(tenure+30)),
		math.Log1p(gap),
		oneTime,
		math.Log1p(float64(v.Ratings.Count)),
		ratingC,
		math.Log1p(float64(len(v.TopCategories))),
		ent,
		bg,
		lr*lpd,
		lr*lt,
	)
	return e.historyFeatures(dst, v, h, recency)
}

// historyFeatures appends the v2 features computed from the purchase days.
func (e Extractor) historyFeatures(dst []float64, v featurestore.View, h History, recency float64) []float64 {
	if h.PurchaseDays == nil && v.RFM.PurchaseDays > 0 {
		h = approxHistory(v)
	}
	asOf := float64(v.AsOf.Unix()) / secondsPerDay
	var n30, n90, n180, n365, nly float64
	var days []float64 // ages in days of the purchase days before AsOf, oldest first
	for _, d := range h.PurchaseDays {
		age := asOf - float64(d) // time since the start of that day
		if age <= 0 {
			continue
		}
		days = append(days, float64(d))
		switch {
		case age <= 30:
			n30++
			fallthrough
		case age <= 90:
			n90++
			fallthrough
		case age <= 180:
			n180++
			fallthrough
		case age <= 365:
			n365++
		}
		if age > 275 && age <= 365 {
			nly++
		}
	}
	var first, gapMean, gapCV, lastGap, overdue float64
	if len(days) > 0 {
		first = asOf - days[0]
	}
	if k := len(days) - 1; k >= 1 {
		gapMean = (days[k] - days[0]) / float64(k)
		lastGap = days[k] - days[k-1]
		var ss float64
		for i := 1; i <= k; i++ {
			g := days[i] - days[i-1] - gapMean
			ss += g * g
		}
		gapCV = math.Min(math.Sqrt(ss/float64(k))/gapMean, 5)
		overdue = recency / gapMean
	}
	pd := float64(v.RFM.PurchaseDays)
	perDay, share := 0.0, 0.0
	if pd > 0 {
		perDay = math.Max(v.RFM.Monetary, 0) / pd
	}
	if v.RFM.Monetary > 0 {
		share = math.Min(math.Max(v.Windows["90d"].Spend, 0)/v.RFM.Monetary, 1)
	}
	prev := n180 - n90
	return append(dst,
		math.Log1p(n30),
		math.Log1p(n90),
		math.Log1p(n180),
		math.Log1p(n365),
		math.Log1p(prev),
		math.Log1p(n90)-math.Log1p(prev),
		math.Log1p(nly),
		math.Log1p(first),
		math.Log1p(gapMean),
		gapCV,
		math.Log1p(lastGap),
		math.Log1p(overdue),
		math.Log1p(perDay),
		share,
	)
}

// BGNBDObsFromView is the BG/NBD summary (x, t_x, T in weeks) the model
// computes from a view (see bgnbdObsFromView).
func BGNBDObsFromView(v featurestore.View) (x, tx, T float64) { return bgnbdObsFromView(v) }

// bgnbdObsFromView gives the BG/NBD summary (x repeat purchase days, t_x and
// T in weeks) that a view allows: the first event stands in for the first
// purchase (they coincide unless a refund came first).
func bgnbdObsFromView(v featurestore.View) (x, tx, T float64) {
	T = math.Max(v.TenureDays, 0) / 7
	rec := T * 7
	if v.RFM.RecencyDays != nil {
		rec = *v.RFM.RecencyDays
	}
	tx = math.Max(T-rec/7, 0)
	x = math.Max(float64(v.RFM.PurchaseDays-1), 0)
	return x, tx, T
}
