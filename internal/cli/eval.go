package cli

import (
	"context"
	"fmt"
	"io"
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
	nBack := fs.Int("backtests", 4, "rolling backtests: earlier test cutoffs, each with its own validation and training cutoffs, whose label windows end by the test cutoff (fewer when the history is short)")
	if err := parse(fs, args); err != nil {
		return err
	}
	tf.files = fs.Args()
	if *tf.test == "none" {
		return fmt.Errorf("--test: eval needs a test cutoff")
	}
	start := time.Now()
	s, err := tf.setup(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	defer s.closeFn()
	res, err := train.Run(ctx, s.evs, s.cfg)
	if err != nil {
		return err
	}
	var backs []*train.Result
	bps := train.Backtests(s.protocol, *nBack)
	if len(bps) < *nBack {
		stderr.printf("backtests: the history allows %d of the %d asked for (each needs %d training cutoffs)\n", len(bps), *nBack, train.MinTrainCutoffs)
	}
	for i, bp := range bps {
		stdout.printf("backtest %d: %s\n", i+1, bp)
		bc := s.cfg
		bc.Protocol, bc.Text, bc.Catalogue = bp, nil, nil
		bc.Log = io.Discard
		br, err := train.Run(ctx, s.evs, bc)
		if err != nil {
			return fmt.Errorf("backtest %s: %w", bp.TestCutoff.Format(time.DateOnly), err)
		}
		backs = append(backs, br)
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
	if err := report.Write(dir, res, report.Meta{Command: cmd, Elapsed: time.Since(start), TextNote: s.note, Backtests: backs}); err != nil {
		return err
	}
	stdout.printf("wrote %s\n\n", filepath.Join(*reportDir, "REPORT.md"))
	stdout.printf("%-40s %8s %8s %8s\n", "test "+s.protocol.TestCutoff.Format(time.DateOnly), "AUC", "churnF1", "valueF1")
	for _, c := range res.Candidates {
		auc, cf, vf := "-", "-", "-"
		if c.Churn != nil {
			auc, cf = fmt.Sprintf("%.3f", c.Churn.Test.AUC), fmt.Sprintf("%.3f", c.Churn.Test.MacroF1)
		}
		if c.Value != nil {
			vf = fmt.Sprintf("%.3f", c.Value.Test.MacroF1)
		}
		stdout.printf("%-40s %8s %8s %8s\n", c.Name, auc, cf, vf)
	}
	bg := res.BGNBDTest
	test := s.protocol.TestCutoff.Format(time.DateOnly)
	stdout.printf("BG/NBD (history before %s): r=%.3f alpha=%.3f a=%.3f b=%.3f LL=%.1f\n", test, bg.R, bg.Alpha, bg.A, bg.B, bg.LL)
	if ev := res.Eval; ev != nil {
		gg := ev.GammaGamma
		stdout.printf("Gamma-Gamma (history before %s): p=%.3f q=%.3f gamma=%.3f LL=%.1f\n", test, gg.P, gg.Q, gg.Gamma, gg.LL)
		printEval(stdout, ev)
	}
	for _, b := range backs {
		for _, c := range b.Candidates {
			if c.Name == "segstream (no text)" && c.Churn != nil {
				stdout.printf("backtest %s: segstream churn AUC %.3f\n", b.Protocol.TestCutoff.Format(time.DateOnly), c.Churn.Test.AUC)
			}
		}
	}
	return nil
}

func abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(repoRoot(), p)
}
