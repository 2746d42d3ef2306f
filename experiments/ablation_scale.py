"""Do the costly feature groups of the training cut-offs earn their cost? (issue 27, scale)

At 1M customers a training cut-off's features spend 10.9 s on Leiden communities, 7.8 s on
influence sampling and roles and 4.1 s on exposure. Communities and roles are needed at as-of
for groups.csv and influencers.csv, but on the training cut-offs they only feed the model. This
experiment drops each group's columns from the training and test tables of the backtest
(everything else as ``analyze`` does it: the tables of ``ChurnPipeline.prepare``, the split of
:func:`graphchurn.pipeline.backtest_split`, the model of
:func:`graphchurn.pipeline.fit_churn_model`, the metrics of
:func:`graphchurn.models.metrics.evaluate`) and measures the backtest ROC-AUC and PR-AUC
against the model on all columns, on the same tables.

Groups (from ``graphchurn.features.build.features_on_graph``; see :data:`GROUPS`):

- ``G_comm`` needs the Leiden membership: community_size, group_churn_rate, embeddedness, and
  (through the leaders of each group) susceptibility, share_to_leaders, is_leader;
- ``G_roles`` needs the influence sampling (influencer_score) and the leaders:
  influencer_score, is_leader, share_to_leaders, departed_influencer_contact, susceptibility;
- ``G_comm_and_roles``: the union;
- ``G_exposure_variants``: share_to_departed_longer, share_to_departed_before_onset,
  spreading_activation_energy, max_tie_share_departed;
- ``G_struct``: clustering, coreness, pagerank.

Data sets: the 50 default 6,000-customer generator worlds of
experiments/stability_accuracy.py (as-of the world's end, as that script runs them), the five
as-of/horizon settings of Bitcoin OTC (experiments/real_bitcoin_otc.py; tables rebuilt, since
the cached ones of model_tables.py predate ``EMBEDDINGS_AUTO = False``), and the pickled
labelled tables of the 100k and 1M worlds (fit times are recorded on the 100k tables only,
with the boosting iterations early stopping kept).

Run (each step appends JSON lines to experiments/results/ablation_scale_<set>.jsonl and skips
what is already there; ``report`` writes experiments/results/ablation_scale.{md,json}):

    PYTHONPATH=. python experiments/ablation_scale.py worlds      # 50 worlds, ~70 min on 2 cores
    PYTHONPATH=. python experiments/ablation_scale.py bitcoin     # ~2 min
    PYTHONPATH=. python experiments/ablation_scale.py scale --name 100k \\
        --tables /work/scratch/tables100k.pkl                      # ~3 min
    flock /work/scratch/bigmem.lock env PYTHONPATH=. python experiments/ablation_scale.py \\
        scale --name 1m --tables /work/scratch/tables1m.pkl        # ~8 GB of memory
    PYTHONPATH=. python experiments/ablation_scale.py scale --name 100k_timing \\
        --tables /work/scratch/tables100k.pkl      # fit times again, on a quiet machine
    PYTHONPATH=. python experiments/ablation_scale.py report

``--set executors`` (before the action) drops instead the columns Spark's executors would not
compute cheaply (:data:`GROUP_SETS`; issue 25), from the tables of today's model (no
community columns), into ablation_scale_executors_*.jsonl and ablation_scale_executors.md.

Decision rule (fixed before the numbers were read): a group earns its place on the training
cut-offs if dropping it lowers the backtest ROC-AUC on the 50 worlds by more than 2 standard
errors of the paired mean, or lowers it by more than 0.002 on Bitcoin OTC (mean over its five
settings) or at 100k or at 1M. Otherwise it does not, and the training cut-offs could skip
its computation (communities and roles are still computed at as-of for the outputs).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import ROOT, library_version, markdown_table
from model_tables import BITCOIN, BITCOIN_SETTINGS
from graphchurn import pipeline
from graphchurn.models.metrics import evaluate

#: Columns dropped by each variant ("all" drops none).
GROUPS = {
    "all": [],
    "G_comm": ["community_size", "group_churn_rate", "embeddedness", "susceptibility",
               "share_to_leaders", "is_leader"],
    "G_roles": ["influencer_score", "is_leader", "share_to_leaders",
                "departed_influencer_contact", "susceptibility"],
    "G_exposure_variants": ["share_to_departed_longer", "share_to_departed_before_onset",
                            "spreading_activation_energy", "max_tie_share_departed"],
    "G_struct": ["clustering", "coreness", "pagerank"],
}
GROUPS["G_comm_and_roles"] = list(dict.fromkeys(GROUPS["G_comm"] + GROUPS["G_roles"]))

#: ``--set executors`` (issue 25): the columns that would not come cheaply from Spark
#: DataFrame iterations (triangles, k-core peeling, spreading activation, exposure at each
#: fade's onset), on tables without the community columns, which the model no longer reads.
#: Same rule. Results in ablation_scale_executors_<data set>.jsonl / .md.
GROUP_SETS = {
    "issue27": (GROUPS, "ablation_scale"),
    "executors": ({"all": [],
                   "G_hard_on_executors": ["clustering", "coreness",
                                           "spreading_activation_energy",
                                           "share_to_departed_before_onset"]},
                  "ablation_scale_executors"),
}
VARIANTS = list(GROUPS)
PREFIX = "ablation_scale"


def use_set(name: str) -> None:
    """Make ``name`` of :data:`GROUP_SETS` the groups and result files of this run."""
    global GROUPS, VARIANTS, PREFIX
    GROUPS, PREFIX = GROUP_SETS[name]
    VARIANTS = list(GROUPS)

WORLDS = Path("/work/data/worlds6k")
WORLD_SEEDS = list(range(2, 32)) + list(range(52, 72))
RESULTS = ROOT / "experiments" / "results"
METRICS = ("roc_auc", "pr_auc")
#: Decision thresholds (see the module docstring).
SE_RULE, ABS_RULE = 2.0, 0.002


def ablate(labelled, cutoffs, cfg: pipeline.AnalyzeConfig, time_fits: bool = False) -> dict:
    """Backtest ROC-AUC and PR-AUC of every variant of :data:`GROUPS` on one set of tables.

    Parameters
    ----------
    labelled : list of (X, y)
        ``ChurnPipeline.prepare``'s ``labelled_`` (newest first).
    cutoffs : list of Timestamp
        Their dates (``cutoffs_``).
    cfg : AnalyzeConfig
        The analysis' settings (horizon, seed, estimator).
    time_fits : bool
        Also record each variant's fit and scoring wall time.

    Returns
    -------
    dict
        ``{variant: {"roc_auc", "pr_auc", "n_features"[, "fit_s"]}}``.
    """
    (X_fit, y_fit, latest_fit), (X_test, y_test), _ = pipeline.backtest_split(
        labelled, cutoffs, cfg.horizon_days, cfg.seed)
    if PREFIX != "ablation_scale":
        # Today's model: no community columns (tables pickled before they left keep them).
        X_fit, X_test = pipeline.model_table(X_fit, cfg), pipeline.model_table(X_test, cfg)
    out = {}
    for variant, columns in GROUPS.items():
        drop = [c for c in columns if c in X_fit.columns]
        start = time.perf_counter()
        model = pipeline.fit_churn_model(cfg, X_fit.drop(columns=drop), y_fit, latest=latest_fit)
        p = model.predict_proba(X_test.drop(columns=drop))[:, 1]
        elapsed = time.perf_counter() - start
        m = evaluate(y_test.to_numpy(), p)
        out[variant] = {"roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                        "n_features": X_fit.shape[1] - len(drop), "estimator": model.estimator,
                        "n_iter": int(getattr(model, "n_iter_", 0) or 0)}
        if time_fits:
            out[variant]["fit_s"] = round(elapsed, 2)
        print(f"  {variant}: ROC-AUC {m['roc_auc']:.4f}, PR-AUC {m['pr_auc']:.4f}"
              + (f", {elapsed:.1f} s" if time_fits else ""), flush=True)
    return out


def _done(path: Path, key: str) -> set:
    if not path.exists():
        return set()
    return {json.loads(line)[key] for line in path.read_text().splitlines() if line}


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def run_worlds(args) -> None:
    """Every world: tables once with ``ChurnPipeline.prepare``, then every variant."""
    from graphchurn.io import load_customers, load_interactions

    path = RESULTS / f"{PREFIX}_worlds.jsonl"
    done = _done(path, "seed")
    for seed in args.seeds:
        if seed in done:
            continue
        directory = args.worlds / f"seed_{seed}"
        meta = json.loads((directory / "meta.json").read_text())
        cfg = pipeline.AnalyzeConfig(as_of=pd.Timestamp(meta["end"]))
        start = time.perf_counter()
        pipe = pipeline.ChurnPipeline(cfg).prepare(
            load_interactions(directory / "interactions.parquet"),
            load_customers(directory / "customers.parquet"))
        prepared = time.perf_counter() - start
        print(f"world {seed}: tables in {prepared:.1f} s", flush=True)
        row = {"seed": seed, "prepare_s": round(prepared, 1),
               **ablate(pipe.labelled_, pipe.cutoffs_, cfg)}
        _append(path, row)


def run_bitcoin(args) -> None:
    """Bitcoin OTC's five settings, tables built afresh by ``ChurnPipeline.prepare``."""
    from graphchurn.io import load_interactions

    from real_bitcoin_otc import COLUMNS

    path = RESULTS / f"{PREFIX}_bitcoin.jsonl"
    done = _done(path, "setting")
    log = load_interactions(BITCOIN, COLUMNS)
    for as_of, horizon in BITCOIN_SETTINGS:
        setting = f"{as_of}/{horizon}d"
        if setting in done:
            continue
        cfg = pipeline.AnalyzeConfig(as_of=pd.Timestamp(as_of), horizon_days=horizon,
                                     definition="inactivity", seed=0)
        pipe = pipeline.ChurnPipeline(cfg).prepare(log, None)
        print(f"Bitcoin OTC {setting}", flush=True)
        _append(path, {"setting": setting, **ablate(pipe.labelled_, pipe.cutoffs_, cfg)})


def run_scale(args) -> None:
    """The pickled labelled tables of a large world (``AnalyzeConfig()`` defaults)."""
    path = RESULTS / f"{PREFIX}_scale.jsonl"
    if args.name in _done(path, "name"):
        return
    start = time.perf_counter()
    with open(args.tables, "rb") as f:
        tables = pickle.load(f)
    tables.pop("scoring", None)
    print(f"{args.name}: tables loaded in {time.perf_counter() - start:.1f} s "
          f"({len(tables['labelled'][0][1])} test rows)", flush=True)
    cfg = pipeline.AnalyzeConfig()
    _append(path, {"name": args.name, "n_test": int(len(tables["labelled"][0][1])),
                   **ablate(tables["labelled"], tables["cutoffs"], cfg,
                            time_fits=args.name.startswith("100k"))})


def paired(rows: list[dict], metric: str) -> pd.DataFrame:
    """Paired differences all - variant (positive: the group helps) over ``rows``."""
    out = {}
    for variant in VARIANTS[1:]:
        d = np.array([r["all"][metric] - r[variant][metric] for r in rows], dtype=float)
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
        out[variant] = {"mean": d.mean(), "se": se, "full_better": int((d > 0).sum()),
                        "equal": int((d == 0).sum()), "n": len(d)}
    return pd.DataFrame(out).T


def report(args) -> None:
    def read(name):
        path = RESULTS / f"{PREFIX}_{name}.jsonl"
        return [json.loads(l) for l in path.read_text().splitlines() if l] if path.exists() else []

    worlds, bitcoin, scale = read("worlds"), read("bitcoin"), read("scale")
    scale = {r["name"]: r for r in scale}
    result = {"library": library_version(), "groups": GROUPS,
              "rule": {"worlds_se": SE_RULE, "absolute": ABS_RULE}}
    title = ("Ablation of the costly feature groups (issue 27)" if PREFIX == "ablation_scale"
             else "Columns Spark's executors would not compute cheaply (issue 25)")
    lines = [f"# {title}", "",
             f"Library {result['library']}. Made by experiments/ablation_scale.py (its docstring "
             "has the commands). Difference = metric with all columns minus metric without the "
             "group: positive means the group helps.", "",
             "Decision rule, fixed before the numbers were read: a group earns its place on the "
             "training cut-offs if dropping it lowers the backtest ROC-AUC on the 50 worlds by "
             f"more than {SE_RULE:g} standard errors of the paired mean, or lowers it by more "
             f"than {ABS_RULE} on Bitcoin OTC (mean over its five settings) or at 100k or at 1M.",
             "", "Groups (columns dropped):", ""]
    for g, cols in GROUPS.items():
        if cols:
            lines.append(f"- {g}: {', '.join(cols)}")
    summary = {}
    if worlds:
        lines += ["", f"## Generator worlds (6,000 customers; {len(worlds)} of the "
                  f"{len(WORLD_SEEDS)} worlds)", ""]
        mean = {v: {m: np.mean([r[v][m] for r in worlds]) for m in METRICS} for v in VARIANTS}
        lines += ["Mean backtest metrics:", "",
                  markdown_table(pd.DataFrame(mean).T.rename_axis("variant"), ".4f"), ""]
        for m in METRICS:
            t = paired(worlds, m)
            summary.setdefault("worlds", {})[m] = t.to_dict(orient="index")
            shown = pd.DataFrame({
                "all - without (mean)": t["mean"].astype(float),
                "standard error": t["se"].astype(float),
                "full better in": [f"{int(a)} of {int(n)}" for a, n in zip(t["full_better"], t["n"])],
            }).rename_axis("dropped")
            lines += [f"Paired {m}:", "", markdown_table(shown, ".4f"), ""]
    if bitcoin:
        lines += ["## Bitcoin OTC (five as-of/horizon settings)", ""]
        for m in METRICS:
            frame = pd.DataFrame({r["setting"]: {v: r["all"][m] - r[v][m] for v in VARIANTS[1:]}
                                  for r in bitcoin})
            frame["mean"] = frame.mean(axis=1)
            summary.setdefault("bitcoin", {})[m] = frame.to_dict(orient="index")
            full = pd.DataFrame({r["setting"]: {"all columns": r["all"][m]} for r in bitcoin})
            lines += [f"{m} with all columns:", "", markdown_table(full.rename_axis(""), ".4f"), "",
                      f"{m}, all - without:", "", markdown_table(frame.rename_axis("dropped"), ".4f"),
                      ""]
    for name in ("100k", "1m"):
        if name not in scale:
            continue
        r = scale[name]
        lines += [f"## {name} customers ({r['n_test']:,} test rows)", ""]
        frame = pd.DataFrame({v: {**{m: r[v][m] for m in METRICS},
                                  **{f"all - without ({m})": r["all"][m] - r[v][m]
                                     for m in METRICS}} for v in VARIANTS}).T
        # (strings: a row of mixed numbers would print its counts as floats)
        frame["n_features"] = [str(r[v]["n_features"]) for v in VARIANTS]
        summary[name] = frame.to_dict(orient="index")
        timed = scale.get(f"{name}_timing", r)
        if "fit_s" in timed["all"]:
            frame["fit + score s"] = [f"{timed[v]['fit_s']:.1f}" for v in VARIANTS]
            summary[name + "_fit_s"] = {v: timed[v]["fit_s"] for v in VARIANTS}
        if "n_iter" in timed["all"]:
            frame["boosting iterations"] = [str(timed[v]["n_iter"]) for v in VARIANTS]
        lines += [markdown_table(frame.rename_axis("variant"), ".4f"), ""]
    # Overview: ROC-AUC differences per data set and the rule's verdict.
    rows = {}
    for v in VARIANTS[1:]:
        row = {}
        verdict = []
        if worlds:
            w = summary["worlds"]["roc_auc"][v]
            row["worlds mean"], row["worlds se"] = w["mean"], w["se"]
            verdict.append(w["mean"] > SE_RULE * w["se"])
        if bitcoin:
            row["Bitcoin OTC mean"] = summary["bitcoin"]["roc_auc"][v]["mean"]
            verdict.append(row["Bitcoin OTC mean"] > ABS_RULE)
        for name in ("100k", "1m"):
            if name in summary:
                row[name] = summary[name][v]["all - without (roc_auc)"]
                verdict.append(row[name] > ABS_RULE)
        row["earns its place"] = "yes" if any(verdict) else "no"
        rows[v] = row
    result["overview_roc_auc"] = rows
    result["details"] = summary
    overview = ["", "## Overview: ROC-AUC, all columns minus without the group", "",
                markdown_table(pd.DataFrame(rows).T.rename_axis("dropped"), ".4f"), ""]
    insert = lines.index("Groups (columns dropped):")
    lines[insert:insert] = overview
    if args.reading and Path(args.reading).exists():
        lines += ["## Reading", "", Path(args.reading).read_text().strip(), ""]
    (RESULTS / f"{PREFIX}.md").write_text("\n".join(lines))
    (RESULTS / f"{PREFIX}.json").write_text(json.dumps(result, indent=1, default=float))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("worlds")
    p.add_argument("--worlds", type=Path, default=WORLDS)
    p.add_argument("--seeds", type=int, nargs="+", default=WORLD_SEEDS)
    sub.add_parser("bitcoin")
    p = sub.add_parser("scale")
    p.add_argument("--name", required=True, choices=["100k", "1m", "100k_timing"],
                   help="100k_timing: the 100k tables again, for fit times only")
    p.add_argument("--tables", type=Path, required=True)
    p = sub.add_parser("report")
    p.add_argument("--reading", default=None, help="a text file with the Reading section")
    parser.add_argument("--set", default="issue27", choices=list(GROUP_SETS),
                        help="which groups to drop (and which result files)")
    args = parser.parse_args()
    use_set(args.set)
    {"worlds": run_worlds, "bitcoin": run_bitcoin, "scale": run_scale,
     "report": report}[args.action](args)


if __name__ == "__main__":
    main()
