package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/internal/testkit"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestTrainEvalFromJSONL converts the committed slice of the real Online
// Retail data to JSON lines in the event format (what a user has), then
// trains and evaluates from that file alone, the cutoffs chosen from its
// span; a history too short gets an error saying how much is needed.
func TestTrainEvalFromJSONL(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice")
	}
	dir := t.TempDir()
	hist := filepath.Join(dir, "history.jsonl.gz")
	_, stderr, code := run(t, "to-jsonl", "--out", hist,
		testkit.RepoFile("testdata/classifier/retail_slice_2009_2010.csv.gz"), testkit.RepoFile("testdata/classifier/retail_slice_2010_2011.csv.gz"))
	if code != 0 {
		t.Fatalf("to-jsonl: %d %s", code, stderr)
	}
	model := filepath.Join(dir, "model.json")
	out, stderr, code := run(t, "train", "--text=off", "--events", hist, "--out", model)
	if code != 0 {
		t.Fatalf("train: %d %s", code, stderr)
	}
	for _, s := range []string{"cutoffs (chosen from the events' span, 2009-12-01 to 2011-12-08): training 2010-03-01..2011-03-01 (13 monthly), validation 2011-06-01, test 2011-09-01", "at_risk on 2011-09-01", "ECE"} {
		if !strings.Contains(out, s) {
			t.Errorf("train output lacks %q:\n%s", s, out)
		}
	}
	m, err := classifier.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.GammaGamma == nil || m.Calibration == nil || m.Data.TestCutoff.Format("2006-01-02") != "2011-09-01" {
		t.Fatalf("model: gamma-gamma %v calibration %v test %s", m.GammaGamma, m.Calibration, m.Data.TestCutoff)
	}
	rep := filepath.Join(dir, "report")
	out, stderr, code = run(t, "eval", "--text=off", "--backtests", "1", "--report", rep, hist)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(rep, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"segstream eval --text=off --backtests 1 --report " + rep + " " + hist, "## Rolling backtests", "| 2011-06-01 |", "## at_risk: test cutoff 2011-09-01", "## Customer value"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("REPORT.md lacks %q", s)
		}
	}
	if !strings.Contains(out, "backtest 1: training 2010-03-01..2010-12-01 (10 monthly), validation 2011-03-01, test 2011-06-01") {
		t.Errorf("eval output:\n%s", out)
	}

	// the first two months of the same history
	short := filepath.Join(dir, "short.jsonl")
	f, err := os.Open(hist)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"ts":"2010-02`) {
			break
		}
		b.Write(sc.Bytes())
		b.WriteByte('\n')
	}
	if err := os.WriteFile(short, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, "train", "--text=off", "--events", short, "--out", filepath.Join(dir, "no.json"))
	if code != 1 || !strings.Contains(stderr, "history too short") || !strings.Contains(stderr, "events until 2011-01-29 at least") {
		t.Fatalf("short history: %d %s", code, stderr)
	}
}
