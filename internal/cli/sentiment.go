package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/segstream/segstream/sentiment"
)

func init() {
	register("sentiment", "review sentiment models: train | eval | classify", sentimentCmd)
}

// DefaultSentimentModel is where `segstream sentiment train` writes the
// Chinese review model.
const DefaultSentimentModel = "models/sentiment-zh.bin"

const sentimentUsage = `Usage:
  segstream sentiment train --reviews FILE [--out models/sentiment-zh.bin] [--test-out FILE] [flags]
  segstream sentiment eval --reviews FILE --model FILE [flags]
  segstream sentiment classify --model FILE < texts

train fits a character n-gram TF-IDF + logistic regression model on a
labelled review file (CSV cat,label,review; label 1 positive, 0 negative)
less a seeded held-out test part, and reports the test figures. eval
reports a model's figures: on the held-out part of the corpus the model
was trained on (found by the file's sha256), or on every review of another
file. classify prints "negative|positive P(negative)<TAB>text" for every
line on stdin.

Run 'segstream sentiment COMMAND -h' for a command's flags.
`

func sentimentCmd(ctx context.Context, args []string, stdout, stderr *output) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		stderr.print(sentimentUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "train":
		return sentimentTrain(ctx, args[1:], stdout, stderr)
	case "eval":
		return sentimentEval(ctx, args[1:], stdout, stderr)
	case "classify":
		return sentimentClassify(ctx, args[1:], stdout, stderr)
	}
	stderr.printf("segstream sentiment: unknown command %q\n\n", args[0])
	stderr.print(sentimentUsage)
	return errUsage
}

func sentimentTrain(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("sentiment train", "--reviews FILE [--out FILE] [--test-out FILE] [--split-out FILE]", stderr)
	reviews := fs.String("reviews", "", "labelled reviews: CSV (optionally .gz) with columns cat,label,review (required)")
	out := fs.String("out", DefaultSentimentModel, "model file to write")
	testOut := fs.String("test-out", "", "write the held-out test reviews here (CSV row,cat,label,review; row: the source row)")
	splitOut := fs.String("split-out", "", "write the split here (JSON: source sha256, seed, train and test rows), for tools/sentiment/sklearn_check.py")
	langCode := fs.String("lang", "zh", "language code the model is for")
	testN := fs.Int("test", 10000, "held-out test reviews (stratified by category x label); 0: train on every review, no test")
	seed := fs.Uint64("seed", 14, "seed of the split and the cross-validation folds")
	bits := fs.Int("bits", 20, "log2 of the number of hash buckets")
	cs := fs.String("c", "1,3,10,30,100", "candidate C (inverse L2 strength), comma-separated; one value: no cross-validation")
	folds := fs.Int("folds", 5, "cross-validation folds for choosing C")
	minDF := fs.Int("min-df", 2, "least number of training reviews an n-gram needs")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines for the gradient (the model does not depend on it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *reviews == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	var cvals []float64
	for _, s := range splitList(*cs) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("--c %q: %w", s, err)
		}
		cvals = append(cvals, v)
	}
	start := time.Now()
	corpus, err := sentiment.ReadCorpus(*reviews)
	if err != nil {
		return err
	}
	stdout.printf("reviews: %s rows, %s empty, %s duplicates, %s texts with both labels dropped: %s reviews\n",
		thousands(corpus.Rows), thousands(corpus.Empty), thousands(corpus.Duplicates), thousands(corpus.Conflicting), thousands(len(corpus.Reviews)))
	var train, test []int
	if *testN > 0 {
		if train, test, err = corpus.Split(*testN, *seed); err != nil {
			return err
		}
	} else {
		for i := range corpus.Reviews {
			train = append(train, i)
		}
	}
	stdout.printf("split: %s training, %s held-out test reviews (seed %d, stratified by category x label)\n",
		thousands(len(train)), thousands(len(test)), *seed)
	if *testOut != "" {
		if err := writeTestReviews(*testOut, corpus, test); err != nil {
			return err
		}
	}
	if *splitOut != "" {
		if err := writeSplit(*splitOut, corpus, *reviews, *seed, train, test); err != nil {
			return err
		}
	}
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(stderr), zapcore.InfoLevel))
	defer syncLog(log, stderr)
	texts, neg := corpus.Texts(train)
	fitStart := time.Now()
	m, err := sentiment.Train(texts, neg, sentiment.TrainOptions{
		Lang: *langCode, Bits: *bits, Cs: cvals, Folds: *folds, Seed: *seed, MinDF: *minDF,
		Workers: *workers, Log: log,
	})
	if err != nil {
		return err
	}
	fit := time.Since(fitStart)
	if *testN > 0 {
		m.SetSplit(corpus.SHA256, *seed, len(test))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.Save(*out); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	info := m.Info()
	stdout.printf("model: %s, %s bytes; %d-bit hashing, %s features (%s n-grams with df >= %d), C %g",
		*out, thousands(int(st.Size())), m.Bits(), thousands(m.Features()), thousands(info.NGrams), info.MinDF, info.C)
	if info.Folds > 0 {
		stdout.printf(" (%d-fold CV accuracy %.4f)", info.Folds, info.CVAccuracy)
	}
	stdout.printf("\ntraining: %.1f s (%d workers), %.1f s in all\n", fit.Seconds(), *workers, time.Since(start).Seconds())
	if len(test) > 0 {
		tt, tn := corpus.Texts(test)
		t := time.Now()
		mt := sentiment.Evaluate(m, tt, tn, sentiment.DefaultThreshold)
		el := time.Since(t)
		stdout.printf("held-out test (%s reviews): %s\n", thousands(len(test)), mt)
		stdout.printf("scoring: %.2f µs per review (one goroutine)\n", float64(el.Nanoseconds())/float64(len(test))/1e3)
	}
	return nil
}

func writeTestReviews(path string, c *sentiment.Corpus, test []int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"row", "cat", "label", "review"}) // errors surface at Flush
	for _, i := range test {
		rv := c.Reviews[i]
		label := "1"
		if rv.Negative {
			label = "0"
		}
		_ = w.Write([]string{strconv.Itoa(rv.Row), rv.Category, label, rv.Text})
	}
	w.Flush()
	err = w.Error()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sentimentSplit is the --split-out file.
type sentimentSplit struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Seed   uint64 `json:"seed"`
	// Train and Test are 0-based data rows of the source file.
	Train []int `json:"train"`
	Test  []int `json:"test"`
	// Labels of the test rows (0 negative, 1 positive), a check.
	TestLabels []int `json:"test_labels"`
}

func writeSplit(path string, c *sentiment.Corpus, source string, seed uint64, train, test []int) error {
	s := sentimentSplit{Source: source, SHA256: c.SHA256, Seed: seed, Train: []int{}, Test: []int{}, TestLabels: []int{}}
	for _, i := range train {
		s.Train = append(s.Train, c.Reviews[i].Row)
	}
	for _, i := range test {
		s.Test = append(s.Test, c.Reviews[i].Row)
		l := 1
		if c.Reviews[i].Negative {
			l = 0
		}
		s.TestLabels = append(s.TestLabels, l)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func sentimentEval(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("sentiment eval", "--reviews FILE --model FILE [--all] [--json] [--pred-out FILE]", stderr)
	reviews := fs.String("reviews", "", "labelled reviews: CSV (optionally .gz) with columns label,review and optionally cat, row (required)")
	modelPath := fs.String("model", DefaultSentimentModel, "model file")
	all := fs.Bool("all", false, "evaluate every review, even of the corpus the model was trained on (training reviews included: not a fair figure)")
	threshold := fs.Float64("threshold", sentiment.DefaultThreshold, "P(negative) above which a review is negative")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	predOut := fs.String("pred-out", "", "write every evaluated review's row, label (0 negative, 1 positive) and P(negative) here (TSV)")
	splitOut := fs.String("split-out", "", "write the model's training/test split of the corpus here (as train --split-out; only on the corpus the model was trained on)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *reviews == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	m, err := sentiment.Load(*modelPath)
	if err != nil {
		return err
	}
	corpus, err := sentiment.ReadCorpus(*reviews)
	if err != nil {
		return err
	}
	info := m.Info()
	var idx []int
	what := fmt.Sprintf("every review of %s", *reviews)
	trainedOn := info.Source != "" && info.Source == corpus.SHA256
	if trainedOn {
		train, test, err := corpus.Split(info.TestN, info.Seed)
		if err != nil {
			return err
		}
		if *splitOut != "" {
			if err := writeSplit(*splitOut, corpus, *reviews, info.Seed, train, test); err != nil {
				return err
			}
		}
		if *all {
			stderr.println("segstream sentiment eval: --all on the training corpus: the figures include the training reviews")
		} else {
			idx = test
			what = fmt.Sprintf("the held-out test part of the training corpus %s (seed %d)", *reviews, info.Seed)
		}
	} else if *splitOut != "" {
		return fmt.Errorf("--split-out: %s is not the corpus the model was trained on (sha256 %s, the model says %q)", *reviews, corpus.SHA256, info.Source)
	}
	if idx == nil {
		for i := range corpus.Reviews {
			idx = append(idx, i)
		}
	}
	texts, neg := corpus.Texts(idx)
	p := make([]float64, len(texts))
	pred := make([]bool, len(texts))
	t := time.Now()
	for i, s := range texts {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		p[i] = m.Negative(s)
	}
	el := time.Since(t)
	for i, v := range p {
		pred[i] = v > *threshold
	}
	mt := sentiment.Compare(neg, pred)
	perCat := map[string][2]int{} // right, all
	for k, i := range idx {
		c := perCat[corpus.Reviews[i].Category]
		if pred[k] == neg[k] {
			c[0]++
		}
		c[1]++
		perCat[corpus.Reviews[i].Category] = c
	}
	if *predOut != "" {
		if err := writePredictions(*predOut, corpus, idx, p); err != nil {
			return err
		}
	}
	nsPer := float64(el.Nanoseconds()) / float64(max(1, len(texts)))
	if *asJSON {
		cats := map[string]float64{}
		for c, v := range perCat {
			cats[c] = float64(v[0]) / float64(v[1])
		}
		b, err := json.MarshalIndent(map[string]any{
			"evaluated": what, "model": *modelPath, "metrics": mt, "per_category_accuracy": cats,
			"ns_per_review": nsPer, "features": m.Features(), "bits": m.Bits(), "info": info,
		}, "", "  ")
		if err != nil {
			return err
		}
		stdout.println(string(b))
		return nil
	}
	stdout.printf("model %s (%s, %d-bit hashing, %s features, trained on %s reviews, C %g)\n",
		*modelPath, info.Lang, m.Bits(), thousands(m.Features()), thousands(info.Docs), info.C)
	stdout.printf("evaluated on %s: %s reviews (%s negative, %s positive)\n\n", what, thousands(mt.N),
		thousands(mt.Negative.Support), thousands(mt.Positive.Support))
	stdout.printf("accuracy  %.4f  (95%% CI %.4f-%.4f, Wilson)\nmacro F1  %.4f\n\n", mt.Accuracy, mt.CILow, mt.CIHigh, mt.MacroF1)
	stdout.printf("%-9s %9s %9s %9s %8s\n", "class", "precision", "recall", "F1", "support")
	for _, c := range []struct {
		name string
		m    sentiment.ClassMetrics
	}{{"negative", mt.Negative}, {"positive", mt.Positive}} {
		stdout.printf("%-9s %9.4f %9.4f %9.4f %8d\n", c.name, c.m.Precision, c.m.Recall, c.m.F1, c.m.Support)
	}
	stdout.printf("\nconfusion (rows true, columns predicted): negative %d %d, positive %d %d\n",
		mt.Confusion[0][0], mt.Confusion[0][1], mt.Confusion[1][0], mt.Confusion[1][1])
	if len(perCat) > 1 {
		stdout.println("\naccuracy by category:")
		for _, c := range slices.Sorted(maps.Keys(perCat)) {
			v := perCat[c]
			stdout.printf("  %-8s %.4f (%d)\n", c, float64(v[0])/float64(v[1]), v[1])
		}
	}
	stdout.printf("\nscoring: %.2f µs per review (one goroutine, this run)\n", nsPer/1e3)
	return nil
}

func writePredictions(path string, c *sentiment.Corpus, idx []int, p []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	_, _ = w.WriteString("row\tlabel\tp_negative\n") // errors surface at Flush
	for k, i := range idx {
		label := 1
		if c.Reviews[i].Negative {
			label = 0
		}
		_, _ = fmt.Fprintf(w, "%d\t%d\t%.6f\n", c.Reviews[i].Row, label, p[k])
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func sentimentClassify(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("sentiment classify", "--model FILE [--threshold P] < texts", stderr)
	modelPath := fs.String("model", DefaultSentimentModel, "model file")
	threshold := fs.Float64("threshold", sentiment.DefaultThreshold, "P(negative) above which a text is negative")
	neutral := fs.Float64("neutral", 0, "half-width of a neutral band around the threshold (0: none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	m, err := sentiment.Load(*modelPath)
	if err != nil {
		return err
	}
	set, err := sentiment.NewSet(map[string]*sentiment.Model{m.Info().Lang: m}).WithThreshold(*threshold, *neutral)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	w := bufio.NewWriter(stdout)
	for sc.Scan() {
		if ctx.Err() != nil {
			break
		}
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			_, _ = fmt.Fprintf(w, "unknown -\t%s\n", text) // errors surface at Flush
			continue
		}
		p := m.Negative(text)
		_, _ = fmt.Fprintf(w, "%s %.2f\t%s\n", set.Classify(p), p, text)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	return ctx.Err()
}
