// Package train fits and evaluates segstream's classifier (package
// classifier) on event history, out of time. Run builds the point-in-time
// data sets of a Protocol, fits the heads without and (with Config.Text)
// with the profile text embedding, learns the interest themes, makes every
// choice (L2, class weights, epochs, feature set, thresholds, offsets,
// text or not) on the validation cutoff, and scores the shipped model and
// the baselines once on the test cutoff. Its Result holds the model to
// write (classifier.Model.Save) and what classifier/report writes up.
//
// # File map
//
//   - protocol.go: Protocol, DefaultProtocol, Protocol.Validate (no label
//     window may reach the next cutoff), AutoProtocol (cutoffs chosen from
//     the data's span, or an error saying how much history is needed) and
//     Backtests (earlier protocols for rolling backtests).
//   - dataset.go: BuildSets (folds the events with featurestore's
//     Profile.Apply, the service's own fold, up to each cutoff; labels from
//     the classifier.HorizonDays after it), Example, Set, Data, BuildData,
//     HighTierShare, SeasonCutoffs.
//   - calibrate.go: FitPlatt and the seasonal calibration, FitGammaGamma,
//     the value tier from predicted value, the at_risk threshold.
//   - eval.go: Eval (customer value, at_risk and calibration figures of a
//     test cutoff).
//   - run.go: Config, Run, Result, Candidate, Scored: the fits, the
//     choices on validation, the metrics and the optional refit.
//   - heads.go: FitStats, the grids of the churn and value heads,
//     AverageSeeds, the value-tier offsets and the tree heads.
//   - softmax.go: FitSoftmax (mini-batch Adam with early stopping),
//     SoftmaxLoss, ClassWeights.
//   - gbdt.go: FitGBDT (second-order boosting on histogram bins).
//   - bgnbd.go: FitBGNBD (Nelder-Mead on the log-parameters), TotalLogLik.
//   - themes.go: LearnThemes (cosine k-means with k-means++ seeding,
//     themes named by their most characteristic words).
//   - baselines.go: the comparison models (majority class, recency alone,
//     RFM logistic regressions, BG/NBD).
//   - embcache.go: CachedEncoder, an on-disk embedding cache for reruns.
//
// # Concurrency
//
// Run and the Fit functions run in the calling goroutine and are
// deterministic: the same events, Config and seed give a byte-identical
// model file (classifier.Model.Encode). Run calls Config.Text from that
// goroutine only; a CachedEncoder is not safe for concurrent use.
//
// # Defaults
//
// Zero Config fields: AutoProtocol on the events' span (on the Online
// Retail files: training cutoffs on the first of every month from
// 2010-03-01 to 2011-03-01, validation 2011-06-01, test 2011-09-01),
// seasonal calibration, the value tier from predicted value, at_risk tuned
// to AtRiskShare of the active customers with the built-in definitions,
// seed 1, L2 grid 1e-4, 1e-3, 1e-2 (the value head tries each
// with and without balanced class weights); each head of the model without
// text also chooses between all features and the features/v1 subset
// (classifier.NumFeaturesV1) and averages AverageSeeds fits; text scales 1,
// 0.3, 0.1, 0.03; text must win by 0.005 on validation; 12 themes; no
// trees; the tier is the plain argmax (no offsets); no refit. Each softmax
// fit fills classifier.TrainConfig's zero fields (L2 1e-4, Adam step 0.01,
// batch 256, at most 200 epochs, patience 10, seed 1), each tree fit
// classifier.GBDTConfig's (600 rounds, shrinkage 0.05, depth 3, minimum
// hessian 10, lambda 1, 64 bins, patience 40).
package train
