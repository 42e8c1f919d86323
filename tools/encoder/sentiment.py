#!/usr/bin/env python3
"""Review sentiment on the Chinese online-shopping corpus: sentence embeddings from
segstream's own encoder (`segstream encode`, the Go path the service runs) plus
logistic regression, against a character n-gram TF-IDF + logistic regression
baseline, on one seeded, stratified held-out split. Writes docs/sentiment/REPORT.md,
results.json and the plots. Run it through tools/encoder/sentiment.sh.

  sentiment.py --data CSV.GZ --bin SEGSTREAM --out DIR --cache DIR
               [--train 16000] [--test 4000] [--seed 14] [--models a,b,c]
"""
import argparse
import csv
import gzip
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn 1.9's notices about 1.10 defaults

CATS = {"书籍": "books", "平板": "tablets", "手机": "phones", "水果": "fruit", "洗发水": "shampoo",
        "热水器": "water heaters", "蒙牛": "Mengniu (dairy)", "衣服": "clothes", "计算机": "computers",
        "酒店": "hotels"}
LABELS = {0: "negative", 1: "positive"}
DEFAULT_MODELS = "bge-small-zh-v15,bge-small-zh-v15-q,use-lite"
NAMES = {
    "tfidf": "char 1-3-gram TF-IDF + LR",
    "tfidf+bge-small-zh-v15": "TF-IDF and bge-small-zh-v1.5 together + LR",
    "bge-small-zh-v15": "bge-small-zh-v1.5 + LR",
    "bge-small-zh-v15-q": "bge-small-zh-v1.5 int8 + LR",
    "use-lite": "USE-lite + LR",
    "all-minilm-l6-v2": "all-MiniLM-L6-v2 + LR",
    "all-minilm-l6-v2-q": "all-MiniLM-L6-v2 int8 + LR",
}


def load(path):
    rows = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        for cat, label, review in r:
            # one text per line for `segstream encode`; the BOM of the first review goes too
            t = " ".join(review.replace("\ufeff", "").split())
            if t:
                rows.append((cat, int(label), t))
    return rows


def dedupe(rows):
    """Exact duplicates would sit on both sides of the split; texts with both labels are dropped."""
    seen = {}
    for cat, label, t in rows:
        seen.setdefault(t, []).append((cat, label))
    out, conflicting = [], 0
    for t, v in seen.items():
        if len({lab for _, lab in v}) > 1:
            conflicting += 1
            continue
        out.append((v[0][0], v[0][1], t))
    return out, len(rows) - len(seen), conflicting


def split(rows, n_train, n_test, seed):
    from sklearn.model_selection import train_test_split
    strata = [f"{c}|{l}" for c, l, _ in rows]
    idx = np.arange(len(rows))
    if n_train + n_test < len(rows):
        idx, _ = train_test_split(idx, train_size=n_train + n_test, stratify=strata, random_state=seed)
        strata = [strata[i] for i in idx]
    tr, te = train_test_split(idx, test_size=n_test, stratify=strata, random_state=seed + 1)
    return sorted(tr), sorted(te)


def embed(bin_path, model, texts, cache):
    """Embeddings of texts by `segstream encode --model MODEL`, cached by text and model."""
    spec = json.load(open(os.path.join("var/models", model, "spec.json")))
    key = hashlib.sha256(("\n".join(texts) + "\0" + spec["model_version"]).encode()).hexdigest()[:16]
    npy = os.path.join(cache, f"{model}-{key}.npy")
    meta = npy + ".json"
    if os.path.exists(npy) and os.path.exists(meta):
        return np.load(npy), json.load(open(meta))
    os.makedirs(cache, exist_ok=True)
    inp = os.path.join(cache, "texts.txt")
    with open(inp, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t + "\n")
    out = os.path.join(cache, f"{model}.jsonl")
    load0 = os.getloadavg()
    t0 = time.time()
    with open(inp, "rb") as fi, open(out, "wb") as fo:
        subprocess.run([bin_path, "encode", "--model", model], stdin=fi, stdout=fo, check=True)
    wall = time.time() - t0
    vecs = []
    with open(out, encoding="utf-8") as f:
        for line in f:
            vecs.append(json.loads(line))
    X = np.asarray(vecs, dtype=np.float32)
    if X.shape[0] != len(texts):
        sys.exit(f"{model}: {X.shape[0]} embeddings for {len(texts)} texts")
    info = {"model_version": spec["model_version"], "dim": int(X.shape[1]), "texts": len(texts),
            "wall_s": round(wall, 1), "texts_per_s": round(len(texts) / wall, 1),
            "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in os.getloadavg()],
            "max_tokens": spec["max_tokens"], "max_batch": spec.get("max_batch", 64)}
    np.save(npy, X)
    json.dump(info, open(meta, "w"))
    os.remove(out)
    print(f"{model}: {len(texts)} texts in {wall:.0f} s ({info['texts_per_s']} texts/s)", file=sys.stderr)
    return X, info


def fit_lr(Xtr, ytr, sparse, seed):
    from sklearn.linear_model import LogisticRegressionCV
    if sparse:
        clf = LogisticRegressionCV(Cs=[1, 3, 10, 30], cv=5, solver="liblinear", max_iter=2000,
                                   scoring="accuracy", random_state=seed)
    else:
        clf = LogisticRegressionCV(Cs=[0.1, 1, 10, 100], cv=5, solver="lbfgs", max_iter=5000,
                                   scoring="accuracy", random_state=seed)
    clf.fit(Xtr, ytr)
    return clf


def metrics(y, p, cats):
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
    pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=[0, 1], zero_division=0)
    rng = np.random.default_rng(0)
    n = len(y)
    boots = [accuracy_score(y[i], p[i]) for i in (rng.integers(0, n, n) for _ in range(1000))]
    per_cat = {}
    for c in sorted(set(cats)):
        m = cats == c
        per_cat[c] = float(accuracy_score(y[m], p[m]))
    return {
        "accuracy": float(accuracy_score(y, p)),
        "accuracy_ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
        "macro_f1": float(np.mean(f1)),
        "per_class": {LABELS[k]: {"precision": float(pr[k]), "recall": float(rc[k]), "f1": float(f1[k]),
                                  "support": int(sup[k])} for k in (0, 1)},
        "per_category_accuracy": per_cat,
        "confusion": confusion_matrix(y, p, labels=[0, 1]).tolist(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--train", type=int, default=16000)
    ap.add_argument("--test", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--command", default="tools/encoder/sentiment.sh")
    a = ap.parse_args()

    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer

    raw = load(a.data)
    rows, dups, conflicting = dedupe(raw)
    tr, te = split(rows, a.train, a.test, a.seed)
    texts = [rows[i][2] for i in tr] + [rows[i][2] for i in te]
    y = np.array([rows[i][1] for i in tr + te])
    cats = np.array([rows[i][0] for i in tr + te])
    ytr, yte = y[:len(tr)], y[len(tr):]
    ctr, cte = cats[:len(tr)], cats[len(tr):]
    print(f"{len(raw)} reviews, {len(rows)} after dedupe; train {len(tr)}, test {len(te)}", file=sys.stderr)

    results, speed, curves, preds = {}, {}, {}, {}
    emb_bge = None
    sizes = [s for s in (500, 1000, 2000, 4000, 8000, 16000) if s <= len(tr)]
    rng = np.random.default_rng(a.seed)
    order = rng.permutation(len(tr))  # nested training subsets for the learning curves

    # the baseline
    t0 = time.time()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    Xtr = vec.fit_transform(texts[:len(tr)])
    Xte = vec.transform(texts[len(tr):])
    clf = fit_lr(Xtr, ytr, True, a.seed)
    preds["tfidf"] = clf.predict(Xte)
    results["tfidf"] = metrics(yte, preds["tfidf"], cte)
    results["tfidf"]["C"] = float(clf.C_[0])
    results["tfidf"]["features"] = int(Xtr.shape[1])
    results["tfidf"]["fit_s"] = round(time.time() - t0, 1)
    curves["tfidf"] = []
    for s in sizes:
        sub = order[:s]
        v = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
        Xs = v.fit_transform([texts[i] for i in sub])
        c = fit_lr(Xs, ytr[sub], True, a.seed)
        curves["tfidf"].append(float((c.predict(v.transform(texts[len(tr):])) == yte).mean()))
    print(f"tfidf: accuracy {results['tfidf']['accuracy']:.4f}", file=sys.stderr)

    for model in a.models.split(","):
        X, info = embed(a.bin, model, texts, a.cache)
        speed[model] = info
        t0 = time.time()
        clf = fit_lr(X[:len(tr)], ytr, False, a.seed)
        preds[model] = clf.predict(X[len(tr):])
        results[model] = metrics(yte, preds[model], cte)
        results[model]["C"] = float(clf.C_[0])
        results[model]["fit_s"] = round(time.time() - t0, 1)
        curves[model] = []
        for s in sizes:
            sub = order[:s]
            c = fit_lr(X[sub], ytr[sub], False, a.seed)
            curves[model].append(float((c.predict(X[len(tr):]) == yte).mean()))
        print(f"{model}: accuracy {results[model]['accuracy']:.4f}", file=sys.stderr)
        if model == "bge-small-zh-v15":
            emb_bge = X

    if emb_bge is not None:
        # both feature sets side by side: do the embeddings add to the n-grams?
        from scipy.sparse import csr_matrix, hstack
        t0 = time.time()
        Ztr = hstack([Xtr, csr_matrix(emb_bge[:len(tr)])]).tocsr()
        Zte = hstack([Xte, csr_matrix(emb_bge[len(tr):])]).tocsr()
        clf = fit_lr(Ztr, ytr, True, a.seed)
        key = "tfidf+bge-small-zh-v15"
        preds[key] = clf.predict(Zte)
        results[key] = metrics(yte, preds[key], cte)
        results[key]["C"] = float(clf.C_[0])
        results[key]["fit_s"] = round(time.time() - t0, 1)
        curves[key] = []
        for s in sizes:
            sub = order[:s]
            v = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
            Zs = hstack([v.fit_transform([texts[i] for i in sub]), csr_matrix(emb_bge[sub])]).tocsr()
            Zt = hstack([v.transform(texts[len(tr):]), csr_matrix(emb_bge[len(tr):])]).tocsr()
            c = fit_lr(Zs, ytr[sub], True, a.seed)
            curves[key].append(float((c.predict(Zt) == yte).mean()))
        print(f"{key}: accuracy {results[key]['accuracy']:.4f}", file=sys.stderr)

    # paired comparisons on the same test reviews: McNemar's exact test on the discordant pairs
    from scipy.stats import binomtest
    paired = []
    for x, y2 in (("bge-small-zh-v15", "tfidf"), ("bge-small-zh-v15-q", "bge-small-zh-v15"),
                  ("tfidf+bge-small-zh-v15", "tfidf"), ("use-lite", "bge-small-zh-v15")):
        if x in preds and y2 in preds:
            a_ok, b_ok = preds[x] == yte, preds[y2] == yte
            n01, n10 = int((~a_ok & b_ok).sum()), int((a_ok & ~b_ok).sum())
            p = binomtest(n10, n01 + n10, 0.5).pvalue if n01 + n10 else 1.0
            paired.append({"a": x, "b": y2, "a_right_b_wrong": n10, "a_wrong_b_right": n01,
                           "accuracy_diff": float(a_ok.mean() - b_ok.mean()), "mcnemar_p": float(p)})

    os.makedirs(a.out, exist_ok=True)
    doc = {"paired": paired,"command": a.command, "data": os.path.basename(a.data), "reviews": len(raw), "after_dedupe": len(rows),
           "duplicates": dups, "conflicting_labels": conflicting, "train": len(tr), "test": len(te), "seed": a.seed,
           "train_balance": {LABELS[k]: int((ytr == k).sum()) for k in (0, 1)},
           "test_balance": {LABELS[k]: int((yte == k).sum()) for k in (0, 1)},
           "test_per_category": {c: int((cte == c).sum()) for c in sorted(set(cte))},
           "results": results, "encoding": speed, "learning_curve": {"sizes": sizes, "accuracy": curves},
           "versions": {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__},
           "machine": f"{os.cpu_count()} cores"}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
    plots(doc, a.out)
    report(doc, a.out)


def plots(doc, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res = doc["results"]
    methods = list(res)
    names = [NAMES.get(m, m) for m in methods]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    fig, ax = plt.subplots(figsize=(8, 3.6))
    acc = [res[m]["accuracy"] for m in methods]
    err = [[res[m]["accuracy"] - res[m]["accuracy_ci95"][0] for m in methods],
           [res[m]["accuracy_ci95"][1] - res[m]["accuracy"] for m in methods]]
    f1 = [res[m]["macro_f1"] for m in methods]
    x = np.arange(len(methods))
    ax.bar(x - 0.2, acc, 0.4, yerr=err, capsize=3, label="accuracy (95% bootstrap CI)", color=colors[0])
    ax.bar(x + 0.2, f1, 0.4, label="macro F1", color=colors[1])
    for i, v in enumerate(acc):
        ax.text(i - 0.2, v + 0.005, f"{v:.3f}", ha="center", fontsize=8)
    ax.set_xticks(x, names, rotation=12, fontsize=8)
    lo = min(min(acc), min(f1))
    ax.set_ylim(max(0, lo - 0.08), 1.0)
    ax.set_title(f"Held-out review sentiment ({doc['test']} test reviews, {doc['train']} training)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy.png"), dpi=110)
    plt.close(fig)

    cats = sorted(doc["test_per_category"], key=lambda c: CATS.get(c, c))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    w = 0.8 / len(methods)
    for k, m in enumerate(methods):
        ax.bar(np.arange(len(cats)) + (k - (len(methods) - 1) / 2) * w,
               [res[m]["per_category_accuracy"][c] for c in cats], w, label=NAMES.get(m, m), color=colors[k % len(colors)])
    ax.set_xticks(np.arange(len(cats)), [f"{CATS.get(c, c)}\n(n={doc['test_per_category'][c]})" for c in cats], fontsize=7)
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy by product category (test set)")
    ax.legend(fontsize=7, ncol=3, loc="lower left")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "per_category.png"), dpi=110)
    plt.close(fig)

    lc = doc["learning_curve"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for k, m in enumerate(methods):
        ax.plot(lc["sizes"], lc["accuracy"][m], marker="o", label=NAMES.get(m, m), color=colors[k % len(colors)])
    ax.set_xscale("log")
    ax.set_xticks(lc["sizes"], [str(s) for s in lc["sizes"]])
    ax.set_xlabel("training reviews")
    ax.set_ylabel("test accuracy")
    ax.set_title("Learning curve (same test set)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "learning_curve.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(methods), figsize=(2.4 * len(methods), 2.6))
    for ax, m in zip(np.atleast_1d(axes), methods):
        cm = np.array(res[m]["confusion"])
        ax.imshow(cm, cmap="Blues")
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_xticks([0, 1], ["neg", "pos"])
        ax.set_yticks([0, 1], ["neg", "pos"])
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_title(NAMES.get(m, m).replace(" + LR", ""), fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("true", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "confusion.png"), dpi=110)
    plt.close(fig)


def report(doc, out):
    res = doc["results"]
    L = []
    w = L.append
    w("# Review sentiment on the Chinese shopping corpus: encoder embeddings against TF-IDF")
    w("")
    w("Regenerate (after `tools/encoder/setup.sh`; makes `var/venv-encoder`, builds `segstream`; 18 minutes")
    w("on 2 shared cores the first time, 4 once the embeddings are cached in `var/sentiment/`):")
    w("")
    w("```")
    w(doc["command"])
    w("```")
    w("")
    w("Written by `tools/encoder/sentiment.py` from `results.json` (every number below is in it).")
    w("")
    w("## Set-up")
    w("")
    w(f"- Data: `{doc['data']}` (ChineseNlpCorpus online_shopping_10_cats: `cat,label,review`, label 1 positive, "
      f"0 negative), {doc['reviews']:,} non-empty reviews; whitespace collapsed to single spaces (one text per "
      f"line for `segstream encode`), the first review's BOM dropped. Exact duplicates removed "
      f"({doc['duplicates']:,} repeats; {doc['conflicting_labels']} texts that carry both labels dropped): "
      f"{doc['after_dedupe']:,} reviews.")
    w(f"- Split: seeded (seed {doc['seed']}) and stratified by category x label with scikit-learn's "
      f"`train_test_split`: a subsample of {doc['train'] + doc['test']:,} reviews, then {doc['train']:,} training "
      f"and {doc['test']:,} test reviews. Every method sees exactly these reviews. Subsampled, not the whole "
      f"corpus, to keep the run within about 20 minutes on this shared 2-core machine (the float bge model encodes about "
      f"{doc['encoding'].get('bge-small-zh-v15', {}).get('texts_per_s', 0):.0f} reviews/s here; the corpus would "
      f"take about {doc['after_dedupe'] / max(1, doc['encoding'].get('bge-small-zh-v15', {}).get('texts_per_s', 1)) / 60:.0f} minutes for it alone).")
    w(f"- Test set: {doc['test_balance']['negative']:,} negative, {doc['test_balance']['positive']:,} positive; by category: "
      + ", ".join(f"{CATS.get(c, c)} {n}" for c, n in sorted(doc['test_per_category'].items(), key=lambda x: CATS.get(x[0], x[0]))) + ".")
    w("- Embeddings: computed by segstream's own Go encoder, `segstream encode --model NAME` (the `encoder.Encode` "
      "path the service runs: the tokenizer port, the dynamic batcher, ONNX Runtime 1.24.3 on the CPU, the "
      "model's pooling and L2), one vector per review; the models of `tools/encoder/setup.sh`.")
    w("- Classifier: scikit-learn `LogisticRegressionCV`, C chosen by 5-fold cross-validated accuracy on the "
      "training set only (embeddings: C in {0.1, 1, 10, 100}, lbfgs; TF-IDF: C in {1, 3, 10, 30}, liblinear).")
    w("- Baseline: character 1- to 3-gram TF-IDF (sublinear tf, min_df 2, fitted on the training set), the same "
      "logistic regression.")
    w("")
    w("## Results")
    w("")
    w("| method | accuracy (95% CI) | macro F1 | neg precision | neg recall | neg F1 | pos precision | pos recall | pos F1 | C |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m, r in res.items():
        n, p = r["per_class"]["negative"], r["per_class"]["positive"]
        w(f"| {NAMES.get(m, m)} | {r['accuracy']:.4f} ({r['accuracy_ci95'][0]:.3f}-{r['accuracy_ci95'][1]:.3f}) | "
          f"{r['macro_f1']:.4f} | {n['precision']:.4f} | {n['recall']:.4f} | {n['f1']:.4f} | {p['precision']:.4f} | "
          f"{p['recall']:.4f} | {p['f1']:.4f} | {r['C']:g} |")
    w("")
    if "bge-small-zh-v15" in res and "bge-small-zh-v15-q" in res:
        d = res["bge-small-zh-v15-q"]["accuracy"] - res["bge-small-zh-v15"]["accuracy"]
        df = res["bge-small-zh-v15-q"]["macro_f1"] - res["bge-small-zh-v15"]["macro_f1"]
        w(f"int8 against float bge-small-zh-v1.5: accuracy {d:+.4f}, macro F1 {df:+.4f} "
          f"({abs(d) * doc['test']:.0f} of {doc['test']:,} test reviews).")
        w("")
    if doc.get("paired"):
        w("Paired on the same test reviews (McNemar's exact test on the reviews where the two disagree):")
        w("")
        w("| A | B | A right, B wrong | A wrong, B right | accuracy A - B | p |")
        w("| --- | --- | ---: | ---: | ---: | ---: |")
        for q in doc["paired"]:
            w(f"| {NAMES.get(q['a'], q['a'])} | {NAMES.get(q['b'], q['b'])} | {q['a_right_b_wrong']} | "
              f"{q['a_wrong_b_right']} | {q['accuracy_diff']:+.4f} | {q['mcnemar_p']:.2g} |")
        w("")
    w("![accuracy](accuracy.png)")
    w("")
    w("![per category](per_category.png)")
    w("")
    w("![learning curve](learning_curve.png)")
    w("")
    w("![confusion matrices](confusion.png)")
    w("")
    w("Accuracy by category (test set):")
    w("")
    cats = sorted(doc["test_per_category"], key=lambda c: CATS.get(c, c))
    w("| method | " + " | ".join(f"{CATS.get(c, c)} ({doc['test_per_category'][c]})" for c in cats) + " |")
    w("| --- | " + " | ".join("---:" for _ in cats) + " |")
    for m, r in res.items():
        w(f"| {NAMES.get(m, m)} | " + " | ".join(f"{r['per_category_accuracy'][c]:.3f}" for c in cats) + " |")
    w("")
    w("Learning curve (test accuracy by number of training reviews, nested random subsets of the training set):")
    w("")
    lc = doc["learning_curve"]
    w("| method | " + " | ".join(str(s) for s in lc["sizes"]) + " |")
    w("| --- | " + " | ".join("---:" for _ in lc["sizes"]) + " |")
    for m, v in lc["accuracy"].items():
        w(f"| {NAMES.get(m, m)} | " + " | ".join(f"{x:.3f}" for x in v) + " |")
    w("")
    w("## Encoding in this run")
    w("")
    w("| model | model_version | dim | max tokens | max batch | texts | wall s | texts/s | load avg before / after |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for m, i in doc["encoding"].items():
        w(f"| {m} | `{i['model_version']}` | {i['dim']} | {i['max_tokens']} | {i['max_batch']} | {i['texts']:,} | "
          f"{i['wall_s']} | {i['texts_per_s']} | {i['load_before'][0]} / {i['load_after'][0]} |")
    w("")
    w(f"Whole `segstream encode` runs (model load included) on {doc['machine']} shared with other jobs (the load "
      "average says how shared); see docs/encoder.md for the controlled benchmarks.")
    w("")
    w(f"Versions: Python {doc['versions']['python']}, numpy {doc['versions']['numpy']}, scikit-learn "
      f"{doc['versions']['scikit-learn']} (tools/encoder/requirements.txt).")
    w("")
    w("## Reading")
    w("")
    w(READING)
    with open(os.path.join(out, "REPORT.md"), "w") as f:
        f.write("\n".join(L) + "\n")


READING = """- With the whole training set (16,000 reviews) the character n-gram TF-IDF baseline is the best
  single method: accuracy 0.9285 against 0.9125 for bge-small-zh-v1.5 embeddings + logistic
  regression, a gap of 1.6 points (McNemar's test on the paired test reviews: bge right where TF-IDF is wrong on 98, the
  reverse on 162, p 8.7e-05).
  Frozen sentence embeddings are a general-purpose summary of a review;
  thousands of in-domain labels let the n-gram model learn the corpus's own cue words.
- With few labels the embeddings win: at 500 training reviews bge + LR reaches 0.890 and TF-IDF
  0.862; the curves cross between 1,000 and 2,000 reviews. For the service, where labelled reviews
  per segment are few, that is the regime that matters.
- Both together (TF-IDF and the bge vector side by side in one logistic regression) are as good as
  TF-IDF with the full training set (0.9275, p 0.80 against TF-IDF) and better than either alone with 500 to 4,000 reviews
  (0.904 at 500).
- The int8 model changes accuracy by -0.0005 (2 of 4,000 test reviews) and macro F1 by -0.0005: no
  measurable loss (the two disagree on 42 reviews, 20 one way and 22 the other, p 0.88), at 4.4 times the encoding speed in this run (159 against 36 reviews/s; it runs
  one text per batch, see docs/encoder.md).
- USE-lite, the English default, is near chance on Chinese (0.60): its vocabulary has no Chinese
  pieces, so a Chinese review is mostly one unknown token per run of Chinese characters. Chinese
  reviews need the Chinese model: `encoder.Router` sends them there (docs/encoder.md).
- Per category the ranking is the same almost everywhere; bge is ahead on phones (0.953 against
  0.913, 149 test reviews) and behind most on books (0.825 against 0.882) and fruit (0.900 against
  0.945). The water-heater class has 36 test reviews: its figures are noisy."""


if __name__ == "__main__":
    main()
