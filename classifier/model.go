package classifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/segstream/segstream/classifier/internal/num"
	"github.com/segstream/segstream/featurestore"
)

// ModelFormat and ModelFormatVersion identify the model file layout.
// Version 2 added the churn calibration, the Gamma-Gamma spend model and
// the value tier derived from predicted value; version 3 the at_risk
// ranking (AtRiskRanking). Files of version 1 (none of them: the raw
// churn head, the value head's tier, no spend scores) and 2 (no at_risk
// ranking: the at_risk score is the churn risk) are still read. A file
// with a ranking says version 3 so that an older build, which would
// serve it without the score the at_risk definition reads, refuses it.
const (
	ModelFormat        = "segstream.classifier"
	ModelFormatVersion = 3
)

// ScoreCLV90d and ScoreCLV365d name the predicted-value scores of a
// model with a spend model (Model.GammaGamma) in the label document and
// in `scores[...]` of the segment definitions: the expected gross spend
// in the next 90 and 365 days, in the order currency.
const (
	ScoreCLV90d  = "clv_90d"
	ScoreCLV365d = "clv_365d"
)

// ScoreAtRisk names the score the at_risk band (model["at_risk_enter"],
// model["at_risk_exit"]) is tuned on, in the label document and in
// `scores[...]` of the segment definitions: Scores.AtRisk, the churn
// risk itself for a model without an at_risk ranking.
const ScoreAtRisk = "at_risk_score"

// AtRiskRanking is the score the at_risk segment thresholds: the churn
// head's calibrated log-odds plus W times BG/NBD's log-odds of no
// purchase in the next HorizonDays days (the feature bgnbd_logit_p_buy90,
// negated), recalibrated on the validation cutoff:
//
//	at_risk log-odds = A·(c + W·b) + B + Season(asOf)
//
// where c is the churn head's log-odds through the churn calibration
// without its seasonal term (Calibration.Logit at the zero time) and b =
// -bgnbd_logit_p_buy90. W is chosen on the validation cutoff by the
// precision at the top of its active customers (classifier/train); A and
// B are Platt scaling of c + W·b there, so Scores.AtRisk is a calibrated
// P(no purchase) like ChurnRisk. The seasonal term is the churn
// calibration's, added once, so Segmenter.Params moves the at_risk band
// with the score by the same offset. Why a blend: the churn head is
// fitted on every customer at every training cutoff, BG/NBD on each
// customer's own purchase rhythm; at the top of the recently active
// customers, where at_risk draws from, each ranks some customers better
// than the other (docs/eval/EXPERIMENTS.md, #8).
type AtRiskRanking struct {
	W float64 `json:"bgnbd_weight"`
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// Logit is the at_risk log-odds of churn-calibrated log-odds c (without
// the seasonal term), BG/NBD log-odds of no purchase b and the seasonal
// offset off; a nil ranking gives c + off, the churn log-odds.
func (r *AtRiskRanking) Logit(c, b, off float64) float64 {
	if r == nil {
		return c + off
	}
	return r.A*(c+r.W*b) + r.B + off
}

func (r *AtRiskRanking) valid() bool {
	if r == nil {
		return true
	}
	return r.A > 0 && r.W >= 0 && !math.IsInf(r.A, 0) && !math.IsInf(r.W, 0) && !math.IsNaN(r.B) && !math.IsInf(r.B, 0)
}

// bgnbdFeature is the index of the BG/NBD feature in NumericFeatures.
var bgnbdFeature = slices.Index(NumericFeatures, "bgnbd_logit_p_buy90")

// EmbeddingSpec names the text encoder whose embeddings the model's themes
// (and text input, when it has one) were computed with.
type EmbeddingSpec struct {
	Encoder string `json:"encoder"` // encoder model version
	Dim     int    `json:"dim"`
}

// TextSpec describes the text input of heads that take one.
type TextSpec struct {
	Dim   int       `json:"dim"`
	Mean  []float64 `json:"mean"`  // subtracted from the embedding (a missing embedding is the mean)
	Scale float64   `json:"scale"` // multiplies the centred embedding
}

// Head is one trained softmax head.
type Head struct {
	Classes []string    `json:"classes"`
	Softmax *Softmax    `json:"softmax"`
	Train   TrainConfig `json:"train"`
	Fit     FitLog      `json:"fit"`
	// Threshold (churn head): at_risk when P(churn) >= Threshold, chosen on
	// the validation cutoff to maximise macro-F1.
	Threshold float64 `json:"threshold,omitempty"`
	// Offsets (value head): the predicted tier is argmax log p_k + Offsets[k],
	// tuned on the validation cutoff to maximise macro-F1.
	Offsets []float64 `json:"offsets,omitempty"`
	// GBDT, when set, is the head's scorer instead of Softmax: it won on the
	// validation cutoff. Softmax is still fitted and kept (the linear
	// baseline of the same features).
	GBDT *GBDT `json:"gbdt,omitempty"`
	// FeatureSet is the feature set the head was trained on, chosen on
	// validation: "all", or "v1" (the history features' weights are zero).
	FeatureSet string `json:"feature_set,omitempty"`
	// Refit says the weights were refitted on the training and validation
	// cutoffs after every choice was made (classifier/train.Config.Refit).
	Refit bool `json:"refit,omitempty"`
}

// churnLogit is the churn head's log-odds for the standardised input.
func (h *Head) churnLogit(in []float64) float64 {
	if h.GBDT != nil {
		var z [1]float64
		return h.GBDT.Logits(in[:h.GBDT.Inputs], z[:])[0]
	}
	var z [2]float64
	h.Softmax.Logits(in, z[:])
	return z[1] - z[0]
}

// valueLogits writes the value head's class logits for the input into z.
func (h *Head) valueLogits(in []float64, z []float64) []float64 {
	if h.GBDT != nil {
		return h.GBDT.Logits(in[:h.GBDT.Inputs], z)
	}
	return h.Softmax.Logits(in, z)
}

// DataRange records what a model was trained on.
type DataRange struct {
	Sources      []string    `json:"sources"`
	FirstEvent   time.Time   `json:"first_event"`
	LastEvent    time.Time   `json:"last_event"`
	TrainCutoffs []time.Time `json:"train_cutoffs"`
	ValCutoff    time.Time   `json:"val_cutoff"`
	TestCutoff   time.Time   `json:"test_cutoff,omitzero"`
	TrainRows    int         `json:"train_rows"`
	RefitRows    int         `json:"refit_rows,omitempty"` // training plus validation rows, when refitted
	HorizonDays  int         `json:"horizon_days"`
}

// HeadMetrics are a head's figures on one cutoff.
type HeadMetrics struct {
	Churn Report `json:"churn"`
	Value Report `json:"value"`
}

// ClassMetrics are one class's precision, recall, F1 and support.
type ClassMetrics struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Report holds the classification metrics of one model on one head.
type Report struct {
	Accuracy  float64        `json:"accuracy"`
	MacroF1   float64        `json:"macro_f1"`
	PerClass  []ClassMetrics `json:"per_class"`
	Confusion [][]int        `json:"confusion"` // [true][predicted]
	AUC       float64        `json:"auc,omitempty"`
	AP        float64        `json:"average_precision,omitempty"`
	LogLoss   float64        `json:"log_loss,omitempty"`
}

// Theme is one interest theme: a cluster of catalogue text embeddings,
// named by its most characteristic words.
type Theme struct {
	Name     string    `json:"name"`
	Words    []string  `json:"words"`
	Size     int       `json:"size"` // catalogue texts in the cluster
	Centroid []float32 `json:"centroid"`
}

// Stats are per-feature standardisation statistics.
type Stats struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Apply standardises x in place.
func (s Stats) Apply(x []float64) {
	for j := range s.Mean {
		x[j] = (x[j] - s.Mean[j]) / s.Std[j]
	}
}

// Model is a trained classifier: everything needed to score a view, in one
// JSON file.
type Model struct {
	Format         string         `json:"format"`
	FormatVersion  int            `json:"format_version"`
	Name           string         `json:"name"`
	Version        string         `json:"version"` // hash of the file's content (without this field)
	FeatureVersion string         `json:"feature_version"`
	Features       []string       `json:"features"`
	SchemaHash     string         `json:"schema_hash"`
	Embedding      *EmbeddingSpec `json:"embedding,omitempty"`
	Text           *TextSpec      `json:"text,omitempty"`
	Stats          Stats          `json:"stats"`
	BGNBD          BGNBDParams    `json:"bgnbd"`
	// GammaGamma is the spend model, fitted on the same history as BGNBD;
	// with it Scores carry CLV90d and CLV365d. Nil in format-1 files.
	GammaGamma *GammaGammaParams `json:"gamma_gamma,omitempty"`
	// Calibration maps the churn head to calibrated probabilities (nil:
	// the head's own, as in format-1 files).
	Calibration *Calibration `json:"calibration,omitempty"`
	// ValueTier, when set, derives the value tier from predicted value
	// (see ValueTierModel) instead of the value head.
	ValueTier *ValueTierModel `json:"value_tier_model,omitempty"`
	// AtRisk, when set, is the at_risk score (Scores.AtRisk); nil: the
	// churn risk (files of format 1 and 2, and a model whose validation
	// cutoff chose no blend).
	AtRisk  *AtRiskRanking         `json:"at_risk_ranking,omitempty"`
	Churn   Head                   `json:"churn"`
	Value   Head                   `json:"value"`
	Rules   Rules                  `json:"rules"`
	Themes  []Theme                `json:"themes,omitempty"`
	Data    DataRange              `json:"data"`
	Metrics map[string]HeadMetrics `json:"metrics,omitempty"` // by cutoff name: "validation", "test"
	Seed    uint64                 `json:"seed"`
}

// TextDim is the embedding size the model takes (0: no text input).
func (m *Model) TextDim() int {
	if m.Text == nil {
		return 0
	}
	return m.Text.Dim
}

// Encode returns the model file's bytes, with Version set to a hash of the
// content.
func (m *Model) Encode() ([]byte, error) {
	m.Version = ""
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(b)
	m.Version = hex.EncodeToString(h[:6])
	b, err = json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Save writes the model file atomically.
func (m *Model) Save(path string) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads and checks a model file; see Decode.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading classifier model: %w", err)
	}
	m, err := Decode(b)
	var se *SchemaError
	if errors.As(err, &se) {
		se.Path = path
	} else if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return m, err
}

// Decode parses a model file and refuses it (*SchemaError, matching
// ErrSchemaMismatch) when its features are not the ones this build
// computes, or (ErrBadModel) when it is malformed.
func Decode(b []byte) (*Model, error) {
	var m Model
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	if m.Format != ModelFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadModel, m.Format, ModelFormat)
	}
	if m.FormatVersion < 1 || m.FormatVersion > ModelFormatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads 1 to %d", ErrBadModel, m.FormatVersion, ModelFormatVersion)
	}
	build := SchemaHash(NumericFeatures, m.TextDim())
	se := &SchemaError{FileHash: m.SchemaHash, BuildHash: build}
	switch {
	case m.FeatureVersion != FeatureVersion:
		se.Detail = fmt.Sprintf("feature code %s, this build has %s", m.FeatureVersion, FeatureVersion)
	case !slices.Equal(m.Features, NumericFeatures):
		se.Detail = firstDiff(m.Features, NumericFeatures)
	case m.SchemaHash != build:
		se.Detail = "hash differs"
	}
	if se.Detail != "" {
		return nil, se
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func firstDiff(file, build []string) string {
	for i := 0; i < max(len(file), len(build)); i++ {
		var f, b string
		if i < len(file) {
			f = file[i]
		}
		if i < len(build) {
			b = build[i]
		}
		if f != b {
			return fmt.Sprintf("feature %d is %q in the file, %q in this build", i, f, b)
		}
	}
	return "same features"
}

func (m *Model) check() error {
	d := len(NumericFeatures) + m.TextDim()
	if len(m.Stats.Mean) != len(NumericFeatures) || len(m.Stats.Std) != len(NumericFeatures) {
		return fmt.Errorf("%w: stats cover %d features, want %d", ErrBadModel, len(m.Stats.Mean), len(NumericFeatures))
	}
	for _, h := range []struct {
		name string
		h    Head
		k    int
	}{{"churn", m.Churn, 2}, {"value", m.Value, 3}} {
		s := h.h.Softmax
		if s == nil || s.Classes != h.k || s.Dim != d || len(s.W) != s.Classes*(s.Dim+1) {
			return fmt.Errorf("%w: %s head does not take %d inputs to %d classes", ErrBadModel, h.name, d, h.k)
		}
	}
	if m.Text != nil && len(m.Text.Mean) != m.Text.Dim {
		return fmt.Errorf("%w: text mean has %d values, want %d", ErrBadModel, len(m.Text.Mean), m.Text.Dim)
	}
	if m.Text != nil && (m.Embedding == nil || m.Embedding.Dim != m.Text.Dim) {
		return fmt.Errorf("%w: text input without a matching embedding spec", ErrBadModel)
	}
	for _, t := range m.Themes {
		if m.Embedding == nil || len(t.Centroid) != m.Embedding.Dim {
			return fmt.Errorf("%w: theme %q centroid does not match the embedding spec", ErrBadModel, t.Name)
		}
	}
	if g := m.Churn.GBDT; g != nil && (g.Outputs != 1 || !g.Valid(len(NumericFeatures))) {
		return fmt.Errorf("%w: churn trees", ErrBadModel)
	}
	if g := m.Value.GBDT; g != nil && (g.Outputs != 3 || !g.Valid(len(NumericFeatures))) {
		return fmt.Errorf("%w: value trees", ErrBadModel)
	}
	if len(m.Value.Offsets) != 0 && len(m.Value.Offsets) != 3 {
		return fmt.Errorf("%w: value offsets", ErrBadModel)
	}
	if m.FormatVersion < 2 && (m.GammaGamma != nil || m.Calibration != nil || m.ValueTier != nil) {
		return fmt.Errorf("%w: format version %d cannot hold a calibration, spend model or value-tier model", ErrBadModel, m.FormatVersion)
	}
	if m.GammaGamma != nil && !m.GammaGamma.Valid() {
		return fmt.Errorf("%w: gamma-gamma parameters %+v (want p, gamma > 0 and q > 1)", ErrBadModel, *m.GammaGamma)
	}
	if !m.Calibration.Valid() {
		return fmt.Errorf("%w: churn calibration is not increasing and finite", ErrBadModel)
	}
	if m.ValueTier != nil && (m.GammaGamma == nil || !m.ValueTier.valid()) {
		return fmt.Errorf("%w: value-tier model without a spend model, or with a zero scale", ErrBadModel)
	}
	if m.FormatVersion < 3 && m.AtRisk != nil {
		return fmt.Errorf("%w: format version %d cannot hold an at_risk ranking", ErrBadModel, m.FormatVersion)
	}
	if !m.AtRisk.valid() || m.AtRisk != nil && !(m.BGNBD.R > 0) {
		return fmt.Errorf("%w: at_risk ranking %+v is not increasing and finite, or has no BG/NBD fit to blend", ErrBadModel, *m.AtRisk)
	}
	return nil
}

// Scores are a model's outputs for one view.
type Scores struct {
	// ChurnRisk is P(no purchase in the next HorizonDays days).
	ChurnRisk float64 `json:"churn_risk"`
	// ChurnLogit is log(ChurnRisk / (1 - ChurnRisk)): the calibrated
	// log-odds (Model.Calibration at AsOf).
	ChurnLogit float64 `json:"churn_logit"`
	// ChurnHeadLogit is the churn head's own log-odds, before calibration.
	ChurnHeadLogit float64 `json:"churn_head_logit"`
	// AtRisk is the score the at_risk band is tuned on (ScoreAtRisk; see
	// AtRiskRanking), AtRiskLogit its log-odds; ChurnRisk and ChurnLogit
	// for a model without a ranking.
	AtRisk      float64 `json:"at_risk_score"`
	AtRiskLogit float64 `json:"at_risk_logit"`
	// Tier holds the value-tier probabilities, in TierNames order.
	Tier [3]float64 `json:"value_tier"`
	// TierClass is the predicted tier (argmax with the tuned offsets).
	TierClass int `json:"value_tier_class"`
	// CLV90d and CLV365d are the expected gross spend in the next 90 and
	// 365 days (0 without a spend model): see Model.spend.
	CLV90d  float64 `json:"clv_90d"`
	CLV365d float64 `json:"clv_365d"`
	// SpendPerDay is the Gamma-Gamma expected spend of a purchase day;
	// Purchases90d the expected purchase days in the next 90 days.
	SpendPerDay  float64 `json:"spend_per_purchase_day"`
	Purchases90d float64 `json:"purchase_days_90d"`
	// ThemeSim is the cosine similarity of the text embedding to each theme
	// (nil without an embedding or themes).
	ThemeSim []float64 `json:"theme_similarity,omitempty"`

	AsOf      time.Time `json:"as_of"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`

	raw   []float64 // numeric features before standardisation
	input []float64 // standardised inputs (numeric, then centred text)
	text  bool
	tier  [2]float64 // the value-tier model's standardised inputs
}

// Score computes the heads' outputs for a view. emb is the profile text
// embedding; nil (or a model without text) leaves the text input neutral.
// A view does not carry the exact purchase days, so the history features
// are approximated from it (see approxHistory); ScoreProfile, which reads
// them from the profile, is what training measured. Score is safe for
// concurrent use.
func (m *Model) Score(v featurestore.View, emb []float32) Scores {
	return m.ScoreHistory(v, History{}, emb)
}

// ScoreProfile scores profile p as of asOf (zero: its last event time),
// reading the view and the exact purchase history from p: the inputs the
// model was trained on.
func (m *Model) ScoreProfile(p *featurestore.Profile, asOf time.Time, emb []float32) Scores {
	return m.ScoreHistory(featurestore.NewView(p, asOf), History{PurchaseDays: p.PurchaseDays, Dropped: p.PurchaseDaysDropped}, emb)
}

// ScoreHistory scores a view with its profile's purchase history h (zero:
// approximated from the view).
func (m *Model) ScoreHistory(v featurestore.View, h History, emb []float32) Scores {
	s := Scores{AsOf: v.AsOf, FirstSeen: v.FirstSeen, LastSeen: v.LastSeen}
	s.raw, s.input, s.text = m.inputs(v, h, emb)
	if m.Embedding != nil && len(emb) == m.Embedding.Dim && len(m.Themes) > 0 {
		s.ThemeSim = make([]float64, len(m.Themes))
		for i, t := range m.Themes {
			s.ThemeSim[i] = num.Cosine32(emb, t.Centroid)
		}
	}
	var z [3]float64
	s.ChurnHeadLogit = m.Churn.churnLogit(s.input)
	s.ChurnLogit = m.Calibration.Logit(s.ChurnHeadLogit, v.AsOf)
	s.ChurnRisk = 1 / (1 + math.Exp(-s.ChurnLogit))
	s.AtRisk, s.AtRiskLogit = s.ChurnRisk, s.ChurnLogit
	if m.AtRisk != nil {
		c, b := m.AtRiskInputs(&s)
		s.AtRiskLogit = m.AtRisk.Logit(c, b, m.Calibration.SeasonOffset(v.AsOf))
		s.AtRisk = 1 / (1 + math.Exp(-s.AtRiskLogit))
	}
	m.Value.valueLogits(s.input, z[:3])
	num.SoftmaxInPlace(z[:])
	s.Tier = z
	cond := m.spend(&s, v)
	if vt := m.ValueTier; vt != nil && m.GammaGamma != nil && s.SpendPerDay > 0 {
		s.Tier, s.tier = vt.probs(s.ChurnRisk, cond, s.SpendPerDay)
	}
	s.TierClass = num.ArgmaxOffset(s.Tier[:], m.Value.Offsets)
	return s
}

// AtRiskInputs are the inputs of the at_risk ranking (AtRiskRanking) of
// a scored profile: the churn head's log-odds through the calibration
// without its seasonal term, and BG/NBD's log-odds of no purchase in the
// next HorizonDays days (the BG/NBD feature, negated: 0 for a customer
// without a purchase). Training chooses the ranking with them, so serving
// and training blend the same numbers.
func (m *Model) AtRiskInputs(s *Scores) (c, b float64) {
	c = m.Calibration.Logit(s.ChurnHeadLogit, time.Time{})
	if bgnbdFeature < len(s.raw) {
		b = -s.raw[bgnbdFeature]
	}
	return c, b
}

// spend fills the predicted-value scores of s (a model without a spend
// model leaves them 0) and returns the expected purchase days in the next
// HorizonDays days given at least one. BG/NBD (Model.BGNBD) gives the
// expected purchase days E[Y(t)], Gamma-Gamma the expected spend of one;
// the churn head, which ranks and is calibrated better than BG/NBD's
// P(buy), replaces BG/NBD's probability of buying at all:
//
//	CLV90d  = (1 - ChurnRisk) · E[Y(90d)] / P_BG(Y(90d) ≥ 1) · E[spend per purchase day]
//	CLV365d = (1 - ChurnRisk) · E[Y(365d)] / P_BG(Y(90d) ≥ 1) · E[spend per purchase day]
//
// (BG/NBD's own CLV is the same with P_BG(Y(90d) ≥ 1) in place of
// 1 - ChurnRisk.) A user without a purchase is treated as a customer
// whose first purchase is now.
func (m *Model) spend(s *Scores, v featurestore.View) (cond float64) {
	g := m.GammaGamma
	if g == nil || !(m.BGNBD.R > 0) {
		return 1
	}
	n := float64(v.RFM.PurchaseDays)
	mean := 0.0
	var x, tx, T float64
	if n > 0 {
		mean = math.Max(v.RFM.Monetary, 0) / n
		x, tx, T = bgnbdObsFromView(v)
	}
	s.SpendPerDay = g.MeanSpend(n, mean)
	h90, h365 := HorizonDays/7.0, 365/7.0
	pbg := m.BGNBD.PBuy(x, tx, T, h90)
	e90 := m.BGNBD.ExpectedPurchases(x, tx, T, h90)
	e365 := m.BGNBD.ExpectedPurchases(x, tx, T, h365)
	cond, per365 := 1.0, 1.0
	if pbg > 1e-12 {
		cond = math.Max(e90/pbg, 1)
		per365 = math.Max(e365/pbg, cond)
	}
	pbuy := 1 - s.ChurnRisk
	s.Purchases90d = pbuy * cond
	s.CLV90d = s.Purchases90d * s.SpendPerDay
	s.CLV365d = pbuy * per365 * s.SpendPerDay
	return cond
}

// ValueTierModel derives the value tier from predicted value. P(none) is
// the calibrated churn risk c (no purchase in the next HorizonDays days);
// a buyer is high with
//
//	h = σ(W[0]·u0 + W[1]·u1 + W[2])
//
// where u0 and u1 are log E[purchase days in the window | at least one]
// and log E[spend per purchase day] (BG/NBD and Gamma-Gamma, as in
// Scores.CLV90d), standardised with Mean and Std. The tier probabilities
// are (c, (1-c)(1-h), (1-c)h).
type ValueTierModel struct {
	Mean [2]float64 `json:"mean"`
	Std  [2]float64 `json:"std"`
	W    [3]float64 `json:"w"`
}

func (vt *ValueTierModel) valid() bool {
	return vt.Std[0] > 0 && vt.Std[1] > 0
}

// Inputs are the standardised inputs of the value-tier model for the
// expected purchase days given a purchase (cond) and the expected spend
// per purchase day.
func (vt *ValueTierModel) Inputs(cond, spendPerDay float64) [2]float64 {
	return [2]float64{
		(math.Log(math.Max(cond, 1e-9)) - vt.Mean[0]) / vt.Std[0],
		(math.Log(math.Max(spendPerDay, 1e-9)) - vt.Mean[1]) / vt.Std[1],
	}
}

func (vt *ValueTierModel) probs(churn, cond, spendPerDay float64) ([3]float64, [2]float64) {
	u := vt.Inputs(cond, spendPerDay)
	h := 1 / (1 + math.Exp(-(vt.W[0]*u[0] + vt.W[1]*u[1] + vt.W[2])))
	return [3]float64{churn, (1 - churn) * (1 - h), (1 - churn) * h}, u
}

// Inputs is the heads' input vector for a view, its purchase history h and
// its text embedding emb (see ScoreHistory): the numeric features
// standardised with m.Stats, then, for a model with text, the centred and
// scaled embedding (the mean when emb is nil). Training builds its matrices
// with it (classifier/train), so serving and training cannot drift apart.
func (m *Model) Inputs(v featurestore.View, h History, emb []float32) []float64 {
	_, in, _ := m.inputs(v, h, emb)
	return in
}

// inputs computes the raw features and the heads' standardised input
// vector (Inputs).
func (m *Model) inputs(v featurestore.View, h History, emb []float32) (raw, in []float64, text bool) {
	ext := Extractor{BGNBD: &m.BGNBD}
	raw = ext.Features(make([]float64, 0, len(NumericFeatures)), v, h)
	in = make([]float64, len(raw), len(raw)+m.TextDim())
	copy(in, raw)
	m.Stats.Apply(in)
	if m.Text != nil {
		text = len(emb) == m.Text.Dim
		for j := 0; j < m.Text.Dim; j++ {
			x := 0.0
			if text {
				x = (float64(emb[j]) - m.Text.Mean[j]) * m.Text.Scale
			}
			in = append(in, x)
		}
	}
	return raw, in, text
}

// Contribution is one input's share of a head's logit.
type Contribution struct {
	Input        string  `json:"input"`
	Value        float64 `json:"value"` // the raw feature value (for text: cosine to the named theme)
	Contribution float64 `json:"contribution"`
}

// Contributions explains a linear head's logit for s: each input's weight
// times its standardised value, the text embedding's dimensions summed as
// one input named after its nearest theme. With the returned intercept
// they sum exactly to the logit: for the churn head (head "churn") the
// calibrated churn log-odds ChurnLogit (the head's contributions times
// the calibration's slope; its intercept and seasonal offset go to the
// intercept), for the value head (head "value") class k's logit minus the
// mean of the three. A value tier derived from predicted value is
// explained by tierContributions instead. Sorted by decreasing
// |contribution|.
func (m *Model) Contributions(s Scores, head string, k int) (cs []Contribution, intercept float64) {
	if head != "churn" && m.ValueTier != nil && m.GammaGamma != nil && s.SpendPerDay > 0 {
		return m.tierContributions(s, k), 0
	}
	cs, intercept = m.headContributions(s, head, k)
	if head == "churn" && m.Calibration != nil {
		a := m.Calibration.A
		for i := range cs {
			cs[i].Contribution *= a
		}
		intercept = a*intercept + m.Calibration.B + m.Calibration.SeasonOffset(s.AsOf)
	}
	return cs, intercept
}

// tierContributions explains a value tier derived from predicted value
// (ValueTierModel): for none, the churn head's contributions towards
// churning; for mid and high, the same towards buying, plus the two
// spend inputs (their weight times their standardised value, towards high
// for high and away from it for mid). They do not sum to a logit.
func (m *Model) tierContributions(s Scores, k int) []Contribution {
	cs, _ := m.Contributions(s, "churn", 1)
	if k == TierNone {
		return cs
	}
	for i := range cs {
		cs[i].Contribution = -cs[i].Contribution
	}
	sign := 1.0
	if k == TierMid {
		sign = -1
	}
	vt := m.ValueTier
	cs = append(cs,
		Contribution{Input: "purchase_days_90d_if_buying", Value: s.Purchases90d / math.Max(1-s.ChurnRisk, 1e-9), Contribution: sign * vt.W[0] * s.tier[0]},
		Contribution{Input: "spend_per_purchase_day", Value: s.SpendPerDay, Contribution: sign * vt.W[1] * s.tier[1]})
	sortByAbsContribution(cs)
	return cs
}

// headContributions is Contributions of a head's own logit (before
// calibration).
func (m *Model) headContributions(s Scores, head string, k int) (cs []Contribution, intercept float64) {
	h := &m.Value
	if head == "churn" {
		h = &m.Churn
	}
	if h.GBDT != nil {
		return m.treeContributions(s, h.GBDT, head, k)
	}
	var diff func(j int) float64
	switch head {
	case "churn":
		r0, r1 := m.Churn.Softmax.Row(0), m.Churn.Softmax.Row(1)
		diff = func(j int) float64 { return r1[j] - r0[j] }
	default:
		sm := m.Value.Softmax
		rows := [][]float64{sm.Row(0), sm.Row(1), sm.Row(2)}
		diff = func(j int) float64 {
			return rows[k][j] - (rows[0][j]+rows[1][j]+rows[2][j])/3
		}
	}
	n := len(NumericFeatures)
	dim := len(s.input)
	for j := 0; j < n; j++ {
		cs = append(cs, Contribution{Input: m.Features[j], Value: s.raw[j], Contribution: diff(j) * s.input[j]})
	}
	if dim > n {
		var t float64
		for j := n; j < dim; j++ {
			t += diff(j) * s.input[j]
		}
		name, sim := TextFeature, 0.0
		if i := num.Argmax(s.ThemeSim); i >= 0 {
			name, sim = TextFeature+":"+m.Themes[i].Name, s.ThemeSim[i]
		}
		cs = append(cs, Contribution{Input: name, Value: sim, Contribution: t})
	}
	sortByAbsContribution(cs)
	return cs, diff(dim)
}

// treeContributions explains a tree head by path attribution (Saabas):
// each split on x's path credits its input with the change of the node
// output, so with the intercept (base plus the roots' outputs) the
// contributions sum to the same logits Contributions gives for a linear
// head. The trees do not read the text embedding: with a text model it is
// listed with contribution 0.
func (m *Model) treeContributions(s Scores, g *GBDT, head string, k int) (cs []Contribution, intercept float64) {
	n := len(NumericFeatures)
	c := make([]float64, n)
	x := s.input[:g.Inputs]
	if head == "churn" || g.Outputs == 1 {
		intercept = g.Attribute(x, 0, c)
	} else {
		tmp := make([]float64, n)
		for q := 0; q < g.Outputs; q++ {
			clear(tmp)
			b := g.Attribute(x, q, tmp)
			w := -1 / float64(g.Outputs)
			if q == k {
				w += 1
			}
			intercept += w * b
			for j := range c {
				c[j] += w * tmp[j]
			}
		}
	}
	for j := 0; j < n; j++ {
		cs = append(cs, Contribution{Input: m.Features[j], Value: s.raw[j], Contribution: c[j]})
	}
	if len(s.input) > n {
		name, sim := TextFeature, 0.0
		if i := num.Argmax(s.ThemeSim); i >= 0 {
			name, sim = TextFeature+":"+m.Themes[i].Name, s.ThemeSim[i]
		}
		cs = append(cs, Contribution{Input: name, Value: sim})
	}
	sortByAbsContribution(cs)
	return cs, intercept
}

// sortByAbsContribution orders contributions by |contribution|, largest
// first, keeping the input order among equals (a generic stable sort: the
// reflection-based sort.SliceStable was a sixth of a label evaluation).
func sortByAbsContribution(cs []Contribution) {
	slices.SortStableFunc(cs, func(a, b Contribution) int {
		x, y := math.Abs(a.Contribution), math.Abs(b.Contribution)
		switch {
		case x > y:
			return -1
		case y > x:
			return 1
		}
		return 0 // equal, or NaN: keep the input order, as sort.SliceStable with > did
	})
}
