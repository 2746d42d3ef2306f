"""The churn model at scale: the former default (calibrated 5-fold soft-voting ensemble) against
the new one (one early-stopped gradient boosting, sampled rows, held-out Platt scaling), in the
same process, on the same feature tables.

Tables come from experiments/model_tables.py (``ChurnPipeline.prepare``'s tables, cached as
Parquet). For every cached world: the backtest split of ``analyze`` (``pipeline.backtest_split``:
fit on the older cut-offs with the newest training cut-off's level, score the newest labelled
cut-off); wall time of the fit (importance included, as in the backtest) and ROC-AUC of each
model; on the 100,000-customer world also the time of the reasons at as-of (``top_reasons``,
k=3) and of the RFM baseline. The former default's reasons are timed on a sample of the scoring
rows (they grow linearly with the rows) and scaled up.

Run:  nice .venv/bin/python experiments/bench_model_scale.py [--worlds w100k w6k_100 ...]
Writes experiments/results/bench_model_scale.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _common import library_version, markdown_table
from model_tables import DEFAULT_CACHE, load
import pandas as pd
from graphchurn import pipeline
from graphchurn.models.explain import top_reasons
from graphchurn.models.metrics import evaluate

RESULTS = Path(__file__).resolve().parent / "results"
# The former default of pipeline.churn_model (before issue 27), as overrides of the new one.
OLD = dict(estimator="ensemble", cv=5, max_iter=200, max_train_rows=None,
           importance_max_rows=100_000)
NEW = dict(estimator="gbm")
# Variants measured on the small worlds and Bitcoin (--variants): where would the ensemble or
# fold calibration earn their cost?
VARIANTS = {"new ensemble (holdout)": dict(estimator="ensemble"),
            "gbm, 5-fold calibration": dict(estimator="gbm", cv=5, max_train_rows=None)}
OLD_REASON_SAMPLE = 5000


def run_world(name: str, cache: Path, models: dict, reasons: bool) -> dict:
    labelled, scoring, meta = load(cache / name)
    cfg = pipeline.AnalyzeConfig(horizon_days=meta["horizon_days"], seed=meta["seed"])
    # The backtest's rows, split as ChurnPipeline splits its prepared tables.
    (X_fit, y_fit, latest), (X_test, y_test), _ = pipeline.backtest_split(
        labelled, [pd.Timestamp(c) for c in meta["cutoffs"]], cfg.horizon_days, cfg.seed)
    out = {"n_fit_rows": int(len(y_fit)), "n_test": int(len(y_test)),
           "fit_churn_rate": float(y_fit.mean()), "models": {}}
    for label, overrides in models.items():
        started = time.perf_counter()
        model = pipeline.fit_churn_model(cfg, X_fit, y_fit, latest=latest, **overrides)
        fit_s = time.perf_counter() - started
        p = model.predict_proba(X_test)[:, 1]
        row = {"fit_s": round(fit_s, 2), "roc_auc": evaluate(y_test.to_numpy(), p)["roc_auc"],
               "mean_p": float(p.mean()), "test_churn_rate": float(y_test.mean()),
               "early_stopping_iter": model.n_early_stopping_iter_,
               "train_rows": int(model.n_train_rows_)}
        if reasons:
            rows = scoring if label == "new" else scoring.iloc[:OLD_REASON_SAMPLE]
            started = time.perf_counter()
            top_reasons(model, rows, k=3, importance=model.feature_importances_)
            seconds = time.perf_counter() - started
            row["reasons_s"] = round(seconds * len(scoring) / len(rows), 2)
            row["reasons_rows_timed"] = int(len(rows))
        out["models"][label] = row
        print(name, label, row, flush=True)
    if reasons:
        started = time.perf_counter()
        baseline = pipeline.fit_rfm_baseline(cfg, X_fit, y_fit)
        out["rfm_baseline_fit_s"] = round(time.perf_counter() - started, 2)
        out["rfm_baseline_roc_auc"] = evaluate(
            y_test.to_numpy(), baseline.predict_proba(X_test[baseline.feature_names_in_])[:, 1]
        )["roc_auc"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=None)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--name", default="bench_model_scale")
    parser.add_argument("--new-only", action="store_true")
    parser.add_argument("--variants", action="store_true", help="also the VARIANTS")
    args = parser.parse_args()
    worlds = args.worlds or sorted(p.name for p in args.cache.iterdir() if (p / "meta.json").exists())
    library = library_version()
    results = {}
    for name in worlds:
        models = {"new": NEW} if args.new_only else {"new": NEW, "old": OLD}
        if args.variants:
            models.update(VARIANTS)
        results[name] = run_world(name, args.cache, models, reasons=name == "w100k")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(
        {"library": library, "worlds": results}, indent=1))
    rows = []
    for name, r in results.items():
        for label, m in r["models"].items():
            rows.append({"world": name, "model": label, "fit rows": r["n_fit_rows"],
                         "fit s": m["fit_s"], "reasons s": m.get("reasons_s", np.nan),
                         "ROC-AUC": m["roc_auc"], "mean p": m["mean_p"],
                         "churn rate": m["test_churn_rate"]})
    (RESULTS / f"{args.name}.md").write_text(
        f"# {args.name}\n\nlibrary {library}\n\n" + markdown_table(pd.DataFrame(rows), ".4f") + "\n")


if __name__ == "__main__":
    main()
