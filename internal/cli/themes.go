package cli

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/classifier/train"
	"github.com/segstream/segstream/encoder"
)

func init() {
	register("themes", "learn interest themes of an encoder model from a corpus of categorised reviews (Chinese: online_shopping_10_cats) and write a theme file", themesCmd)
}

// reviewCategoryNames are the theme names of the categories of
// online_shopping_10_cats (none of them a theme name of models/default.json).
var reviewCategoryNames = map[string]string{
	"书籍": "books", "平板": "tablets", "手机": "phones", "水果": "fruit", "洗发水": "shampoo",
	"热水器": "water_heaters", "蒙牛": "dairy", "衣服": "clothes", "计算机": "computers", "酒店": "hotels",
}

// themesEncodeChunk is the most texts of one Encode call (between progress
// lines; the encoder sorts a call's texts by length into batches).
const themesEncodeChunk = 256

// themesProgressEvery is how often the encoding logs its progress.
const themesProgressEvery = 5 * time.Second

// themesCmd is `segstream themes`: one theme per review category, its
// centroid the mean embedding of a seeded sample of the category's reviews,
// written as a classifier.ThemeSet and evaluated on held-out reviews.
func themesCmd(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("themes", "--reviews FILE --out FILE [--model NAME|DIR] [--per-category N] [--holdout N] [--seed S]", stderr)
	model := fs.String("model", "bge-small-zh-v15-q", "encoder model: a name under var/models or a folder with model.onnx, tokenizer.json, spec.json")
	reviews := fs.String("reviews", "", "the corpus: CSV (or .csv.gz) with columns cat and review, e.g. online_shopping_10_cats.csv.gz")
	perCat := fs.Int("per-category", 400, "reviews per category for the centroids (fewer where a category has fewer)")
	holdout := fs.Int("holdout", 100, "reviews per category held out for the evaluation (at most a quarter of a category's)")
	seed := fs.Uint64("seed", 1, "random seed of the sample")
	out := fs.String("out", "", "theme file to write (e.g. models/themes-zh.json)")
	words := fs.Int("words", 8, "characteristic words (character bigrams) per theme")
	digits := fs.Int("digits", 5, "significant digits of the centroids' numbers (0: float32 as it is)")
	lang := fs.String("language", "zh", "language of the texts")
	heldOut := fs.String("held-out", "", "also write the held-out reviews to this CSV file (cat,review)")
	lib := fs.String("lib", "", "ONNX Runtime shared library (default var/lib/libonnxruntime.so.1 or $SEGSTREAM_ORT_LIB)")
	provider := fs.String("provider", "", "execution provider: cpu or cuda")
	device := fs.Int("device", 0, "CUDA device id")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *reviews == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if *perCat < 1 || *holdout < 0 || *words < 0 || *digits < 0 || *digits > 9 {
		stderr.println("segstream themes: --per-category must be >= 1, --holdout and --words >= 0, --digits in 0..9")
		return errUsage
	}
	start := time.Now()
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(stderr), zapcore.InfoLevel))
	defer syncLog(log, stderr)

	corpus, err := readReviewCorpus(*reviews)
	if err != nil {
		return err
	}
	sample, held := splitReviewCorpus(corpus, *perCat, *holdout, *seed)
	log.Info("themes: corpus read", zap.String("file", *reviews), zap.Int("categories", len(corpus.cats)),
		zap.Int("reviews", corpus.n), zap.Int("duplicates_dropped", corpus.dropped),
		zap.Int("sample", len(sample.texts)), zap.Int("held_out", len(held.texts)))

	enc, err := encoder.New(encoder.Config{ModelDir: encoder.ModelDir(*model), LibraryPath: *lib, Provider: *provider, DeviceID: *device}, log, nil)
	if err != nil {
		return err
	}
	defer stderr.cleanup("closing the encoder", enc.Close)
	all := append(append([]string(nil), sample.texts...), held.texts...)
	emb, failed, err := encodeWithProgress(ctx, enc, all, log)
	if err != nil {
		return err
	}
	took := time.Since(start) // reading, loading the model, encoding
	embSample, embHeld := emb[:len(sample.texts)], emb[len(sample.texts):]

	themes := train.CategoryThemes(sample.texts, sample.cats, embSample, reviewCategoryNames, *words)
	minCos := 1.0
	if *digits > 0 {
		for i := range themes {
			r := roundSignificant(themes[i].Centroid, *digits)
			minCos = math.Min(minCos, classifier.Cosine(r, themes[i].Centroid))
			themes[i].Centroid = r
		}
	}
	ts := &classifier.ThemeSet{
		Format: classifier.ThemeSetFormat, FormatVersion: classifier.ThemeSetFormatVersion,
		Encoder: enc.ModelVersion(), Dim: enc.Dim(), Language: *lang,
		Source: fmt.Sprintf("%s: one theme per review category, the centroid the mean normalised embedding of a sample of up to %d reviews a category "+
			"(seed %d, %d reviews in all; %d a category, at most a quarter, held out for evaluation; texts in two categories and repeats dropped); "+
			"words: the category's character bigrams of highest TF-IDF against the other categories; segstream themes",
			filepath.Base(*reviews), *perCat, *seed, len(sample.texts), *holdout),
		Themes: themes,
	}
	if err := ts.Save(*out); err != nil {
		return err
	}
	if *heldOut != "" {
		if err := writeReviewsCSV(*heldOut, held); err != nil {
			return err
		}
	}
	ev := train.EvalCategoryThemes(themes, held.cats, embHeld, reviewCategoryNames)
	writeThemesReport(stdout, ts, *out, ev, corpus, sample, held, *digits, minCos, failed, took)
	return nil
}

// reviewCorpus is a categorised review corpus, the texts of each category in
// file order.
type reviewCorpus struct {
	cats    []string // sorted
	texts   map[string][]string
	n       int // texts kept
	dropped int // texts in two categories, repeats and empty ones
}

// readReviewCorpus reads a CSV with a header naming the columns cat and
// review (a byte order mark is removed). Empty reviews, repeats of a review
// within its category and reviews found in two categories are dropped.
func readReviewCorpus(path string) (*reviewCorpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = gz
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	catCol, revCol := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(strings.ReplaceAll(h, "\ufeff", "")) {
		case "cat":
			catCol = i
		case "review":
			revCol = i
		}
	}
	if catCol < 0 || revCol < 0 {
		return nil, fmt.Errorf("%s: the header %q has no cat and review columns", path, head)
	}
	c := &reviewCorpus{texts: map[string][]string{}}
	catsOf := map[string]map[string]bool{}
	var order []struct{ cat, text string }
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		cat := strings.TrimSpace(strings.ReplaceAll(rec[catCol], "\ufeff", ""))
		text := strings.TrimSpace(strings.ReplaceAll(rec[revCol], "\ufeff", ""))
		if cat == "" || text == "" {
			c.dropped++
			continue
		}
		m := catsOf[text]
		if m == nil {
			m = map[string]bool{}
			catsOf[text] = m
		}
		if m[cat] {
			c.dropped++
			continue
		}
		m[cat] = true
		order = append(order, struct{ cat, text string }{cat, text})
	}
	for _, o := range order {
		if len(catsOf[o.text]) > 1 {
			c.dropped++
			continue
		}
		if c.texts[o.cat] == nil {
			c.cats = append(c.cats, o.cat)
		}
		c.texts[o.cat] = append(c.texts[o.cat], o.text)
		c.n++
	}
	if c.n == 0 {
		return nil, fmt.Errorf("%s: no reviews", path)
	}
	sort.Strings(c.cats)
	return c, nil
}

// labelledTexts are texts with their categories.
type labelledTexts struct {
	texts, cats []string
}

// splitReviewCorpus shuffles each category's reviews with a generator of
// seed and the category's name, holds out the first min(holdout, n/4) and
// samples the next up to perCat: the held-out reviews do not depend on
// perCat, and a category's sample not on the others.
func splitReviewCorpus(c *reviewCorpus, perCat, holdout int, seed uint64) (sample, held labelledTexts) {
	for _, cat := range c.cats {
		texts := c.texts[cat]
		h := fnv.New64a()
		_, _ = h.Write([]byte(cat)) // a hash does not fail
		perm := rand.New(rand.NewPCG(seed, h.Sum64())).Perm(len(texts))
		nh := min(holdout, len(texts)/4)
		for _, i := range perm[:nh] {
			held.texts, held.cats = append(held.texts, texts[i]), append(held.cats, cat)
		}
		for _, i := range perm[nh:min(len(perm), nh+perCat)] {
			sample.texts, sample.cats = append(sample.texts, texts[i]), append(sample.cats, cat)
		}
	}
	return sample, held
}

// writeReviewsCSV writes texts as a CSV file with the columns cat and review.
func writeReviewsCSV(path string, lt labelledTexts) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"cat", "review"}) // errors are kept for Flush
	for i, t := range lt.texts {
		_ = w.Write([]string{lt.cats[i], t})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// encodeWithProgress encodes texts in chunks, logging the progress every
// few seconds. A text the tokenizer rejects gets a nil vector and is
// counted in failed.
func encodeWithProgress(ctx context.Context, enc *encoder.Encoder, texts []string, log *zap.Logger) ([][]float32, int, error) {
	out := make([][]float32, 0, len(texts))
	failed := 0
	start := time.Now()
	last := start
	for lo := 0; lo < len(texts); lo += themesEncodeChunk {
		hi := min(lo+themesEncodeChunk, len(texts))
		vecs, err := enc.Encode(ctx, texts[lo:hi])
		var be *encoder.BatchError
		if err != nil && !errors.As(err, &be) {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			return nil, 0, fmt.Errorf("encoding: %w", err)
		}
		if be != nil {
			failed += len(be.Failed)
		}
		out = append(out, vecs...)
		if now := time.Now(); now.Sub(last) >= themesProgressEvery || hi == len(texts) {
			last = now
			el := now.Sub(start).Seconds()
			rate := float64(hi) / el
			log.Info("themes: encoding", zap.Int("done", hi), zap.Int("of", len(texts)),
				zap.String("per_second", strconv.FormatFloat(rate, 'f', 1, 64)),
				zap.Duration("elapsed", now.Sub(start).Round(time.Second)),
				zap.Duration("left", time.Duration(float64(len(texts)-hi)/rate*float64(time.Second)).Round(time.Second)))
		}
	}
	return out, failed, nil
}

// roundSignificant rounds each number to digits significant digits.
func roundSignificant(v []float32, digits int) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', digits, 32), 32) // its own output parses
		out[i] = float32(r)
	}
	return out
}

// writeThemesReport prints the themes and the held-out figures as Markdown.
func writeThemesReport(w *output, ts *classifier.ThemeSet, path string, ev train.ThemeEval, c *reviewCorpus, sample, held labelledTexts,
	digits int, minCos float64, failed int, took time.Duration) {
	catOf := map[string]string{}
	for _, cat := range c.cats {
		name := reviewCategoryNames[cat]
		if name == "" {
			name = cat
		}
		catOf[name] = cat
	}
	w.printf("wrote %s: %d themes of %s (dim %d) from %d reviews, %d held out; took %s",
		path, len(ts.Themes), ts.Encoder, ts.Dim, len(sample.texts), len(held.texts), took.Round(time.Second))
	if failed > 0 {
		w.printf(" (%d not tokenized, left out)", failed)
	}
	w.println()
	if digits > 0 {
		w.printf("centroids rounded to %d significant digits: cosine to the unrounded >= %.9f\n", digits, minCos)
	}
	w.printf("\nheld-out: %d reviews: nearest theme top-1 %.1f%%, top-2 %.1f%%; mean cosine to the own theme %.4f, to the best other %.4f (margin %.4f)\n\n",
		ev.N, 100*ev.Top1, 100*ev.Top2, ev.MeanOwn, ev.MeanOther, ev.MeanOwn-ev.MeanOther)
	w.println("| theme | category | reviews | centroid | held out | top-1 | top-2 | cos own | cos best other | most often nearest instead |")
	w.println("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for i, r := range ev.PerTheme {
		conf := r.Confused
		if conf == "" {
			conf = "-"
		}
		w.printf("| %s | %s | %d | %d | %d | %.1f%% | %.1f%% | %.4f | %.4f | %s |\n",
			r.Theme, catOf[r.Theme], len(c.texts[catOf[r.Theme]]), ts.Themes[i].Size, r.N, 100*r.Top1, 100*r.Top2, r.MeanOwn, r.MeanOther, conf)
	}
	w.println("\n| theme | words |")
	w.println("|---|---|")
	for _, t := range ts.Themes {
		w.printf("| %s | %s |\n", t.Name, strings.Join(t.Words, " "))
	}
}
