"""The model stage's second step at scale (issue 27): each change against the setting before it,
in the same process, on the same cached feature tables.

For every cached world (``experiments/model_tables.py``; by default the 100,000-customer one):
the backtest split of ``analyze`` (older cut-offs, the newest training cut-off's level), fitted
with

- **before**: boosting alone at learning rate 0.05 with permutation importance on <= 10,000
  held-out rows (the settings ``estimator="by_size"`` gave large tables before this step);
- **contribution importance**: the same fit, importance from the held-out rows' mean absolute
  path contribution (one pass) instead of permutation;
- **now** (``by_size`` today): that, at learning rate 0.1;

with wall and CPU time, trees kept by early stopping and the backtest ROC-AUC; then the
reasons' tree walk (:func:`graphchurn.models.trees.tree_path_contributions` on the scoring
rows) against the former row-by-row walk (kept here, verbatim in behaviour, as the reference),
with the largest difference between the two (0 means identical).

Run:  .venv/bin/python experiments/bench_model_speed.py [--worlds w100k] [--threads 1]
Writes experiments/results/bench_model_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from _common import library_version, markdown_table
from model_tables import DEFAULT_CACHE, load
from graphchurn import pipeline
from graphchurn.models.metrics import evaluate

from graphchurn.models.trees import _internal_values, tree_path_contributions

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {
    "before": dict(estimator="gbm", learning_rate=0.05, importance="permutation"),
    "contribution importance": dict(estimator="gbm", learning_rate=0.05, importance="auto"),
    "now": {},
}


def row_by_row_walk(gbm, X):
    """The former tree walk: every row down every tree, one level at a time."""
    X = np.asarray(X, dtype=np.float64)
    n, m = X.shape
    known, f_idx_map = gbm._bin_mapper.make_known_categories_bitsets()
    contributions = np.zeros((n, m))
    expected = float(np.ravel(gbm._baseline_prediction)[0])
    rows = np.arange(n)
    for (predictor,) in gbm._predictors:
        nodes = predictor.nodes
        value = _internal_values(nodes)
        is_leaf = nodes["is_leaf"].astype(bool)
        expected += value[0]
        node = np.zeros(n, dtype=np.int64)
        active = rows if not is_leaf[0] else rows[:0]
        while len(active):
            at = node[active]
            feature = nodes["feature_idx"][at].astype(np.int64)
            x = X[active, feature]
            missing = np.isnan(x)
            left = np.where(missing, nodes["missing_go_to_left"][at].astype(bool),
                            x <= nodes["num_threshold"][at])
            categorical = nodes["is_categorical"][at].astype(bool) & ~missing
            if categorical.any():
                c = np.flatnonzero(categorical)
                code = x[c]
                valid = code >= 0
                code = np.where(valid, code, 0).astype(np.int64)
                word, bit = code // 32, (code % 32).astype(np.uint32)
                in_left = ((predictor.raw_left_cat_bitsets[nodes["bitset_idx"][at[c]], word]
                            >> bit) & 1).astype(bool)
                in_known = ((known[f_idx_map[feature[c]], word] >> bit) & 1).astype(bool)
                as_missing = nodes["missing_go_to_left"][at[c]].astype(bool)
                left[c] = np.where(valid & in_left, True,
                                   np.where(valid & in_known, False, as_missing))
            child = np.where(left, nodes["left"][at], nodes["right"][at]).astype(np.int64)
            contributions[active, feature] += value[child] - value[at]
            node[active] = child
            active = active[~is_leaf[child]]
    return contributions, expected


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def run_world(name: str, cache: Path) -> dict:
    labelled, scoring, meta = load(cache / name)
    X_fit, y_fit, latest = pipeline.stack_cutoffs(labelled, meta["backtest_training"])
    X_test, y_test = labelled[0]
    cfg = pipeline.AnalyzeConfig(horizon_days=meta["horizon_days"], seed=meta["seed"])
    rows, last = [], None
    for label, overrides in SETTINGS.items():
        model, wall, cpu = timed(pipeline.fit_churn_model, cfg, X_fit, y_fit, latest=latest,
                                 **overrides)
        p = model.predict_proba(X_test)[:, 1]
        rows.append({"world": name, "setting": label, "fit_rows": len(y_fit), "fit_wall_s": wall,
                     "fit_cpu_s": cpu, "trees": model.n_early_stopping_iter_,
                     "roc_auc": round(evaluate(y_test.to_numpy(), p)["roc_auc"], 4)})
        last = model
    base = last.estimator_.base
    encoded = base.named_steps["encode"].transform(last._prepare(last._align(scoring)))
    gbm = base.named_steps["classify"]
    (old, _), old_wall, old_cpu = timed(row_by_row_walk, gbm, encoded)
    (new, _), new_wall, new_cpu = timed(tree_path_contributions, gbm, encoded)
    walk = {"world": name, "rows": len(encoded), "trees": len(gbm._predictors),
            "row_by_row_cpu_s": old_cpu, "split_by_split_cpu_s": new_cpu,
            "row_by_row_wall_s": old_wall, "split_by_split_wall_s": new_wall,
            "max_abs_difference": float(np.abs(old - new).max())}
    return {"fits": rows, "walk": walk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["w100k"])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--threads", type=int, default=None,
                        help="native threads (default: all cores)")
    parser.add_argument("--name", default="bench_model_speed")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with threadpool_limits(limits=args.threads):
        results = [run_world(w, args.cache) for w in args.worlds]
    meta = {"library": library_version(), "threads": args.threads or os.cpu_count(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)")}
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"meta": meta, "results": results},
                                                          indent=1))
    fits = [r for res in results for r in res["fits"]]
    walks = [res["walk"] for res in results]
    text = (f"# {args.name}\n\nlibrary {meta['library']}, {meta['threads']} threads, "
            f"OMP_WAIT_POLICY {meta['omp_wait_policy']}, load {meta['load_before']} -> "
            f"{meta['load_after']}\n\n## Backtest fit\n\n{markdown_table(pd.DataFrame(fits).set_index('world'))}\n\n"
            f"## Reasons' tree walk on the scoring rows\n\n{markdown_table(pd.DataFrame(walks).set_index('world'))}\n")
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
