"""The model stage's bookkeeping: calibration folds, reasons and the customer-table check, each
against the straightforward way of doing the same thing, in the same process.

- **Calibration folds** (`model.group_folds`): a customer's stacked rows stay in one fold.
  Reference: scikit-learn's StratifiedGroupKFold on all customers (what `group_folds` uses up
  to 100,000 customers); measured: the group-level StratifiedKFold it uses beyond that. Both
  on the same labels (customers with 1-4 rows, about 3% churn rows), 5 folds.
- **Reasons** (`model.reason_contributions`): for every scored row and each of the 12 most
  important features, the drop in risk when that feature is set to its typical value.
  Reference: one model call per feature (the rows with that one column replaced), the way it
  was done before; measured: the rows and all their copies stacked into batched calls. The
  model is `analyze`'s own (`pipeline.churn_model`: the calibrated ensemble, 5 folds) fitted
  on a synthetic table of 46 columns; the contributions must be identical.
- **Customer-table check** (`io.check_customers_match`): does any customer id occur in the
  log? Reference: pandas ``Index.isin`` against the log's columns; measured: Arrow's
  ``is_in`` over the log.
- **Penalty search on a sample** (``--c-search-customers N``, off by default: it builds a
  generator world of N customers): the L1 logistic regression of `analyze` fitted on the
  stacked older cut-offs with ``C="auto"``, its candidates compared on every row (reference)
  and on at most ``--c-search-caps`` rows (whole customers); time of the fit (search
  included), the chosen C and the ROC-AUC on the newest labelled cut-off.

Times are wall clock (``time.perf_counter``) on this machine's 2 shared cores, best of
``--repeats``; ratios (reference / measured) are what carries over to other machines.

Run:  nice .venv/bin/python experiments/bench_model.py
Writes experiments/results/bench_model.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from _common import library_version, markdown_table
from graphchurn.io.atomic import atomic_write_text
from graphchurn.io.readers import check_customers_match
from graphchurn.models.sampling import group_folds
from graphchurn.models.explain import reason_contributions
from graphchurn.pipeline import AnalyzeConfig, churn_model

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def stacked_labels(n_customers: int, seed: int):
    """Customers at 1-4 stacked cut-offs; about 3% of the rows are a churn (a customer's last)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(1, 5, n_customers)
    groups = np.repeat(np.arange(n_customers), rows)
    y = np.zeros(len(groups), dtype=np.int64)
    churner = rng.random(n_customers) < 0.075
    y[(np.cumsum(rows) - 1)[churner]] = 1
    return y, groups


def bench_folds(sizes, repeats, seed) -> list[dict]:
    out = []
    for n in sizes:
        y, groups = stacked_labels(n, seed)
        reference_s, _ = best_time(lambda: list(StratifiedGroupKFold(
            5, shuffle=True, random_state=seed).split(y, y, groups)), repeats)
        measured_s, folds = best_time(
            lambda: group_folds(y, groups, 5, seed, greedy_max_groups=0), repeats)
        churn_rows = [int(y[held].sum()) for _, held in folds]
        out.append({"customers": n, "rows": len(y),
                    "stratified_group_kfold_s": round(reference_s, 3),
                    "group_level_split_s": round(measured_s, 3),
                    "speed_up": round(reference_s / measured_s, 1),
                    "churn_rows_per_fold_spread": max(churn_rows) - min(churn_rows)})
        print(out[-1], flush=True)
    return out


def feature_table(n: int, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """44 numeric columns (4 carry the signal) and 2 categorical ones, like analyze's table."""
    numbers = rng.normal(size=(n, 44))
    plan = rng.choice(["prepaid", "contract", "family"], n)
    region = rng.choice([f"region {i}" for i in range(8)], n)
    logit = -3.2 + numbers[:, :4] @ np.array([0.9, -0.6, 0.5, 0.3]) + 0.7 * (plan == "prepaid")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    table = pd.DataFrame(numbers, columns=[f"feature_{i}" for i in range(44)])
    table["plan"] = pd.Series(plan, dtype="str")
    table["region"] = pd.Series(region, dtype="str")
    return table, y


def contributions_one_call_per_feature(model, X, names) -> np.ndarray:
    """The reference: every feature's replaced copy scored in a call of its own."""
    prepared = model._prepare(model._align(X))
    with model._threads(len(prepared)):
        base = model._score_prepared(prepared, False)
        out = np.empty((len(prepared), len(names)))
        for j, name in enumerate(names):
            typical = prepared.copy(deep=False)
            kind = object if name in model.categorical_features_ else np.float64
            typical[name] = np.full(len(prepared), model.reference_values_[name], dtype=kind)
            out[:, j] = base - model._score_prepared(typical, False)
    return out


def bench_reasons(train_rows, sizes, repeats, seed) -> list[dict]:
    rng = np.random.default_rng(seed)
    X, y = feature_table(train_rows, rng)
    # The former default (the calibrated 5-fold ensemble): the stacked prediction differences
    # are what is measured here (a boosting model with a held-out calibration now explains
    # by tree path attribution instead, bench_model_scale.py).
    model = churn_model(AnalyzeConfig(seed=seed), estimator="ensemble", cv=5, max_iter=200).fit(X, y)
    out = []
    for n in sizes:
        rows, _ = feature_table(n, rng)
        measured_s, batched = best_time(lambda: reason_contributions(model, rows, method="difference"),
                                        repeats)
        names = list(batched.columns)
        reference_s, reference = best_time(
            lambda: contributions_one_call_per_feature(model, rows, names), repeats)
        out.append({"rows_explained": n, "features_tested": len(names),
                    "one_call_per_feature_s": round(reference_s, 3),
                    "batched_s": round(measured_s, 3),
                    "speed_up": round(reference_s / measured_s, 1),
                    "max_abs_difference": float(np.abs(batched.to_numpy() - reference).max())})
        print(out[-1], flush=True)
    return out


def bench_customer_check(log_rows, n_customers, repeats, seed) -> dict:
    rng = np.random.default_rng(seed)
    ids = np.array([f"+44 7{i:09d}" for i in range(n_customers)], dtype=object)
    log = pd.DataFrame({"src": pd.Series(rng.choice(ids, log_rows), dtype="str"),
                        "dst": pd.Series(rng.choice(ids, log_rows), dtype="str")})
    # A table of the log's off-net side only would fail; here the last id is a real customer.
    customers = pd.DataFrame({"customer_id": pd.Series(
        [f"unknown {i}" for i in range(n_customers - 1)] + [log["dst"].iloc[-1]], dtype="str")})

    def reference():
        index = pd.Index(customers["customer_id"])
        return bool((index.isin(log["src"]) | index.isin(log["dst"])).any())

    reference_s, found = best_time(reference, repeats)
    measured_s, _ = best_time(lambda: check_customers_match(log, customers, "customers.csv"),
                              repeats)
    assert found  # the measured check raises when no id occurs
    return {"log_rows": log_rows, "customers": n_customers,
            "pandas_isin_s": round(reference_s, 3), "arrow_is_in_s": round(measured_s, 4),
            "speed_up": round(reference_s / measured_s, 1)}


def bench_C_search(n_customers, caps, seed) -> list[dict]:
    from graphchurn.models.metrics import roc_auc
    from graphchurn.pipeline import ChurnPipeline, fit_churn_model
    from graphchurn.synth.world import generate_world

    world = generate_world(n_customers=n_customers, days=120, seed=seed)
    cfg = AnalyzeConfig(embeddings=False, seed=seed)
    # The backtest's tables: the older cut-offs stacked, tested on the newest labelled one.
    pipe = ChurnPipeline(cfg).prepare(world.interactions, world.customers)
    (X, y, _), (X_test, y_test) = pipe.backtest_fit_, pipe.backtest_test_
    out = []
    for cap in [None, *caps]:
        start = time.perf_counter()
        model = fit_churn_model(cfg, X, y, estimator="logistic", calibration=None,
                                importance=None, C_search_max_rows=cap)
        elapsed = time.perf_counter() - start
        out.append({"search_rows_cap": "all" if cap is None else f"{cap:,}",
                    "training_rows": len(y), "search_rows": model.n_C_search_rows_,
                    "fit_s": round(elapsed, 1), "chosen_C": model.C_,
                    "test_roc_auc": round(roc_auc(y_test, model.predict_proba(X_test)[:, 1]), 5)})
        print(out[-1], flush=True)
    return out


def table(rows: list[dict], index: str, floatfmt: str) -> str:
    """Counts with thousands separators (a row of mixed numbers would print them as floats)."""
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if pd.api.types.is_integer_dtype(frame[column]):
            frame[column] = frame[column].map("{:,}".format)
    return markdown_table(frame.set_index(index), floatfmt=floatfmt)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fold-customers", type=int, nargs="+", default=[2_000, 20_000, 100_000])
    parser.add_argument("--reason-rows", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument("--train-rows", type=int, default=8_000)
    parser.add_argument("--log-rows", type=int, default=1_000_000)
    parser.add_argument("--c-search-customers", type=int, default=None,
                        help="also time the penalty search on a world of this many customers")
    parser.add_argument("--c-search-caps", type=int, nargs="+", default=[100_000, 50_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    folds = bench_folds(args.fold_customers, args.repeats, args.seed)
    reasons = bench_reasons(args.train_rows, args.reason_rows, args.repeats, args.seed)
    check = bench_customer_check(args.log_rows, 100_000, args.repeats, args.seed)
    print(check, flush=True)
    c_search = (bench_C_search(args.c_search_customers, args.c_search_caps, args.seed)
                if args.c_search_customers else None)
    payload = {"library": library_version(),
               "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "folds": folds, "reasons": reasons, "customer_check": check,
               "C_search": c_search}
    lines = [
        "# Model-stage bookkeeping against the straightforward way, same process",
        "",
        f"`experiments/bench_model.py`, library {payload['library']}; wall clock, best of "
        f"{args.repeats}, 2 shared CPU cores.",
        "",
        "Calibration folds (5, customers kept together; StratifiedGroupKFold is what "
        "`group_folds` uses up to 100,000 customers, the group-level split beyond):",
        "",
        table(folds, "customers", ".3f"),
        "",
        "Reasons (`analyze`'s calibrated ensemble, 12 features tested per row; the batched "
        "contributions must equal the reference's):",
        "",
        table(reasons, "rows_explained", ".3g"),
        "",
        "Customer-table check (does any of the 100,000 customer ids occur in the log?):",
        "",
        table([check], "log_rows", ".4g"),
    ]
    if c_search:
        lines += ["", f"Penalty search of the L1 logistic regression on a generator world of "
                  f"{args.c_search_customers:,} customers (120 days, older cut-offs stacked; "
                  f"test = the newest labelled cut-off):", "",
                  table(c_search, "search_rows_cap", ".5g")]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "bench_model.json", json.dumps(payload, indent=2))
    atomic_write_text(args.out / "bench_model.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
