// Package report writes `segstream eval`'s REPORT.md and its PNG plots
// (Write) from a train.Result whose protocol has a test cutoff: the
// protocol, the churn and value-tier tables of the shipped model against
// the baselines, the BG/NBD check, the targets (TargetChurnAUC,
// TargetValueMacroF1), whether text helps, the interest themes and the
// shipped model's settings.
//
// File map: report.go (Write, Meta, the markdown), plot.go (LineChart,
// ConfusionGrid and Series: small PNG charts drawn with image/png and
// golang.org/x/image's basic font).
//
// Concurrency: Write only reads the Result; calls with distinct folders
// may run concurrently.
//
// Defaults: calibration in 10 equal-width bins; the majority-class
// baseline is left out of the ROC and precision-recall plots.
package report
