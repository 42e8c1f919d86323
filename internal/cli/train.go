package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/encoder"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

func init() {
	register("train", "fit the segment classifier on an event history (JSON lines, Online Retail or REES46) and write the model file", cmdTrain)
	register("to-jsonl", "write an event history (Online Retail, REES46 or JSON lines) as JSON lines in the event format", cmdToJSONL)
}

// DefaultModelPath is where `segstream train` writes the model and the
// service reads it.
const DefaultModelPath = "models/default.json"

// trainFlags are the flags train and eval share.
type trainFlags struct {
	data      *string
	events    fileList
	files     []string // the positional arguments
	text      *string
	encDir    *string
	cache     *string
	seed      *uint64
	trainFrom *string
	trainTo   *string
	val       *string
	test      *string
	themes    *int
	verbose   *bool
	refit     *bool
	offsets   *string
	trees     *string
	calib     *string
	valueTier *string
	share     *float64
}

// fileList is a repeatable, comma-separated list flag.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}

func (f *trainFlags) add(fs *flag.FlagSet) {
	fs.Var(&f.events, "events", "event history: JSON lines in the event format (.jsonl, .json, optionally .gz), Online Retail CSV(.gz) or REES46 CSV, told apart by their first line; comma-separated or repeated, or given as arguments (default: the two Online Retail files)")
	f.data = fs.String("data", "", "the same as --events (older name)")
	f.text = fs.String("text", "auto", "text embedding input and themes: on, off, or auto (on when the encoder model is set up)")
	f.encDir = fs.String("encoder-model", encoder.DefaultModelDir, "encoder model folder (built by tools/encoder/setup.sh)")
	f.cache = fs.String("cache", "var/cache/classifier", "folder for cached text embeddings")
	f.seed = fs.Uint64("seed", 1, "random seed (initialisation, shuffling, themes)")
	f.trainFrom = fs.String("train-from", "", "first training cutoff, then monthly (default: chosen from the data, the first of a month 90 days after the first event)")
	f.trainTo = fs.String("train-to", "", "last training cutoff (default: the latest whose 90-day label window ends by the validation cutoff)")
	f.val = fs.String("val", "", "validation cutoff, where every choice is made (default: the latest first of a month whose label window ends by the test cutoff)")
	f.test = fs.String("test", "", "test cutoff, reported only (default: the latest first of a month whose label window the data cover; none: no test cutoff)")
	f.themes = fs.Int("themes", 12, "number of interest themes")
	f.verbose = fs.Bool("v", false, "log every hyper-parameter tried")
	f.refit = fs.Bool("refit", false, "refit the model without text on the training and validation cutoffs after every choice is made")
	f.offsets = fs.String("value-offsets", "none", "value tier decision: tuned (per-class offsets tuned on the validation cutoff) or none (plain argmax)")
	f.trees = fs.String("trees", "", "comma-separated depths of boosted-tree heads to try against the linear heads (model without text; empty: none)")
	f.calib = fs.String("calibration", "season", "churn calibration on the validation cutoff: season (Platt scaling plus a seasonal intercept when the history has a year of reference cutoffs), platt, or none")
	f.valueTier = fs.String("value-tier", "clv", "value tier: clv (derived from predicted value) or head (the value head's most probable class)")
	f.share = fs.Float64("at-risk-share", train.AtRiskShare, "share of the validation cutoff's active customers (a purchase in the last 90 days) the at_risk threshold is tuned to flag")
}

func parseDay(name, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: want YYYY-MM-DD, got %q", name, s)
	}
	return t, nil
}

// protocol chooses the cutoffs from the span of evs (train.AutoProtocol)
// and replaces those given by flags; auto says none was given.
func (f *trainFlags) protocol(evs []*events.Event) (p train.Protocol, auto bool, err error) {
	given := *f.trainFrom != "" || *f.trainTo != "" || *f.val != "" || *f.test != ""
	if len(evs) == 0 {
		return p, false, fmt.Errorf("no events in the history")
	}
	if !given {
		p, err = train.AutoProtocol(evs[0].TS, evs[len(evs)-1].TS)
		return p, true, err
	}
	day := func(name, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		return parseDay(name, s)
	}
	from, err := day("train-from", *f.trainFrom)
	if err != nil {
		return p, false, err
	}
	to, err := day("train-to", *f.trainTo)
	if err != nil {
		return p, false, err
	}
	if p.ValCutoff, err = day("val", *f.val); err != nil {
		return p, false, err
	}
	switch *f.test {
	case "none":
	case "":
		if p.ValCutoff.IsZero() {
			ap, err := train.AutoProtocol(evs[0].TS, evs[len(evs)-1].TS)
			if err != nil {
				return p, false, err
			}
			p.TestCutoff = ap.TestCutoff
		}
	default:
		if p.TestCutoff, err = parseDay("test", *f.test); err != nil {
			return p, false, err
		}
	}
	if p.ValCutoff.IsZero() {
		if p.TestCutoff.IsZero() {
			return p, false, fmt.Errorf("--val: needed with --test=none")
		}
		p.ValCutoff = train.LatestCutoff(p.TestCutoff)
	}
	if from.IsZero() {
		from = train.FirstTrainCutoff(evs[0].TS)
	}
	if to.IsZero() {
		to = train.LatestCutoff(p.ValCutoff)
	}
	for c := from; !c.After(to); c = c.AddDate(0, 1, 0) {
		p.TrainCutoffs = append(p.TrainCutoffs, c)
	}
	return p, false, p.Validate()
}

// readEvents reads the history files (any format the replay tool reads)
// into events in event-time order; JSON lines that are not valid events
// are skipped and counted.
func readEvents(files []string) ([]*events.Event, replay.Stats, int, error) {
	items, st, err := LoadItems(files, "auto")
	if err != nil {
		return nil, st, 0, err
	}
	evs := make([]*events.Event, 0, len(items))
	bad := 0
	now := time.Now()
	for _, it := range items {
		ev := it.Event
		if ev == nil {
			var derr *events.DecodeError
			if ev, derr = events.Decode(it.Value, events.DefaultLimits, now); derr != nil {
				bad++
				continue
			}
		}
		evs = append(evs, ev)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TS.Before(evs[j].TS) })
	return evs, st, bad, nil
}

// historyFiles are the files given with --events, --data or as arguments,
// resolved from the repository root when relative and absent here (the
// defaults: the two Online Retail files).
func (f *trainFlags) historyFiles() []string {
	names := append(append(append([]string(nil), f.events...), splitList(*f.data)...), f.files...)
	if len(names) == 0 {
		names = DefaultRetailFiles
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if _, err := os.Stat(n); err != nil {
			out[i] = service.RepoFile(n)
		}
	}
	return out
}

// session is what train and eval set up: the events, the run config and the
// encoder to close.
type session struct {
	evs      []*events.Event
	cfg      train.Config
	closeFn  func()
	note     string // why text is off
	protocol train.Protocol
}

func (f *trainFlags) setup(ctx context.Context, stdout, stderr *output) (*session, error) {
	files := f.historyFiles()
	t0 := time.Now()
	evs, st, bad, err := readEvents(files)
	if err != nil {
		return nil, err
	}
	stderr.printf("read %d events from %d files in %s", len(evs), len(files), time.Since(t0).Round(time.Millisecond))
	if bad > 0 {
		stderr.printf(" (%d lines that are not valid events skipped)", bad)
	}
	if n := st.Skipped["no_customer_id"]; n > 0 {
		stderr.printf(" (%d rows without a customer skipped)", n)
	}
	stderr.println()
	p, auto, err := f.protocol(evs)
	if err != nil {
		return nil, err
	}
	how := "given"
	if auto {
		how = fmt.Sprintf("chosen from the events' span, %s to %s", evs[0].TS.UTC().Format(time.DateOnly), evs[len(evs)-1].TS.UTC().Format(time.DateOnly))
	}
	stdout.printf("cutoffs (%s): %s\n", how, p)
	s := &session{evs: evs, closeFn: func() {}, protocol: p}
	var srcs []string
	for _, fl := range files {
		srcs = append(srcs, filepath.Base(fl))
	}
	s.cfg = train.Config{Protocol: p, Seed: *f.seed, Themes: *f.themes, Sources: srcs, Log: io.Discard, Refit: *f.refit,
		Calibration: *f.calib, ValueTier: *f.valueTier, AtRiskShare: *f.share}
	switch *f.offsets {
	case "tuned":
		s.cfg.TuneValueOffsets = true
	case "none":
	default:
		return nil, fmt.Errorf("--value-offsets: want tuned or none, got %q", *f.offsets)
	}
	for _, d := range splitList(*f.trees) {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 8 {
			return nil, fmt.Errorf("--trees: want depths 1..8, got %q", d)
		}
		s.cfg.TreeDepths = append(s.cfg.TreeDepths, n)
	}
	if *f.verbose {
		s.cfg.Log = stderr
	} else {
		s.cfg.Log = summaryWriter{stderr}
	}
	switch *f.text {
	case "off":
		s.note = "text was turned off (--text=off)."
		return s, nil
	case "on", "auto":
	default:
		return nil, fmt.Errorf("--text: want on, off or auto, got %q", *f.text)
	}
	dir := service.RepoFile(*f.encDir)
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		if *f.text == "on" {
			return nil, fmt.Errorf("--text=on: %s/model.onnx is missing: run tools/encoder/setup.sh first", *f.encDir)
		}
		s.note = fmt.Sprintf("the encoder model (%s/model.onnx) is not set up; run tools/encoder/setup.sh and rerun.", *f.encDir)
		stderr.println("text: off (" + s.note + ")")
		return s, nil
	}
	enc, err := encoder.New(encoder.Config{ModelDir: dir}, nil, nil)
	if err != nil {
		if *f.text == "on" {
			return nil, err
		}
		s.note = "the encoder could not start: " + err.Error()
		stderr.println("text: off (" + s.note + ")")
		return s, nil
	}
	ce, err := train.NewCachedEncoder(enc, service.RepoFile(*f.cache))
	if err != nil {
		_ = enc.Close() // error path: the cache error is the one to report
		return nil, err
	}
	s.closeFn = func() {
		if err := ce.Save(); err != nil {
			stderr.println("saving the embedding cache:", err)
		}
		stderr.cleanup("closing the encoder", enc.Close)
	}
	s.cfg.Text = ce // profile texts: enc.ProfileText, cut to the model's token limit
	s.cfg.Catalogue = catalogue(evs, p.ValCutoff)
	return s, nil
}

// catalogue is the distinct product descriptions bought before the cutoff
// (the model's own training range), sorted.
func catalogue(evs []*events.Event, before time.Time) []string {
	seen := map[string]bool{}
	var out []string
	for _, ev := range evs {
		if !ev.TS.Before(before) {
			break
		}
		if ev.Type != events.TypePurchase {
			continue
		}
		for _, it := range ev.Items {
			d := strings.Join(strings.Fields(it.Description), " ")
			if len(d) < 3 || seen[d] {
				continue
			}
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// summaryWriter passes through only the lines that are not indented (the
// per-hyper-parameter lines are).
type summaryWriter struct{ w io.Writer }

func (s summaryWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" && !strings.HasPrefix(line, "  ") {
			if _, err := io.WriteString(s.w, line); err != nil {
				return 0, err
			}
		}
	}
	return len(p), nil
}

func cmdTrain(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("train", "[flags]", stderr)
	var tf trainFlags
	tf.add(fs)
	out := fs.String("out", DefaultModelPath, "model file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	tf.files = fs.Args()
	s, err := tf.setup(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	defer s.closeFn()
	res, err := train.Run(ctx, s.evs, s.cfg)
	if err != nil {
		return err
	}
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(repoRoot(), path)
	}
	if err := res.Model.Save(path); err != nil {
		return err
	}
	m := res.Model
	stdout.printf("wrote %s: %s version %s, schema %s, text=%v, trained in %s\n", *out, m.Name, m.Version, m.SchemaHash, m.Text != nil, res.TrainTime.Round(time.Millisecond))
	for _, k := range []string{"validation", "test"} {
		if mt, ok := m.Metrics[k]; ok {
			stdout.printf("  %-10s churn AUC %.3f macro-F1 %.3f | value macro-F1 %.3f\n", k, mt.Churn.AUC, mt.Churn.MacroF1, mt.Value.MacroF1)
		}
	}
	if ev := res.Eval; ev != nil {
		printEval(stdout, ev)
	}
	return nil
}

// printEval prints the test cutoff's customer-value, at_risk and
// calibration figures.
func printEval(stdout *output, ev *train.Eval) {
	a := ev.AtRisk
	stdout.printf("  at_risk on %s: %d of %d active customers (%.1f%%), precision %.3f, lift %.2f; BG/NBD at that size %.3f, recency %.3f\n",
		ev.Cutoff.Format(time.DateOnly), a.Members, a.Active, 100*a.Share, a.Precision, a.Lift, a.BGNBD, a.Recency)
	for _, c := range ev.Cal {
		stdout.printf("  calibration %-36s Brier %.4f ECE %.4f\n", c.Name, c.Brier, c.ECE)
	}
	for _, c := range ev.CLV {
		stdout.printf("  90-day spend %-50s MAE %.1f Spearman %.3f\n", c.Name, c.MAE, c.Spearman)
	}
}

func cmdToJSONL(_ context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("to-jsonl", "[--out FILE] FILE... (Online Retail CSV(.gz) files are merged and de-duplicated, as replay does)", stderr)
	out := fs.String("out", "-", "file to write (- : standard output; .gz: compressed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	items, st, err := LoadItems(fs.Args(), "auto")
	if err != nil {
		return err
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].TS.Before(items[j].TS) })
	var w io.Writer = stdout
	var finish func() error
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<16)
		w = bw
		var gz *gzip.Writer
		if strings.HasSuffix(*out, ".gz") {
			gz = gzip.NewWriter(bw)
			w = gz
		}
		finish = func() error {
			if gz != nil {
				if err := gz.Close(); err != nil {
					_ = f.Close() // the write error is the one to report
					return err
				}
			}
			if err := bw.Flush(); err != nil {
				_ = f.Close() // the write error is the one to report
				return err
			}
			return f.Close()
		}
	}
	for _, it := range items {
		if _, err := w.Write(it.Value); err != nil {
			return err
		}
		if _, err := w.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	if finish != nil {
		if err := finish(); err != nil {
			return err
		}
		stderr.printf("wrote %d events (%s to %s) to %s\n", len(items), st.FirstTS.UTC().Format(time.DateOnly), st.LastTS.UTC().Format(time.DateOnly), *out)
	}
	return nil
}

// repoRoot is the folder holding go.mod (the working directory when none).
func repoRoot() string {
	r := service.RepoFile("go.mod")
	if r == "go.mod" {
		wd, _ := os.Getwd()
		return wd
	}
	return filepath.Dir(r)
}
