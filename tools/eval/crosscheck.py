#!/usr/bin/env python3
"""Independent cross-check of the classifier experiments (issue 4) in scikit-learn.

Re-implements the point-in-time protocol on the raw Online Retail files (not
with segstream's fold) and prints validation figures for model and feature
ideas the Go experiments did not cover. Every figure it prints is on a
training or validation cutoff (<= 2011-03-01) except the two RFM baseline
rows marked "test", which only reproduce the issue's reference baseline.

Needs Debian's python3-sklearn and python3-pandas:
    apt-get install -y python3-sklearn python3-pandas
    /usr/bin/python3 tools/eval/crosscheck.py          # about a minute
Results and their reading: docs/eval/EXPERIMENTS.md ("Cross-check").
"""
import os
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
DATA = os.environ.get("SEGSTREAM_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))
EPOCH = pd.Timestamp("1970-01-01")


def load():
    a = pd.read_csv(f"{DATA}/online_retail_II_2009_2010.csv.gz", dtype={"Invoice": str, "StockCode": str})
    b = pd.read_csv(f"{DATA}/online_retail_2010_2011.csv.gz", dtype={"InvoiceNo": str, "StockCode": str}, encoding="latin1")
    b = b.rename(columns={"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"})
    a = a[~a.Invoice.isin(set(b.Invoice))]  # the files overlap in December 2010
    d = pd.concat([a, b]).dropna(subset=["Customer ID"])
    d["ts"] = pd.to_datetime(d.InvoiceDate)
    d["cust"] = d["Customer ID"].astype(int)
    d["day"] = (d.ts.dt.normalize() - EPOCH).dt.days
    d["amt"] = d.Quantity * d.Price
    lines = d[~d.Invoice.str.startswith("C") & (d.Quantity > 0) & (d.Price > 0)]
    pur = lines.groupby(["cust", "day"]).agg(spend=("amt", "sum")).reset_index()
    return lines, pur


LINES, PUR = load()


def dnum(s):
    return (pd.Timestamp(s) - EPOCH).days


def build(cut):
    """Per-customer history before cut and the labels of the 90 days from cut."""
    c = dnum(cut)
    h, f = PUR[PUR.day < c], PUR[(PUR.day >= c) & (PUR.day < c + 90)]
    g = h.groupby("cust")
    X = pd.DataFrame(index=g.size().index)
    X["rec"], X["T"], X["freq"], X["mon"] = c - g.day.max(), c - g.day.min(), g.size(), g.spend.sum()
    for w in (30, 90, 180, 365):
        hw = h[h.day >= c - w].groupby("cust")
        X[f"pd{w}"], X[f"sp{w}"] = hw.size(), hw.spend.sum()
    hw = h[(h.day >= c - 180) & (h.day < c - 90)].groupby("cust")
    X["pdprev"], X["spprev"] = hw.size(), hw.spend.sum()
    hw = h[(h.day >= c - 365) & (h.day < c - 275)].groupby("cust")  # the label window a year earlier
    X["pdly"], X["sply"] = hw.size(), hw.spend.sum()
    X = X.fillna(0)
    gm, gl = {}, {}
    for cu, days in g.day:
        dd = np.sort(days.values)
        if len(dd) > 1:
            gm[cu], gl[cu] = np.diff(dd).mean(), np.diff(dd)[-1]
    X["gapmean"], X["lastgap"] = pd.Series(gm).reindex(X.index), pd.Series(gl).reindex(X.index)
    fs = f.groupby("cust").spend.sum().reindex(X.index).fillna(0)
    churn = (fs == 0).astype(int)
    thr = np.quantile(fs[fs > 0], 0.8)
    tier = pd.Series(np.where(fs == 0, 0, np.where(fs >= thr, 2, 1)), index=X.index)
    return X, churn, tier


TRAIN = [f"2010-{m:02d}-01" for m in range(3, 13)]
VAL, TEST = "2011-03-01", "2011-09-01"
D = {c: build(c) for c in TRAIN + ["2011-01-01", "2011-02-01", VAL, TEST]}


def lg(x):
    return np.log1p(np.maximum(x, 0))


def rfm(X, raw=False):
    cols = ["rec", "freq", "mon"]
    return pd.DataFrame({k: (X[k] if raw else lg(X[k])) for k in cols})


def base(X):
    F = pd.DataFrame({"lrec": lg(X.rec), "lT": lg(X["T"]), "lfreq": lg(X.freq), "lmon": lg(X.mon)})
    F["lrecT"], F["lrecf"] = F.lrec * F.lT, F.lrec * F.lfreq
    for w in (30, 90, 180, 365):
        F[f"lpd{w}"], F[f"lsp{w}"] = lg(X[f"pd{w}"]), lg(X[f"sp{w}"])
    F["lpdprev"], F["lspprev"] = lg(X.pdprev), lg(X.spprev)
    F["lgap"], F["llastgap"] = lg(X.gapmean.fillna(X["T"])), lg(X.lastgap.fillna(X["T"]))
    F["overdue"], F["aov"] = lg(X.rec / X.gapmean.fillna(1e9)), lg(X.mon / X.freq)
    return F


def with_last_year(X):
    F = base(X)
    obs = (X["T"] > 275).astype(float)
    F["ly_obs"], F["lpdly"], F["lsply"] = obs, lg(X.pdly), lg(X.sply)
    F["ly_obs_none"], F["ly_x_rec"] = obs * (X.pdly == 0), lg(X.pdly) * F.lrec
    return F


def season(ext):
    """Purchase days whose day of year falls in the label window (+ext days) of any earlier year."""
    def f(X, cut):
        c = dnum(cut)
        h = PUR[PUR.day < c - 90]
        hw = h[((h.day - c) % 365) < 90 + ext].groupby("cust")
        F = base(X)
        F["lps"] = lg(hw.size().reindex(X.index).fillna(0))
        F["lss"] = lg(hw.spend.sum().reindex(X.index).fillna(0))
        F["ps_x_rec"] = F.lps * F.lrec
        return F
    return f


_extra = {}


def with_lines(X, cut):
    if cut not in _extra:
        h = LINES[LINES.day < dnum(cut)]
        g = h.groupby("cust")
        _extra[cut] = pd.DataFrame({"nprod": g.StockCode.nunique(), "lines": g.size(), "units": g.Quantity.sum(),
                                    "uk": g.Country.agg(lambda s: (s == "United Kingdom").mean()), "price": g.Price.median()})
    E = _extra[cut].reindex(X.index)
    F = base(X)
    F["lnprod"], F["lines_per_day"], F["uk"] = lg(E.nprod), lg(E.lines / X.freq), E.uk
    F["lunits_per_day"], F["lprice"] = lg(E.units / X.freq), lg(E.price)
    return F


def feats(fn, cut):
    try:
        return fn(D[cut][0], cut)
    except TypeError:
        return fn(D[cut][0])


def churn_auc(fn, cuts, val, model="lr", C=1.0, rank=False):
    def f(c):
        F = feats(fn, c)
        return F.rank(pct=True) if rank else F
    Xtr, ytr = pd.concat([f(c) for c in cuts]), pd.concat([D[c][1] for c in cuts])
    Xv, yv = f(val), D[val][1]
    if model == "lr":
        sc = StandardScaler().fit(Xtr)
        p = LogisticRegression(C=C, max_iter=3000).fit(sc.transform(Xtr), ytr).predict_proba(sc.transform(Xv))[:, 1]
    else:
        p = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_depth=3, random_state=0).fit(Xtr, ytr).predict_proba(Xv)[:, 1]
    return roc_auc_score(yv, p)


def tune_offsets(P, y):
    L, best = np.log(P + 1e-12), (-1.0, (0.0, 0.0))
    for a in np.arange(-1.5, 1.51, 0.1):
        for b in np.arange(-1.5, 1.51, 0.1):
            f = f1_score(y, np.argmax(L + np.array([0, a, b]), 1), average="macro")
            if f > best[0]:
                best = (f, (a, b))
    return best


def macro_f1(P, y, off):
    return f1_score(y, np.argmax(np.log(P + 1e-12) + np.array([0, off[0], off[1]]), 1), average="macro")


def value_variants(cuts, val):
    Xtr, ytr = pd.concat([base(D[c][0]) for c in cuts]), pd.concat([D[c][2] for c in cuts])
    Xv, yv = base(D[val][0]), D[val][2].values
    sc = StandardScaler().fit(Xtr)
    out = {}
    for cw in (None, "balanced"):
        m = LogisticRegression(max_iter=3000, class_weight=cw).fit(sc.transform(Xtr), ytr)
        out[f"softmax, class weights {cw or 'none'}"] = tune_offsets(m.predict_proba(sc.transform(Xv)), yv)[0]
    b = LogisticRegression(max_iter=3000).fit(sc.transform(Xtr), (ytr > 0).astype(int))
    mask = (ytr > 0).values
    hh = LogisticRegression(max_iter=3000).fit(sc.transform(Xtr[mask]), (ytr[mask] == 2).astype(int))
    pb, ph = b.predict_proba(sc.transform(Xv))[:, 1], hh.predict_proba(sc.transform(Xv))[:, 1]
    out["two-stage: P(buy) × P(high given buy)"] = tune_offsets(np.stack([1 - pb, pb * (1 - ph), pb * ph], 1), yv)[0]
    g = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_depth=3, random_state=0).fit(Xtr, ytr)
    out["gradient boosting depth 3"] = tune_offsets(g.predict_proba(Xv), yv)[0]
    return out


def prior_shift(train, tune_on, score_on):
    """Value offsets tuned on one cutoff and applied to another, plain and after EM prior adaptation
    (Saerens et al. 2002), against offsets tuned on the scored cutoff itself (an oracle)."""
    Xtr, ytr = pd.concat([base(D[c][0]) for c in train]), pd.concat([D[c][2] for c in train])
    sc = StandardScaler().fit(Xtr)
    m = LogisticRegression(max_iter=3000, C=0.01).fit(sc.transform(Xtr), ytr)
    Pv, yv = m.predict_proba(sc.transform(base(D[tune_on][0]))), D[tune_on][2].values
    Pt, yt = m.predict_proba(sc.transform(base(D[score_on][0]))), D[score_on][2].values
    p0 = np.bincount(ytr) / len(ytr)

    def em(P):
        pri = p0.copy()
        for _ in range(200):
            Q = P * (pri / p0)
            Q /= Q.sum(1, keepdims=True)
            if np.abs(Q.mean(0) - pri).max() < 1e-7:
                break
            pri = Q.mean(0)
        return Q

    off = tune_offsets(Pv, yv)[1]
    off_em = tune_offsets(em(Pv), yv)[1]
    return (np.mean(yv == 0), np.mean(yt == 0), macro_f1(Pt, yt, off), macro_f1(Pt, yt, (0.0, 0.0)), macro_f1(em(Pt), yt, off_em),
            tune_offsets(Pt, yt)[0])


def row(name, *vals):
    print(f"| {name} | " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in vals) + " |")


def main():
    print(f"# Cross-check (scikit-learn), data {DATA}\n")
    print("## Churn ROC AUC on the validation cutoff 2011-03-01 (training cutoffs 2010-03-01..2010-12-01)\n")
    print("| features | logistic regression C=1 | C=0.01 | gradient boosting |\n|---|---|---|---|")
    for name, fn in [("RFM, log", lambda X: rfm(X)), ("RFM, raw", lambda X: rfm(X, True)), ("base (24 history features)", base),
                     ("base + label window a year earlier", with_last_year), ("base + same season, any earlier year", season(0)),
                     ("base + same season +60 days", season(60)), ("base + line-level (products, lines, units, price, UK)", with_lines)]:
        row(name, churn_auc(fn, TRAIN, VAL), churn_auc(fn, TRAIN, VAL, C=0.01), churn_auc(fn, TRAIN, VAL, "gb"))
    row("base, ranks within each cutoff", churn_auc(base, TRAIN, VAL, rank=True), churn_auc(base, TRAIN, VAL, C=0.01, rank=True), "-")
    row("base, last 3 training cutoffs only", churn_auc(base, TRAIN[-3:], VAL), churn_auc(base, TRAIN[-3:], VAL, C=0.01), "-")
    row("base + last year, training to 2011-02-01 (overlaps validation labels)", churn_auc(with_last_year, TRAIN + ["2011-01-01", "2011-02-01"], VAL), "-",
        churn_auc(with_last_year, TRAIN + ["2011-01-01", "2011-02-01"], VAL, "gb"))

    print("\n## Seasonality checked on an autumn cutoff: validation 2010-09-01 (training 2010-03..06 and 2010-12..2011-03)\n")
    P = TRAIN[:4] + ["2010-12-01", "2011-01-01", "2011-02-01", VAL]
    print("| features | logistic regression | gradient boosting |\n|---|---|---|")
    for name, fn in [("base", base), ("base + same season", season(0)), ("base + same season +30 days", season(30)), ("base + same season +60 days", season(60))]:
        row(name, churn_auc(fn, P, "2010-09-01"), churn_auc(fn, P, "2010-09-01", "gb"))

    print("\n## Value tier macro-F1 on the validation cutoff (offsets tuned on it: optimistic)\n")
    print("| model | macro-F1 |\n|---|---|")
    for k, v in value_variants(TRAIN, VAL).items():
        row(k, v)

    print("\n## Prior shift: value offsets tuned on one cutoff, scored on another\n")
    print("| train | tuned on | scored on | churn rate tuned / scored | offsets tuned | no offsets (argmax) | EM prior-adapted | oracle offsets |\n|---|---|---|---|---|---|---|---|")
    for tr, a, b in [(TRAIN[:4], "2010-12-01", "2010-09-01"), (TRAIN[:7], "2010-12-01", VAL), (TRAIN[:4], "2010-09-01", "2010-12-01"),
                     (TRAIN[:4], "2010-09-01", VAL)]:
        r0, r1, tuned, plain, emf, oracle = prior_shift(tr, a, b)
        row(f"{tr[0]}..{tr[-1]}", a, b, f"{r0:.3f} / {r1:.3f}", tuned, plain, emf, oracle)

    print("\n## The RFM baseline on the test cutoff 2011-09-01 (reproduces the issue's reference; chooses nothing)\n")
    print("| RFM inputs | churn AUC |\n|---|---|")
    row("log", churn_auc(lambda X: rfm(X), TRAIN, TEST))
    row("raw, standardised", churn_auc(lambda X: rfm(X, True), TRAIN, TEST))


if __name__ == "__main__":
    sys.exit(main())
