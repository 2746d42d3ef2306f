"""Stable rankings (issue 22): which random step moves the probabilities when the seed changes.

Each run below is the reference analysis (seed 0) with seed 1 given to one source only:
the Leiden communities, the influence sampling (RR sets), the model's held-out slice, or the
model's own random state (boosting, the logistic solver, importance) with the slice kept at
seed 0. "all" gives seed 1 to everything (the plain ``--seed 1`` run). Where the slice is
dealt rather than drawn (``ChurnModel(ordered_holdout=True)``, the pipeline's model) it takes
no seed, and "slice" changes nothing. Probabilities are
compared with the reference as in experiments/stability.py.

    python experiments/stability_sources.py                    # demo world (data/sample)
    python experiments/stability_sources.py --customers 20000  # a generated world
    python experiments/stability_sources.py --only all model   # some sources only
    python experiments/stability_sources.py --leiden '{"n_runs": 5}' --ris 100000  # variants

``--leiden`` passes extra arguments to every ``detect_communities`` call of the feature
stage, ``--ris`` sets its number of RR sets (``build.FEATURE_RIS_SAMPLES``) and
``--influence-method`` its estimator of the influence spread (``--fix-communities``: Leiden
at seed 0 in every run), in the reference and the other runs alike, to measure how much each remedy takes off its source's spread.

Results: experiments/results/stability.md (section "sources of the seed spread").
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stability import compare, load_world, run

from graphchurn.features import build
from graphchurn.models import churn
from graphchurn.pipeline import AnalyzeConfig

SOURCES = ("all", "communities", "influence", "slice", "model")


@contextlib.contextmanager
def pinned(module, name, seed_of):
    """``module.name`` called with its seed replaced by ``seed_of(seed)``."""
    original = getattr(module, name)

    def wrapper(*args, seed=0, **kwargs):
        return original(*args, seed=seed_of(seed), **kwargs)

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def slice_seed(seed):
    """The model's held-out slice drawn with ``seed`` whatever the model's random_state
    (where it is drawn at all)."""
    original = churn.group_holdout

    def wrapper(y, groups, share, rng=None):
        # A slice dealt without a generator (ordered_holdout) takes no seed: left as it is.
        return original(y, groups, share, None if rng is None else np.random.default_rng(seed))

    churn.group_holdout = wrapper
    try:
        yield
    finally:
        churn.group_holdout = original


@contextlib.contextmanager
def variant(leiden: dict, ris: int | None, influence_method: str | None = None,
            fix_communities: bool = False):
    """The feature stage's Leiden and influence estimate with other settings."""
    saved = build.detect_communities, build.FEATURE_RIS_SAMPLES, build.influencer_scores
    if leiden:
        build.detect_communities = functools.partial(saved[0], **leiden)
    if fix_communities:
        # Leiden at seed 0 whatever the run's seed: the spread left without its draws.
        fixed = build.detect_communities
        build.detect_communities = lambda *args, seed=0, **kwargs: fixed(*args, seed=0, **kwargs)
    if ris:
        build.FEATURE_RIS_SAMPLES = ris
    if influence_method:
        build.influencer_scores = functools.partial(saved[2], influence_method=influence_method)
    try:
        yield
    finally:
        build.detect_communities, build.FEATURE_RIS_SAMPLES, build.influencer_scores = saved


def source_run(source, interactions, customers, cfg):
    """The analysis with seed 1 in ``source`` only (seed 0 elsewhere)."""
    with contextlib.ExitStack() as stack:
        if source == "all":
            return run(interactions, customers, replace(cfg, seed=1))
        if source in ("communities", "influence"):
            name = "detect_communities" if source == "communities" else "influencer_scores"
            stack.enter_context(pinned(build, name, lambda seed: 1))
            return run(interactions, customers, cfg)
        # The model's sources: features at seed 0, the model at seed 1 (its slice at 0 for
        # "model", alone at 1 for "slice").
        stack.enter_context(pinned(build, "detect_communities", lambda seed: 0))
        stack.enter_context(pinned(build, "influencer_scores", lambda seed: 0))
        if source == "model":
            stack.enter_context(slice_seed(0))
            return run(interactions, customers, replace(cfg, seed=1))
        stack.enter_context(slice_seed(1))
        return run(interactions, customers, cfg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--config", default="{}", help="AnalyzeConfig overrides as JSON")
    parser.add_argument("--leiden", default="{}", help="detect_communities arguments, JSON")
    parser.add_argument("--ris", type=int, help="RR sets of influencer_scores")
    parser.add_argument("--influence-method", choices=["khop", "rr"],
                        help="influencer_scores' estimator of the influence spread")
    parser.add_argument("--fix-communities", action="store_true",
                        help="Leiden at seed 0 in every run")
    parser.add_argument("--only", nargs="+", choices=SOURCES, default=list(SOURCES))
    args = parser.parse_args(argv)
    interactions, customers, name = load_world(args.customers, args.days)
    cfg = replace(AnalyzeConfig(), **json.loads(args.config))
    with variant(json.loads(args.leiden), args.ris, args.influence_method,
                 args.fix_communities):
        rows = sources(args.only, interactions, customers, cfg)
    print(name, args.config, args.leiden, args.ris, args.influence_method,
          "communities fixed" if args.fix_communities else "")
    print(pd.DataFrame(rows).set_index("seed 1 in").round(4).to_string())
    return 0


def sources(only, interactions, customers, cfg) -> list[dict]:
    ref, auc0, _ = run(interactions, customers, cfg)
    rows = []
    for source in only:
        start = time.perf_counter()
        p, auc, _ = source_run(source, interactions, customers, cfg)
        rows.append({"seed 1 in": source, **compare(ref, p), "roc_auc": auc,
                     "roc_auc_ref": auc0, "seconds": time.perf_counter() - start})
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
