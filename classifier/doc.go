// Package classifier serves segstream's segment classifier: it scores a
// profile (its featurestore.View, its exact purchase days and optionally
// its text embedding) with the churn head, the value-tier head and the
// text themes, and evaluates the segment definitions in force (package
// segments; the built-in taxonomy of PRODUCT.md ships as definitions in
// deploy/segments) on those scores. It holds only what runs when a profile is
// labelled, plus the model file format. Training and evaluation live in
// the packages beside it, which import this one (never the other way
// round): classifier/train (point-in-time data sets, fitting, train.Run),
// classifier/metrics (metrics.AUC, the curves, metrics.Classify) and
// classifier/report (`segstream eval`'s REPORT.md).
//
// # Serving
//
// NewSegmenter loads a model file (Load, which refuses a file whose
// feature schema does not match this build) and serves it with a
// segments.Live. Segmenter.Input scores a profile with Model.ScoreHistory
// on its view and HistoryOf(profile), the inputs training measured
// (Model.ScoreProfile builds the view itself; Model.Score on a bare view
// approximates the purchase days), into a segments.Input: the scores, the
// model's tuned parameters (Rules.Params, read as model["..."]) and the
// heads' contributions (Explain). Segmenter.Label evaluates the set in
// force on it and returns a label.Decision in contract form: scores named
// label.ScoreChurnRisk (the calibrated churn probability, Calibration),
// label.ScoreValueTier, label.ScoreInterest, ScoreAtRisk (what the
// at_risk band is tuned on: AtRiskRanking, the churn risk averaged with
// BG/NBD's) and, for a model with a spend model, ScoreCLV90d and
// ScoreCLV365d (expected spend, Gamma-Gamma on BG/NBD),
// every number through label.Round, reasons as label.Reason, and as State
// the segments.State (memberships and their since times), which the
// caller feeds back with the next profile. TextEncoder is the one
// interface of the text encoder (*encoder.Encoder satisfies it), used by
// the label stage and by training alike.
//
// # File map
//
//   - features.go: NumericFeatures and FeatureVersion, SchemaHash,
//     Extractor.Features (the one function that maps a view and its
//     History to the numeric inputs, in training and serving), History and
//     HistoryOf, HorizonDays, NumFeaturesV1, TextFeature.
//   - model.go: the versioned model file (format 3; formats 1 and 2 are
//     still read) (Model with its Head, Stats,
//     Theme, TextSpec, EmbeddingSpec, DataRange, HeadMetrics and Report
//     records), Model.Encode and Model.Save, Load and Decode, Scores,
//     Model.Score, Model.ScoreProfile, Model.ScoreHistory, Model.Inputs and
//     Model.Contributions (each input's share of a head's logit), the
//     customer-value scores (Model.spend), ValueTierModel (the value
//     tier derived from predicted value) and AtRiskRanking (the at_risk
//     score).
//   - softmax.go: the linear heads (Softmax: Logits, Probs) and the
//     TrainConfig and FitLog records the file keeps with them.
//   - gbdt.go: boosted-tree heads (GBDT: Logits, Attribute, Valid) and
//     their GBDTConfig record.
//   - bgnbd.go: the BG/NBD model of Fader, Hardie and Lee (2005)
//     (BGNBDParams: PBuy, PAlive, LogLik, ExpectedPurchases), whose P(buy)
//     is a feature and whose expected purchases give the customer value.
//   - gammagamma.go: the Gamma-Gamma spend model (GammaGammaParams:
//     LogLik, MeanSpend), the expected spend of a purchase day.
//   - calibration.go: Calibration (Platt scaling of the churn head, fitted
//     on the validation cutoff, and a seasonal intercept by time of year).
//   - rules.go: TierNames, InterestPrefix, Rules and DefaultRules (the
//     model's tuned parameters).
//   - segmenter.go: Segmenter, NewSegmenter, Segmenter.Input, Rules.Params.
//   - text.go: TextEncoder.
//   - errors.go: ErrSchemaMismatch, ErrBadModel, SchemaError.
//
// # Concurrency
//
// A loaded *Model and a *Segmenter are safe for concurrent use; Score,
// ScoreHistory and Label allocate only their results (and Score on a bare view its approximated purchase days). Only
// Load, Model.Save and NewSegmenter touch files; nothing here starts a
// goroutine.
//
// # Defaults
//
// DefaultRules (the parameters the built-in definitions read): at_risk
// entered at the threshold training tuned to flag 10% of the validation
// cutoff's active customers and left below the threshold that would flag
// 12.5% (a model file without
// one: the churn head's threshold + 0.05 and - 0.05),
// a tier changes only by a log-probability margin of 0.2, 3 model
// contributions per reason, interests at a cosine similarity of at least
// 0.35 (a trained model stores its own threshold in its Rules), at most 2.
// Both heads predict the HorizonDays (90) days after the profile's time.
package classifier
