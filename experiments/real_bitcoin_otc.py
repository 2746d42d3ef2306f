"""The churn pipeline on a real log (Bitcoin OTC ratings) against an RFM-only baseline.

The log (../shared/data/bitcoin-otc, SNAP soc-sign-bitcoin-otc: source, target, rating, epoch
time; no header) has no churn labels, so churn is *inactivity*: a user who rated someone in the
``horizon`` days before a cut-off and rates nobody in the ``horizon`` days after it has left.
For each (as-of, horizon) below, :class:`graphchurn.pipeline.ChurnPipeline` (what
:func:`~graphchurn.pipeline.analyze` runs) is fitted unchanged (no customer table: every user
active before a cut-off is a customer) and its backtest on the latest fully labelled cut-off
is compared with the RFM-only logistic regression that ``analyze`` fits on the same rows
(``metrics["baseline_rfm_logistic"]``).

For the comparison to say more than two numbers, the backtest predictions of both models are
recomputed on the pipeline's own backtest rows (``backtest_fit_``, ``backtest_test_``; same
models, same seeds; the AUC is checked against ``metrics``) and a paired bootstrap over test
users gives a 95% interval of the AUC and PR-AUC differences.

Finally the command line is run once on the same file (``graphchurn analyze --columns
src=0,dst=1,timestamp=3 --churn inactivity ...``) and its exit code, printed lines and files
are recorded.

Run:   nice .venv/bin/python experiments/real_bitcoin_otc.py          (a few minutes)
Writes experiments/results/real_bitcoin_otc.{md,json} (``--out`` another directory).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from _common import library_version  # noqa: E402
from graphchurn import pipeline
from graphchurn.io.atomic import atomic_write_text
from graphchurn.io.readers import load_interactions
from graphchurn.models.metrics import evaluate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bitcoin-otc" / "soc-sign-bitcoinotc.csv.gz"
COLUMNS = "src=0,dst=1,timestamp=3"
RESULTS = Path(__file__).resolve().parent / "results"
# (as-of, horizon days): as-of dates where the log is still busy (2012-2014: 150-600 raters a
# month), with a full activity window behind the oldest labelled cut-off.
SETTINGS = [("2013-01-01", 90), ("2013-07-01", 90), ("2014-01-01", 90),
            ("2013-07-01", 60), ("2014-01-01", 60)]
METRICS = ("roc_auc", "pr_auc", "lift_top_decile", "emp")
# The low-capacity GBM of experiments/ablation.py (shallow trees, large leaves, strong L2).
REGULARISED_GBM = dict(max_leaf_nodes=4, min_samples_leaf=200, l2_regularization=10.0,
                       learning_rate=0.05, max_iter=300)
ANALYZE = "analyze's model"
VARIANTS = {  # name: (use embeddings, churn_model overrides)
    "GBM, all features": (True, {"estimator": "gbm"}),
    "GBM, no embeddings": (False, {"estimator": "gbm"}),
    "regularised GBM, all features": (True, {"estimator": "gbm", **REGULARISED_GBM}),
    "regularised GBM, no embeddings": (False, {"estimator": "gbm", **REGULARISED_GBM}),
    "ensemble, all features": (True, {"estimator": "ensemble"}),
    "logistic, all features": (True, {"estimator": "logistic"}),
    "logistic, no embeddings": (False, {"estimator": "logistic"}),
    # analyze's model with the logistic regression seeing each number also as the normal score
    # of its rank (analyze's default on 2026-12-06 and 07).
    "ensemble, logistic part also on normal scores": (True, {"estimator": "ensemble",
                                                              "normal_scores": True}),
}


def backtest_predictions(pipe: pipeline.ChurnPipeline):
    """Test labels, the RFM baseline's and every variant's backtest probabilities.

    Refitted on the fitted pipeline's own backtest rows (``backtest_fit_``, ``backtest_test_``:
    the tables ``analyze`` built, embeddings included, and the labels it kept) with the same
    model factories, so :data:`ANALYZE` (with the estimator the backtest used,
    ``metrics["estimator"]`` when ``analyze`` chose it) and the baseline give exactly its
    metrics (checked by the caller).
    """
    cfg = pipe.analysis_.config
    X_fit, y_fit, latest = pipe.backtest_fit_
    X_test, y_test = pipe.backtest_test_
    baseline = pipeline.fit_rfm_baseline(cfg, X_fit, y_fit)
    estimator = pipe.backtest_metrics_.get("estimator", cfg.estimator)
    model = pipeline.fit_churn_model(cfg, X_fit, y_fit, latest=latest, estimator=estimator,
                                     importance=None)
    variants = {ANALYZE: model.predict_proba(X_test)[:, 1]}
    for name, (embeddings, overrides) in VARIANTS.items():
        columns = [c for c in X_fit.columns if embeddings or not c.startswith("embedding_")]
        model = pipeline.fit_churn_model(cfg, X_fit[columns], y_fit, latest=latest,
                                         importance=None, **overrides)
        variants[name] = model.predict_proba(X_test[columns])[:, 1]
    return (y_test.to_numpy(dtype=int),
            baseline.predict_proba(X_test[baseline.feature_names_in_])[:, 1], variants)


def _weighted_auc_ap(y: np.ndarray, p: np.ndarray, weights: np.ndarray):
    """ROC-AUC and average precision of scores ``p`` under each row of ``weights`` [B, n].

    A bootstrap resample is a row of multiplicities, so B resamples are scored at once: rows
    are sorted by score once, tied scores form one threshold (as in scikit-learn's
    ``roc_auc_score`` / ``average_precision_score`` with ``sample_weight``).
    """
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order].astype(bool)
    starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])  # one per distinct score
    w = weights[:, order]
    tp = np.add.reduceat(np.where(y_sorted, w, 0.0), starts, axis=1)  # [B, groups], high -> low
    fp = np.add.reduceat(np.where(y_sorted, 0.0, w), starts, axis=1)
    cum_tp, cum_fp = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    pos, neg = cum_tp[:, -1], cum_fp[:, -1]
    # AUC: each positive group beats the negatives below it, and half of its tied negatives.
    below = neg[:, None] - cum_fp
    auc = (tp * (below + 0.5 * fp)).sum(axis=1) / (pos * neg)
    precision = cum_tp / np.maximum(cum_tp + cum_fp, 1e-300)
    ap = (precision * tp).sum(axis=1) / pos
    return auc, ap


def paired_bootstrap(y, p_model, p_base, n_boot: int = 1000, seed: int = 0) -> dict:
    """95% percentile intervals of AUC(model) - AUC(baseline) and of the PR-AUC difference,
    resampling test users with replacement (both models scored on the same resamples)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    positives = weights @ y.astype(np.float64)
    weights = weights[(positives > 0) & (positives < n)]  # both classes present
    auc_m, ap_m = _weighted_auc_ap(y, p_model, weights)
    auc_b, ap_b = _weighted_auc_ap(y, p_base, weights)
    return {k: [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]
            for k, d in (("roc_auc", auc_m - auc_b), ("pr_auc", ap_m - ap_b))}


def run_setting(log: pd.DataFrame, as_of: str, horizon: int, seed: int) -> dict:
    cfg = pipeline.AnalyzeConfig(as_of=pd.Timestamp(as_of), horizon_days=horizon,
                                 definition="inactivity", seed=seed)
    started = time.perf_counter()
    pipe = pipeline.ChurnPipeline(cfg).fit(log, None)
    seconds = time.perf_counter() - started
    analysis = pipe.analysis_
    m = analysis.metrics
    y, p_base, variants = backtest_predictions(pipe)
    p_model = variants[ANALYZE]
    for p, reported in ((p_model, m["roc_auc"]), (p_base, m["baseline_rfm_logistic"]["roc_auc"])):
        if abs(evaluate(y, p)["roc_auc"] - reported) > 1e-9:
            raise RuntimeError("rebuilt backtest differs from analyze's metrics")
    importance = analysis.importance.dropna().sort_values(ascending=False)
    trained_on = pipe.backtest_training_
    # The backtest model's level was matched to its newest training cut-off's churn rate;
    # without that shift its probabilities are the pooled level of all its cut-offs.
    shift = m["level_shift"]["backtest"]
    p_pooled = expit(logit(p_model) - shift)
    return {
        "as_of": as_of, "horizon_days": horizon,
        "test_cutoff": m["cutoff"],
        "training_cutoffs": [m["training_cutoffs"][i] for i in trained_on],
        "n_test": m["n"], "test_churn_rate": m["base_rate"],
        "n_training_rows": int(sum(len(pipe.labelled_[i][1]) for i in trained_on)),
        "n_scored": m["n_scored"], "graph": m["graph"],
        "estimator": m.get("estimator", cfg.estimator),
        "estimator_selection": m.get("estimator_selection"),
        "model": {k: m[k] for k in METRICS + ("emp_fraction",)},
        "baseline_rfm_logistic": {k: m["baseline_rfm_logistic"][k]
                                  for k in METRICS + ("emp_fraction",)},
        "difference_95ci": paired_bootstrap(y, p_model, p_base, seed=seed),
        "level": {"shift": shift,
                  "training_churn_rates": [float(pipe.labelled_[i][1].mean())
                                           for i in trained_on],
                  **{name: {k: scored[k] for k in ("mean_probability", "log_loss")}
                     for name, scored in (("matched", evaluate(y, p_model)),
                                          ("pooled", evaluate(y, p_pooled)))}},
        "variants": {name: {**{k: evaluate(y, p)[k] for k in ("roc_auc", "pr_auc")},
                            "difference_95ci": paired_bootstrap(y, p, p_base, seed=seed)}
                     for name, p in variants.items()},
        "top_features": {k: float(v) for k, v in importance.head(8).items()},
        "seconds": round(seconds, 1),
        "notes": m["notes"],
    }


def run_cli(as_of: str, horizon: int) -> dict:
    """``graphchurn analyze`` on the raw file, as a user would type it."""
    exe = Path(sys.executable).with_name("graphchurn")
    with tempfile.TemporaryDirectory(prefix="btc_cli_") as out:
        command = [str(exe), "analyze", "--interactions", str(DATA), "--columns", COLUMNS,
                   "--churn", "inactivity", "--as-of", as_of, "--horizon", str(horizon),
                   "--out", out]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        files = sorted(p.name for p in Path(out).iterdir() if not p.name.startswith("."))
        metrics = {}
        if (Path(out) / "metrics.json").exists():
            metrics = json.loads((Path(out) / "metrics.json").read_text())
        scores_rows = None
        if (Path(out) / "scores.csv").exists():
            scores_rows = int(len(pd.read_csv(Path(out) / "scores.csv")))
    return {
        "command": " ".join(["graphchurn"] + command[1:-1] + ["<tmpdir>"]),
        "returncode": done.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "stdout": done.stdout.strip().splitlines(),
        "stderr_tail": done.stderr.strip().splitlines()[-5:],
        "files": files,
        "scores_rows": scores_rows,
        "roc_auc": metrics.get("roc_auc"),
    }


def reading(result: dict) -> list[str]:
    """The verdict against the issue's bar ("not worse than the RFM-only baseline")."""
    settings = result["settings"]
    names = [ANALYZE] + list(VARIANTS)

    def delta(r, k):
        return r["variants"][k]["roc_auc"] - r["baseline_rfm_logistic"]["roc_auc"]

    def summary(k):
        d = [delta(r, k) for r in settings]
        worse = sum(r["variants"][k]["difference_95ci"]["roc_auc"][1] < 0 for r in settings)
        return (f"mean Δ AUC {np.mean(d):+.3f}, lower in {sum(x < 0 for x in d)} of {len(d)} "
                f"settings, significantly lower (95% interval below 0) in {worse}")

    emb = np.mean([r["variants"]["GBM, all features"]["roc_auc"]
                   - r["variants"]["GBM, no embeddings"]["roc_auc"] for r in settings])
    emb_logit = np.mean([r["variants"]["logistic, all features"]["roc_auc"]
                         - r["variants"]["logistic, no embeddings"]["roc_auc"] for r in settings])
    best = max(names, key=lambda k: np.mean([delta(r, k) for r in settings]))
    chosen = ", ".join(f"{r['as_of']}/{r['horizon_days']}: {r['estimator']}" for r in settings)
    rows = (min(r["n_training_rows"] for r in settings), max(r["n_training_rows"] for r in settings))
    return [
        "", "## Reading", "",
        f"- **`analyze` against the RFM-only baseline**: {summary(ANALYZE)} (backtest estimator "
        f"per setting: {chosen}).",
        f"- **Capacity**: with {rows[0]}-{rows[1]} training rows, boosting alone (the "
        f"pipeline's 4-leaf trees, leaves >= 0.5% of the rows): {summary('GBM, all features')}. "
        f"A still lower-capacity GBM (leaves >= 200 rows, L2 10): "
        f"{summary('regularised GBM, all features')}; the L1 logistic regression alone: "
        f"{summary('logistic, all features')}; their soft-voting ensemble, `analyze`'s default: "
        f"{summary('ensemble, all features')}.",
        f"- **Embeddings**: the 8 GraphSAGE dimensions change the AUC by {emb:+.3f} on average "
        f"with the GBM and {emb_logit:+.3f} with logistic regression.",
        f"- **Best on average**: {best} ({summary(best)}); the differences between the variants "
        "are within the bootstrap intervals of a single setting.",
    ] + ([level_reading(settings)] if all("level" in r for r in settings) else [])


def level_reading(settings: list) -> str:
    matched = [r["level"]["matched"]["log_loss"] for r in settings]
    pooled = [r["level"]["pooled"]["log_loss"] for r in settings]
    better = sum(a < b for a, b in zip(matched, pooled))
    return (f"- **Churn level**: matching the newest training cut-off's rate gives a log loss of "
            f"{np.mean(matched):.4f} on average against {np.mean(pooled):.4f} for the pooled "
            f"level, lower in {better} of {len(settings)} settings; the mean probability is "
            f"within 10% of the test churn rate in {near(settings, 'matched')} settings matched "
            f"and {near(settings, 'pooled')} pooled.")


def near(settings: list, level: str) -> int:
    return sum(abs(r["level"][level]["mean_probability"] / r["test_churn_rate"] - 1) < 0.1
               for r in settings)


def _f(value, digits=3):
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    lines = [
        "# The pipeline on a real log: Bitcoin OTC, inactivity churn",
        "",
        f"Library at {result['library']}.",
        "",
        f"Log: `{result['log']['file']}` ({result['log']['rows']} ratings after dropping "
        f"self-ratings, {result['log']['users']} users, {result['log']['first']} to "
        f"{result['log']['last']}), loaded with `load_interactions(path, \"{COLUMNS}\")`; "
        "no customer table. `pipeline.analyze` with `definition=\"inactivity\"`, default "
        f"settings otherwise (up to {result['n_train_cutoffs']} labelled cut-offs one horizon "
        "apart where the log reaches, 90-day graph window, GraphSAGE embeddings, estimator "
        "chosen by temporal validation, seed 0). Backtest on the latest fully labelled cut-off "
        "(as-of − horizon), trained on the ones before it. Baseline: the RFM-only logistic "
        "regression `analyze` fits on the same rows. Δ = model − baseline with a 95% paired "
        f"bootstrap interval (1000 resamples of test users). Runtime {result['seconds']:.0f} s "
        "(`experiments/real_bitcoin_otc.py`).",
        "",
        "Why these settings: ratings are sparse (a median active user rates a few times a "
        "quarter), so a 30-day silence is mostly noise; 60- and 90-day horizons (active window "
        "= horizon) are closer to \"has left the market\". The as-of dates lie in 2013-2014, "
        "when the log is busy (150-600 raters a month), so every labelled cut-off has a full "
        "activity window behind it.",
        "",
        "| as-of | horizon | test cut-off | test users | churn rate | model ROC-AUC | baseline "
        "ROC-AUC | Δ AUC [95% CI] | model PR-AUC | baseline PR-AUC | Δ PR-AUC [95% CI] | "
        "model lift@10% | baseline lift@10% | model EMP | baseline EMP |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["settings"]:
        m, b, ci = r["model"], r["baseline_rfm_logistic"], r["difference_95ci"]
        lines.append(
            f"| {r['as_of']} | {r['horizon_days']} | {r['test_cutoff']} | {r['n_test']} | "
            f"{r['test_churn_rate']:.2f} | {_f(m['roc_auc'])} | {_f(b['roc_auc'])} | "
            f"{m['roc_auc'] - b['roc_auc']:+.3f} [{ci['roc_auc'][0]:+.3f}, {ci['roc_auc'][1]:+.3f}] | "
            f"{_f(m['pr_auc'])} | {_f(b['pr_auc'])} | "
            f"{m['pr_auc'] - b['pr_auc']:+.3f} [{ci['pr_auc'][0]:+.3f}, {ci['pr_auc'][1]:+.3f}] | "
            f"{_f(m['lift_top_decile'], 2)} | {_f(b['lift_top_decile'], 2)} | "
            f"{_f(m['emp'])} | {_f(b['emp'])} |")
    names = [ANALYZE] + list(VARIANTS)
    lines += ["", "## Estimator capacity and embeddings on a small log",
              "",
              "The same backtest tables, other models (ROC-AUC; Δ = variant − RFM baseline with its "
              "95% paired bootstrap interval in the last column). Training sets are small "
              f"({min(r['n_training_rows'] for r in result['settings'])}-"
              f"{max(r['n_training_rows'] for r in result['settings'])} rows):",
              "",
              "| as-of | horizon | RFM baseline | " + " | ".join(names) + " | best Δ [95% CI] |",
              "|---|---|---|" + "---|" * len(names) + "---|"]
    for r in result["settings"]:
        v = r["variants"]
        best = max(names, key=lambda k: v[k]["roc_auc"])
        ci = v[best]["difference_95ci"]["roc_auc"]
        lines.append(
            f"| {r['as_of']} | {r['horizon_days']} | {_f(r['baseline_rfm_logistic']['roc_auc'])} | "
            + " | ".join(_f(v[k]["roc_auc"]) for k in names)
            + f" | {best}: {v[best]['roc_auc'] - r['baseline_rfm_logistic']['roc_auc']:+.3f} "
              f"[{ci[0]:+.3f}, {ci[1]:+.3f}] |")
    mean = lambda f: np.mean([f(r) for r in result["settings"]])  # noqa: E731
    lines.append("| mean | | " + _f(mean(lambda r: r["baseline_rfm_logistic"]["roc_auc"])) + " | "
                 + " | ".join(_f(mean(lambda r, k=k: r["variants"][k]["roc_auc"])) for k in names)
                 + " | |")
    if all("level" in r for r in result["settings"]):
        lines += ["", "## Churn level: the newest training cut-off's rate or the pooled one",
                  "",
                  "`analyze` shifts the model's log-odds so that its mean probability on the "
                  "newest training cut-off equals that cut-off's churn rate (recalibration in "
                  "the large); the pooled level is the same model without the shift. Same "
                  "ranking, so only the level and the log loss differ:",
                  "",
                  "| as-of | horizon | training churn rates (newest first) | test churn rate | "
                  "shift | mean probability, matched | pooled | log loss, matched | pooled |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in result["settings"]:
            lv = r["level"]
            lines.append(
                f"| {r['as_of']} | {r['horizon_days']} | "
                f"{', '.join(f'{x:.2f}' for x in lv['training_churn_rates'])} | "
                f"{r['test_churn_rate']:.2f} | {lv['shift']:+.3f} | "
                f"{lv['matched']['mean_probability']:.3f} | {lv['pooled']['mean_probability']:.3f} | "
                f"{lv['matched']['log_loss']:.4f} | {lv['pooled']['log_loss']:.4f} |")
    lines += ["", "Most important features of the backtest model (permutation importance, "
              "drop in ROC-AUC):", ""]
    for r in result["settings"]:
        top = ", ".join(f"{k} {v:.3f}" for k, v in list(r["top_features"].items())[:5])
        lines.append(f"- as-of {r['as_of']}, horizon {r['horizon_days']}: {top}")
    lines += reading(result)
    cli = result.get("cli")
    if cli:
        lines += ["", "## Command line", "", f"`{cli['command']}`", "",
                  f"Exit code {cli['returncode']} in {cli['seconds']:.0f} s; wrote "
                  f"{', '.join(cli['files']) or 'nothing'} ({cli['scores_rows']} scored users). "
                  "Printed:", "", "```"] + cli["stdout"] + ["```"]
        if cli["returncode"] != 0:
            lines += ["", "stderr (last lines):", "", "```"] + cli["stderr_tail"] + ["```"]
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cli", dest="cli", action="store_false",
                        help="skip the command-line run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--rewrite", action="store_true",
                        help="only re-render OUT/real_bitcoin_otc.md from its .json (no run)")
    args = parser.parse_args(argv)
    if args.rewrite:
        result = json.loads((args.out / "real_bitcoin_otc.json").read_text())
        atomic_write_text(args.out / "real_bitcoin_otc.md", markdown(result))
        return
    library = library_version()  # before the run: the code the run imported
    started = time.perf_counter()
    log = load_interactions(DATA, COLUMNS)
    users = pd.Index(pd.concat([log["src"], log["dst"]]).unique())
    result = {"log": {"file": "shared/data/bitcoin-otc/soc-sign-bitcoinotc.csv.gz",
                      "rows": int(len(log)), "users": int(len(users)),
                      "first": str(log["timestamp"].min().date()),
                      "last": str(log["timestamp"].max().date())},
              "n_train_cutoffs": pipeline.AnalyzeConfig().n_train_cutoffs, "settings": []}
    for as_of, horizon in SETTINGS:
        result["settings"].append(run_setting(log, as_of, horizon, args.seed))
        r = result["settings"][-1]
        print(f"as-of {as_of} horizon {horizon}: model AUC {r['model']['roc_auc']:.3f}, "
              f"baseline {r['baseline_rfm_logistic']['roc_auc']:.3f} ({r['seconds']} s)",
              flush=True)
    if args.cli:
        result["cli"] = run_cli("2014-01-01", 90)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["library"] = library
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "real_bitcoin_otc.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "real_bitcoin_otc.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
