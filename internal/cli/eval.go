package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/segstream/segstream/classifier/report"
	"github.com/segstream/segstream/classifier/train"
)

func init() {
	register("eval", "compare the classifier with baselines out of time and write a report with plots", cmdEval)
}

func cmdEval(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("eval", "[flags]", stderr)
	var tf trainFlags
	tf.add(fs)
	reportDir := fs.String("report", "docs/eval", "folder for REPORT.md and the PNG plots")
	modelOut := fs.String("model-out", "", "also write the shipped model here (empty: do not)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if *tf.test == "" {
		return fmt.Errorf("--test: eval needs a test cutoff")
	}
	start := time.Now()
	s, err := tf.setup(ctx, stderr)
	if err != nil {
		return err
	}
	defer s.closeFn()
	res, err := train.Run(ctx, s.evs, s.cfg)
	if err != nil {
		return err
	}
	if _, err := res.Model.Encode(); err != nil { // sets the version the report names
		return err
	}
	if *modelOut != "" {
		if err := res.Model.Save(abs(*modelOut)); err != nil {
			return err
		}
	}
	cmd := "segstream eval"
	if len(args) > 0 {
		cmd += " " + strings.Join(args, " ")
	}
	dir := abs(*reportDir)
	if err := report.Write(dir, res, report.Meta{Command: cmd, Elapsed: time.Since(start), TextNote: s.note}); err != nil {
		return err
	}
	stdout.printf("wrote %s\n\n", filepath.Join(*reportDir, "REPORT.md"))
	stdout.printf("%-26s %8s %8s %8s\n", "test "+*tf.test, "AUC", "churnF1", "valueF1")
	for _, c := range res.Candidates {
		auc, cf, vf := "-", "-", "-"
		if c.Churn != nil {
			auc, cf = fmt.Sprintf("%.3f", c.Churn.Test.AUC), fmt.Sprintf("%.3f", c.Churn.Test.MacroF1)
		}
		if c.Value != nil {
			vf = fmt.Sprintf("%.3f", c.Value.Test.MacroF1)
		}
		stdout.printf("%-26s %8s %8s %8s\n", c.Name, auc, cf, vf)
	}
	bg := res.BGNBDTest
	stdout.printf("BG/NBD (history before %s): r=%.3f alpha=%.3f a=%.3f b=%.3f LL=%.1f\n", *tf.test, bg.R, bg.Alpha, bg.A, bg.B, bg.LL)
	return nil
}

func abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(repoRoot(), p)
}
