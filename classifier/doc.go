// Package classifier serves segstream's segment classifier: it turns a
// profile (its featurestore.View, its exact purchase days and optionally
// its text embedding) into the segments of PRODUCT.md: the churn head
// (`at_risk`), the value-tier head (`high_value`, `mid_value`,
// `low_value`), lifecycle rules (`new`, `active`, `dormant`) and interests
// (`interest:<theme>`). It holds only what runs when a profile is
// labelled, plus the model file format. Training and evaluation live in
// the packages beside it, which import this one (never the other way
// round): classifier/train (point-in-time data sets, fitting, train.Run),
// classifier/metrics (metrics.AUC, the curves, metrics.Classify) and
// classifier/report (`segstream eval`'s REPORT.md).
//
// # Serving
//
// NewSegmenter loads a model file (Load, which refuses a file whose
// feature schema does not match this build) and builds its Labeler with
// the rules saved in it. Segmenter.Label scores a profile with
// Model.ScoreHistory on its view and HistoryOf(profile), the inputs
// training measured (Model.ScoreProfile builds the view itself;
// Model.Score on a bare view approximates the purchase days), decides with
// Labeler.Decide and returns a label.Decision in contract form: scores
// named label.ScoreChurnRisk, label.ScoreValueTier and label.ScoreInterest,
// every number through label.Round, reasons as label.Reason, and as State
// the JSON of the classifier's State (hysteresis and dwell), which the
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
//   - model.go: the versioned model file (Model with its Head, Stats,
//     Theme, TextSpec, EmbeddingSpec, DataRange, HeadMetrics and Report
//     records), Model.Encode and Model.Save, Load and Decode, Scores,
//     Model.Score, Model.ScoreProfile, Model.ScoreHistory, Model.Inputs and
//     Model.Contributions (each input's share of a head's logit).
//   - softmax.go: the linear heads (Softmax: Logits, Probs) and the
//     TrainConfig and FitLog records the file keeps with them.
//   - gbdt.go: boosted-tree heads (GBDT: Logits, Attribute, Valid) and
//     their GBDTConfig record.
//   - bgnbd.go: the BG/NBD model of Fader, Hardie and Lee (2005)
//     (BGNBDParams: PBuy, PAlive, LogLik), whose P(buy) is a feature.
//   - rules.go: segment names (SegAtRisk, ..., InterestPrefix), TierNames,
//     Rules and DefaultRules, State, NewLabeler and Labeler.Decide.
//   - segmenter.go: Segmenter, NewSegmenter.
//   - text.go: TextEncoder.
//   - errors.go: ErrSchemaMismatch, ErrBadModel, SchemaError.
//
// # Concurrency
//
// A loaded *Model, a *Labeler and a *Segmenter are immutable and safe for
// concurrent use; Score, ScoreHistory, Decide and Label allocate only their
// results (and Score on a bare view its approximated purchase days). Only
// Load, Model.Save and NewSegmenter touch files; nothing here starts a
// goroutine.
//
// # Defaults
//
// DefaultRules: `new` while the first event is less than 30 days old,
// `dormant` after 90 days without an event, at_risk entered at the churn
// head's threshold + 0.05 and left below it - 0.05, a tier changes only by
// a log-probability margin of 0.2, a minimum dwell of 7 days after any
// change, 3 reasons per label, interests at a cosine similarity of at
// least 0.35 (a trained model stores its own threshold in its Rules), at
// most 2. NewSegmenter applies the rules saved in the model file; both
// heads predict the HorizonDays (90) days after the profile's time.
package classifier
