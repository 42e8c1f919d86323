// Package metrics computes the figures by which classifier/train chooses
// on the validation cutoff and classifier/report compares models on the
// test cutoff, from scores (or predicted classes) and labels: AUC (the
// Mann-Whitney statistic), ROC and PR (with the average precision)
// curves, BestThreshold (the cut that maximises the binary macro-F1),
// Classify (accuracy, per-class precision, recall and F1, macro-F1 and the
// confusion matrix, as the classifier.Report the model file stores),
// Calibration bins and LogLoss.
//
// File map: metrics.go.
//
// Concurrency: pure functions of their arguments, safe for concurrent use.
//
// Defaults: none. Binary labels are 0 and 1 (1 is the positive class,
// e.g. churns); tied scores count one half in AUC and make one point of a
// curve.
package metrics
