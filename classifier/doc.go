// Package classifier turns a profile view (and optionally its text
// embedding) into the segments of PRODUCT.md: the churn head (`at_risk`),
// the value-tier head (`high_value`, `mid_value`, `low_value`), lifecycle
// rules (`new`, `active`, `dormant`) and interests (`interest:<theme>`).
//
// It owns four things:
//
//   - features (features.go): the one function, Extractor.Features, that
//     maps a featurestore.View and the profile's exact purchase days
//     (History, from HistoryOf(profile)) to the numeric inputs, used both to
//     build the point-in-time training set (dataset.go folds history with
//     featurestore.Profile.Apply up to a cutoff) and when serving
//     (Model.ScoreProfile; Model.Score on a bare view approximates the
//     purchase days from the view);
//   - models: multinomial logistic (softmax) regression with cross-entropy
//     and L2 trained by mini-batch Adam with early stopping on a validation
//     cutoff (softmax.go; the heads without text average the weights of
//     AverageSeeds fits), optional gradient-boosted tree heads kept only
//     when they win on validation (gbdt.go; off by default, they lose on
//     Online Retail), and the BG/NBD baseline of Fader, Hardie and Lee
//     (2005) (bgnbd.go);
//   - the versioned model file (model.go): features and their schema hash,
//     standardisation statistics, weights, thresholds, rule settings,
//     themes, training data range and metrics; Load refuses a file whose
//     schema does not match this build;
//   - decisions (rules.go): Labeler.Decide applies thresholds with
//     hysteresis and a minimum dwell time, lifecycle rules on event time,
//     and explains each label by the inputs that contributed most.
//
// Concurrency: a loaded *Model and a *Labeler are immutable and safe for
// concurrent use; Score and Decide allocate only their results (and Score
// on a bare view its approximated purchase days). Training
// (Train, Evaluate) is single-goroutine and deterministic for a given seed.
//
// Defaults: DefaultProtocol (train monthly 2010-03-01..2010-12-01, validate
// 2011-03-01, test 2011-09-01), Config.setDefaults (L2 grid 1e-4, 1e-3,
// 1e-2; each head of the model without text also chooses between all
// features and the features/v1 subset; text scales 1, 0.3, 0.1, 0.03;
// text must win by 0.005 on validation; 12 themes; no trees, no refit),
// TrainConfig (Adam, lr 0.01, batch 256, patience 10) and DefaultRules
// (new 30 days, dormant after 90, dwell 7 days).
//
// File map: features.go (inputs), dataset.go (point-in-time sets),
// softmax.go (the heads), gbdt.go (tree heads), bgnbd.go (baseline and
// feature), pipeline.go and train.go (Run: fit, choose on validation, baselines), model.go (file,
// Score, Contributions), rules.go (Labeler.Decide), themes.go (interest
// themes), embcache.go (embedding cache for reruns), metrics.go, plot.go
// and report.go (segstream eval's report).
package classifier
