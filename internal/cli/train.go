package cli

import (
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
	register("train", "fit the segment classifier on Online Retail history and write the model file", cmdTrain)
}

// DefaultModelPath is where `segstream train` writes the model and the
// service reads it.
const DefaultModelPath = "models/default.json"

// trainFlags are the flags train and eval share.
type trainFlags struct {
	data      *string
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
}

func (f *trainFlags) add(fs *flag.FlagSet) {
	f.data = fs.String("data", strings.Join(DefaultRetailFiles, ","), "comma-separated Online Retail CSV(.gz) files")
	f.text = fs.String("text", "auto", "text embedding input and themes: on, off, or auto (on when the encoder model is set up)")
	f.encDir = fs.String("encoder-model", encoder.DefaultModelDir, "encoder model folder (built by tools/encoder/setup.sh)")
	f.cache = fs.String("cache", "var/cache/classifier", "folder for cached text embeddings")
	f.seed = fs.Uint64("seed", 1, "random seed (initialisation, shuffling, themes)")
	f.trainFrom = fs.String("train-from", "2010-03-01", "first training cutoff (then monthly)")
	f.trainTo = fs.String("train-to", "2010-12-01", "last training cutoff")
	f.val = fs.String("val", "2011-03-01", "validation cutoff: every choice is made here")
	f.test = fs.String("test", "2011-09-01", "test cutoff, reported only (empty: none)")
	f.themes = fs.Int("themes", 12, "number of interest themes")
	f.verbose = fs.Bool("v", false, "log every hyper-parameter tried")
	f.refit = fs.Bool("refit", false, "refit the model without text on the training and validation cutoffs after every choice is made")
	f.offsets = fs.String("value-offsets", "none", "value tier decision: tuned (per-class offsets tuned on the validation cutoff) or none (plain argmax)")
	f.trees = fs.String("trees", "", "comma-separated depths of boosted-tree heads to try against the linear heads (model without text; empty: none)")
}

func parseDay(name, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: want YYYY-MM-DD, got %q", name, s)
	}
	return t, nil
}

func (f *trainFlags) protocol() (train.Protocol, error) {
	var p train.Protocol
	from, err := parseDay("train-from", *f.trainFrom)
	if err != nil {
		return p, err
	}
	to, err := parseDay("train-to", *f.trainTo)
	if err != nil {
		return p, err
	}
	for c := from; !c.After(to); c = c.AddDate(0, 1, 0) {
		p.TrainCutoffs = append(p.TrainCutoffs, c)
	}
	if p.ValCutoff, err = parseDay("val", *f.val); err != nil {
		return p, err
	}
	if *f.test != "" {
		if p.TestCutoff, err = parseDay("test", *f.test); err != nil {
			return p, err
		}
	}
	return p, p.Validate()
}

// session is what train and eval set up: the events, the run config and the
// encoder to close.
type session struct {
	evs     []*events.Event
	cfg     train.Config
	closeFn func()
	note    string // why text is off
}

func (f *trainFlags) setup(ctx context.Context, stderr *output) (*session, error) {
	p, err := f.protocol()
	if err != nil {
		return nil, err
	}
	var files []string
	for _, s := range splitList(*f.data) {
		files = append(files, service.RepoFile(s))
	}
	t0 := time.Now()
	items, _, err := replay.ReadRetail(files, replay.RetailOptions{})
	if err != nil {
		return nil, err
	}
	evs := make([]*events.Event, 0, len(items))
	for _, it := range items {
		evs = append(evs, it.Event)
	}
	stderr.printf("read %d events from %d files in %s\n", len(evs), len(files), time.Since(t0).Round(time.Millisecond))
	s := &session{evs: evs, closeFn: func() {}}
	var srcs []string
	for _, fl := range splitList(*f.data) {
		srcs = append(srcs, filepath.Base(fl))
	}
	s.cfg = train.Config{Protocol: p, Seed: *f.seed, Themes: *f.themes, Sources: srcs, Log: io.Discard, Refit: *f.refit}
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
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	s, err := tf.setup(ctx, stderr)
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
