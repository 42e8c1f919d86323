#!/usr/bin/env python3
"""Cross-check of segstream's Go review sentiment model (package sentiment) against
scikit-learn on exactly the Go split, and the report docs/sentiment/go_model.md.

  var/venv-encoder/bin/python tools/sentiment/sklearn_check.py \
      [--data /work/shared/data/online_shopping_10_cats.csv.gz] [--bin bin/segstream] \
      [--model models/sentiment-zh.bin] [--out docs/sentiment/go_model.md] \
      [--retrain] [--sweep 16,18,20,22] [--no-bench]

What it runs:
  1. (--retrain) `segstream sentiment train` on the corpus into a temporary file: training
     time, and whether it is byte for byte the committed model (training is deterministic).
  2. `segstream sentiment eval --json --pred-out --split-out`: the Go model's figures on the
     held-out test part its file records (seed and size; the corpus by sha256), its
     predictions and the split (0-based CSV data rows).
  3. scikit-learn on that split: TfidfVectorizer(analyzer='char', ngram_range=(1, 3),
     sublinear_tf=True, min_df=2) fitted on the training rows, LogisticRegressionCV (the
     C grid of the Go trainer, shuffled stratified 5-fold, liblinear, accuracy), scored on the test rows.
  4. The Go figures recomputed here from the predictions (a check of the Go metrics code),
     both models side by side, their agreement and McNemar's exact test.
  5. (--sweep) the hash size: the Go model retrained with each number of bits at the chosen C.
  6. `go test -bench BenchmarkNegative` (one goroutine): ns and allocations per review.
Texts are cleaned as docs/sentiment/REPORT.md did (BOM dropped, whitespace collapsed);
scikit-learn lower-cases them itself.
"""
import argparse
import csv
import gzip
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn's notices about future defaults

CATS = {"书籍": "books", "平板": "tablets", "手机": "phones", "水果": "fruit", "洗发水": "shampoo",
        "热水器": "water heaters", "蒙牛": "Mengniu (dairy)", "衣服": "clothes", "计算机": "computers",
        "酒店": "hotels"}
CS = [1, 3, 10, 30, 100]  # the Go trainer's default grid (sentiment.TrainOptions.Cs)


def load(path):
    """Data rows of the CSV (0-based, the header is not a row) -> (cat, label, cleaned text)."""
    rows = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        for i, (cat, label, review) in enumerate(r):
            rows[i] = (cat, int(label), " ".join(review.replace("\ufeff", "").split()))
    return rows


def wilson(k, n, z=1.959963984540054):
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


def metrics(y, pred):
    """y, pred: 1 positive, 0 negative (the corpus labels)."""
    from sklearn.metrics import precision_recall_fscore_support
    y, pred = np.asarray(y), np.asarray(pred)
    pr, rc, f1, sup = precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    ok = int((y == pred).sum())
    lo, hi = wilson(ok, len(y))
    return {"n": len(y), "accuracy": ok / len(y), "ci95": [lo, hi], "macro_f1": float(np.mean(f1)),
            "negative": {"precision": float(pr[0]), "recall": float(rc[0]), "f1": float(f1[0]), "support": int(sup[0])},
            "positive": {"precision": float(pr[1]), "recall": float(rc[1]), "f1": float(f1[1]), "support": int(sup[1])}}


def mcnemar(a_right, b_right):
    from scipy.stats import binomtest
    b = int((a_right & ~b_right).sum())
    c = int((~a_right & b_right).sum())
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return b, c, float(p)


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, text=True, **kw)


def go_eval(bin_path, data, model, tmp, tag):
    pred, split = os.path.join(tmp, f"pred-{tag}.tsv"), os.path.join(tmp, f"split-{tag}.json")
    out = run([bin_path, "sentiment", "eval", "--reviews", data, "--model", model, "--json",
               "--pred-out", pred, "--split-out", split], stdout=subprocess.PIPE).stdout
    return json.loads(out), pred, split


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def bench(pkg_dir):
    out = run(["go", "test", "-run", "^$", "-bench", "BenchmarkNegative$", "-benchmem", "-benchtime", "2s",
               "-count", "5", "-cpu", "1", pkg_dir], stdout=subprocess.PIPE,
              env={**os.environ, "CGO_ENABLED": "1"}).stdout
    ns, cpu, allocs, byts = [], [], [], []
    for line in out.splitlines():
        if line.startswith("BenchmarkNegative"):
            f = line.split()
            vals = {f[i + 1]: float(f[i]) for i in range(2, len(f) - 1, 2)}
            ns.append(vals["ns/op"])
            cpu.append(vals.get("cpu-ns/op", float("nan")))
            allocs.append(vals["allocs/op"])
            byts.append(vals["B/op"])
    if not ns:
        sys.exit("no benchmark result:\n" + out)
    return {"ns_per_op": ns, "cpu_ns_per_op": cpu, "allocs_per_op": max(allocs), "bytes_per_op": max(byts),
            "load_avg": list(os.getloadavg())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/online_shopping_10_cats.csv.gz")
    ap.add_argument("--bin", default="bin/segstream")
    ap.add_argument("--model", default="models/sentiment-zh.bin")
    ap.add_argument("--out", default="docs/sentiment/go_model.md")
    ap.add_argument("--json-out", default="", help="also write every figure as JSON here")
    ap.add_argument("--retrain", action="store_true", help="retrain the Go model and compare it with --model")
    ap.add_argument("--sweep", default="", help="comma-separated hash bits to retrain with at the chosen C")
    ap.add_argument("--no-bench", action="store_true")
    ap.add_argument("--jobs", type=int, default=2, help="scikit-learn's n_jobs for the C search")
    ap.add_argument("--command", default="", help="the command line to print in the report")
    a = ap.parse_args()

    import scipy
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    res = {"data": os.path.basename(a.data), "data_sha256": sha256(a.data), "model": a.model,
           "model_bytes": os.path.getsize(a.model), "model_sha256": sha256(a.model)}
    with tempfile.TemporaryDirectory() as tmp:
        if a.retrain:
            path = os.path.join(tmp, "retrained.bin")
            t0 = time.time()
            out = run([a.bin, "sentiment", "train", "--reviews", a.data, "--out", path],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
            m = re.search(r"training: ([0-9.]+) s \((\d+) workers\)", out)
            res["retrain"] = {"wall_s": round(time.time() - t0, 1), "fit_s": float(m.group(1)) if m else None,
                              "workers": int(m.group(2)) if m else None, "identical": sha256(path) == res["model_sha256"],
                              "load_avg": list(os.getloadavg())}
        goj, pred_path, split_path = go_eval(a.bin, a.data, a.model, tmp, "model")
        split = json.load(open(split_path))
        gp = {}
        with open(pred_path) as f:
            next(f)
            for line in f:
                row, label, p = line.split("\t")
                gp[int(row)] = (int(label), float(p))

        rows = load(a.data)
        tr, te = split["train"], split["test"]
        for r, lab in zip(te, split["test_labels"]):
            if rows[r][1] != lab:
                sys.exit(f"row {r}: label {rows[r][1]} here, {lab} in the Go split: not the same corpus")
        if sorted(gp) != sorted(te):
            sys.exit("the Go predictions are not on the test rows of the split")
        ytr = np.array([rows[r][1] for r in tr])
        yte = np.array([rows[r][1] for r in te])
        cte = np.array([rows[r][0] for r in te])

        # the Go model, from its predictions (P(negative) > 0.5 is negative, label 0)
        go_pred = np.array([0 if gp[r][1] > 0.5 else 1 for r in te])
        res["go"] = metrics(yte, go_pred)
        gm = goj["metrics"]
        if abs(gm["Accuracy"] - res["go"]["accuracy"]) > 1e-12 or abs(gm["MacroF1"] - res["go"]["macro_f1"]) > 1e-9:
            sys.exit(f"Go's own figures {gm['Accuracy']}, {gm['MacroF1']} differ from these {res['go']}")
        res["go"]["info"] = goj["info"]
        res["go"]["features"] = goj["features"]
        res["go"]["bits"] = goj["bits"]

        # scikit-learn on the same split
        t0 = time.time()
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
        Xtr = vec.fit_transform([rows[r][2] for r in tr])
        Xte = vec.transform([rows[r][2] for r in te])
        # shuffled folds: the training rows are in file order, grouped by category, and
        # unshuffled folds would hold out whole categories
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=split["seed"])
        clf = LogisticRegressionCV(Cs=CS, cv=folds, solver="liblinear", max_iter=2000, scoring="accuracy",
                                   random_state=split["seed"], n_jobs=a.jobs)
        clf.fit(Xtr, ytr)
        sk_pred = clf.predict(Xte)
        res["sklearn"] = metrics(yte, sk_pred)
        res["sklearn"]["C"] = float(clf.C_[0])
        res["sklearn"]["cv_accuracy"] = float(np.max(clf.scores_[1].mean(axis=0)))
        res["sklearn"]["features"] = int(Xtr.shape[1])
        res["sklearn"]["fit_s"] = round(time.time() - t0, 1)
        # an exact-vocabulary model file in the Go file's style: the n-gram strings (sorted,
        # newline-separated), their document frequencies (uvarints) and int16 weights, deflated
        vocab = sorted(vec.vocabulary_)
        text = "\n".join(vocab).encode()
        col = np.array([vec.vocabulary_[g] for g in vocab])
        df = np.asarray((Xtr > 0).sum(axis=0)).ravel()[col]
        coef = clf.coef_.ravel()[col]
        q = np.round(coef / (np.abs(coef).max() / 32767)).astype("<i2").tobytes()
        dfb = bytearray()
        for d in df:
            d = int(d)
            while d >= 0x80:
                dfb.append(d & 0x7F | 0x80)
                d >>= 7
            dfb.append(d)
        res["sklearn"]["vocab_bytes"] = len(text)
        res["sklearn"]["vocab_deflated_bytes"] = len(zlib.compress(text, 9))
        res["sklearn"]["exact_file_bytes"] = len(zlib.compress(text + bytes(dfb) + q, 9))

        go_right, sk_right = go_pred == yte, sk_pred == yte
        b, c, p = mcnemar(go_right, sk_right)
        res["paired"] = {"agree": float((go_pred == sk_pred).mean()), "go_only_right": b, "sklearn_only_right": c,
                         "p": p, "diff": res["go"]["accuracy"] - res["sklearn"]["accuracy"]}
        res["per_category"] = {}
        for cat in sorted(set(cte)):
            m = cte == cat
            res["per_category"][cat] = {"n": int(m.sum()), "go": float(go_right[m].mean()),
                                        "sklearn": float(sk_right[m].mean())}

        if a.sweep:
            res["sweep"] = []
            for bits in [int(x) for x in a.sweep.split(",")]:
                path = os.path.join(tmp, f"bits{bits}.bin")
                run([a.bin, "sentiment", "train", "--reviews", a.data, "--out", path, "--bits", str(bits),
                     "--c", "%g" % goj["info"]["C"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                j, _, _ = go_eval(a.bin, a.data, path, tmp, f"bits{bits}")
                res["sweep"].append({"bits": bits, "features": j["features"], "bytes": os.path.getsize(path),
                                     "accuracy": j["metrics"]["Accuracy"], "ci95": [j["metrics"]["CILow"], j["metrics"]["CIHigh"]],
                                     "macro_f1": j["metrics"]["MacroF1"]})
    if not a.no_bench:
        res["bench"] = bench("./sentiment/")
    res["versions"] = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                       "sklearn": sklearn.__version__,
                       "go": subprocess.run(["go", "version"], stdout=subprocess.PIPE, text=True).stdout.strip()}
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(res, f, indent=1, ensure_ascii=False)
    write_report(a, res, split)


def write_report(a, res, split):
    go, sk, pr, info = res["go"], res["sklearn"], res["paired"], res["go"]["info"]
    cmd = a.command or "var/venv-encoder/bin/python tools/sentiment/sklearn_check.py " + " ".join(sys.argv[1:])
    L = []
    w = L.append
    w("# The Go review sentiment model (package sentiment) against scikit-learn")
    w("")
    w("Written by `tools/sentiment/sklearn_check.py`; regenerate (after `go build -o bin/segstream ./cmd/segstream`;"
      " scikit-learn from `var/venv-encoder`, see tools/encoder/setup.sh):")
    w("")
    w("```")
    w(cmd)
    w("```")
    w("")
    w("The model was trained by")
    w("")
    w("```")
    w(f"bin/segstream sentiment train --reviews /work/shared/data/{res['data']} --out {a.model}")
    w("```")
    w("")
    w("## Set-up")
    w("")
    n_all = len(split["train"]) + len(split["test"])
    w(f"- Data: `{res['data']}` (sha256 `{res['data_sha256'][:16]}…`), cleaned and de-duplicated as in"
      f" docs/sentiment/REPORT.md: {n_all:,} reviews.")
    w(f"- Split: Go's `Corpus.Split`, seeded (seed {split['seed']}), stratified by category x label:"
      f" **{len(split['train']):,} training and {len(split['test']):,} held-out test reviews** - the whole corpus"
      f" less the test part, not the report's 16,000 / 4,000 subsample, so the figures are not directly comparable"
      f" with REPORT.md's (0.9285 there). The model file records the seed, the test size and the corpus's sha256;"
      f" `segstream sentiment eval` re-derives the test part from them. scikit-learn below gets exactly these rows.")
    w(f"- Go model: character 1-3-gram TF-IDF (sublinear tf, min_df {info['MinDF']}, smoothed idf, L2 rows), n-grams"
      f" hashed with xxhash64 into 2^{go['bits']} buckets ({go['features']:,} buckets carry a feature;"
      f" {info['NGrams']:,} distinct n-grams reach min_df), L2-regularised logistic regression by L-BFGS,"
      f" C = {info['C']:g} chosen by {info['Folds']}-fold cross-validated accuracy on the training part only"
      f" (grid {', '.join('%g' % c for c in CS)}; CV accuracy {info['CVAccuracy']:.4f}). Weights int16, idf 1/2048.")
    w(f"- scikit-learn {res['versions']['sklearn']}: `TfidfVectorizer(analyzer='char', ngram_range=(1, 3), sublinear_tf=True,"
      f" min_df=2)` fitted on the training part ({sk['features']:,} features), `LogisticRegressionCV(Cs={CS},"
      f" cv=StratifiedKFold(5, shuffle=True), solver='liblinear', scoring='accuracy')`: C = {sk['C']:g} (CV accuracy {sk['cv_accuracy']:.4f}); {sk['fit_s']:.0f} s.")
    w("- 95% intervals: Wilson score intervals of the test accuracy.")
    w("")
    w("## Held-out test figures")
    w("")
    w("| model | accuracy (95% CI) | macro F1 | neg precision | neg recall | neg F1 | pos precision | pos recall | pos F1 |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in (("Go `sentiment.Model`", go), ("scikit-learn, same split", sk)):
        w(f"| {name} | {m['accuracy']:.4f} ({m['ci95'][0]:.4f}-{m['ci95'][1]:.4f}) | {m['macro_f1']:.4f} |"
          f" {m['negative']['precision']:.4f} | {m['negative']['recall']:.4f} | {m['negative']['f1']:.4f} |"
          f" {m['positive']['precision']:.4f} | {m['positive']['recall']:.4f} | {m['positive']['f1']:.4f} |")
    w("")
    w(f"Test part: {go['negative']['support']:,} negative, {go['positive']['support']:,} positive reviews.")
    w("")
    w(f"Go minus scikit-learn: {pr['diff'] * 100:+.2f} points. The two agree on {pr['agree'] * 100:.1f}% of the test"
      f" reviews; Go right where scikit-learn is wrong on {pr['go_only_right']}, the reverse on {pr['sklearn_only_right']}"
      f" (McNemar's exact test p = {pr['p']:.2g}).")
    w("")
    w("Accuracy by category:")
    w("")
    cats = res["per_category"]
    w("| model | " + " | ".join(f"{CATS.get(c, c)} ({v['n']})" for c, v in cats.items()) + " |")
    w("| --- | " + " | ".join("---:" for _ in cats) + " |")
    w("| Go | " + " | ".join(f"{v['go']:.3f}" for v in cats.values()) + " |")
    w("| scikit-learn | " + " | ".join(f"{v['sklearn']:.3f}" for v in cats.values()) + " |")
    w("")
    w("## Size")
    w("")
    w(f"- `{a.model}`: **{res['model_bytes']:,} bytes** (DEFLATE-compressed body; sha256 `{res['model_sha256'][:16]}…`)."
      f" In memory: a table of 2^{go['bits']} 4-byte cells ({(4 << go['bits']) / 2**20:.0f} MiB).")
    same = "the same as" if sk["features"] == info["NGrams"] else "against"
    w(f"- An exact vocabulary instead (scikit-learn's: {sk['features']:,} n-grams, {same} the {info['NGrams']:,} distinct"
      f" n-grams the Go trainer counts with df >= {info['MinDF']}, so the two normalise and cut n-grams alike): the n-gram"
      f" strings alone are {sk['vocab_bytes']:,} bytes, {sk['vocab_deflated_bytes']:,} deflated; with their document"
      f" frequencies and int16 weights, deflated as the Go file is, {sk['exact_file_bytes']:,} bytes"
      f" ({sk['exact_file_bytes'] / res['model_bytes']:.1f} times the hashed file), and scoring would look every n-gram"
      f" up in a string map." + (" What hashing costs in accuracy: the table below (at 22 bits almost no two"
                                 " n-grams share a bucket)." if "sweep" in res else ""))
    if "sweep" in res:
        w("")
        w(f"Hash size at C = {info['C']:g} (the same split; retrained for each):")
        w("")
        w("| bits | buckets with a feature | file bytes | accuracy (95% CI) | macro F1 |")
        w("| ---: | ---: | ---: | --- | ---: |")
        for s in res["sweep"]:
            w(f"| {s['bits']} | {s['features']:,} | {s['bytes']:,} | {s['accuracy']:.4f} ({s['ci95'][0]:.4f}-{s['ci95'][1]:.4f}) | {s['macro_f1']:.4f} |")
    w("")
    w("## Speed")
    w("")
    if "bench" in res:
        b = res["bench"]
        w(f"`go test -run '^$' -bench 'BenchmarkNegative$' -benchmem -benchtime 2s -count 5 -cpu 1 ./sentiment/`:"
          f" `(*Model).Negative` over the {len(split['test']):,} held-out test reviews in turn (the corpus's mean is 58 characters):"
          f" **{min(b['ns_per_op']) / 1e3:.1f} µs per review** (best of 5; median {np.median(b['ns_per_op']) / 1e3:.1f} µs;"
          f" CPU time {np.median(b['cpu_ns_per_op']) / 1e3:.1f} µs), {b['allocs_per_op']:.0f} allocations"
          f" ({b['bytes_per_op']:.0f} B) per review, one goroutine: about {1e9 / min(b['ns_per_op']) / 1e3:.0f}k reviews/s"
          f" per core. This machine: 2 cores shared with other jobs (load average"
          f" {b['load_avg'][0]:.1f} at the end), so the wall figures are noisy; the CPU time is the steadier one.")
    if "retrain" in res:
        r = res["retrain"]
        w("")
        w(f"Training (`segstream sentiment train`, {r['workers']} workers, the C search included): {r['fit_s']:.0f} s of"
          f" fitting, {r['wall_s']:.0f} s in all (load average {r['load_avg'][0]:.1f}). Retrained, the model file is"
          f" {'byte for byte the committed one' if r['identical'] else 'NOT the committed one'}.")
    w("")
    v = res["versions"]
    w(f"Versions: {v['go']}, Python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, scikit-learn {v['sklearn']}.")
    w("")
    with open(a.out, "w") as f:
        f.write("\n".join(L))
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
