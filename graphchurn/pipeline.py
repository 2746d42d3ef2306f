"""The analysis pipeline: the one way in for the CLI, the web app and the experiments.

:func:`analyze` runs every stage of ../DESIGN.md's pipeline on validated inputs and returns an
:class:`Analysis`; :func:`write_outputs` writes the command-line contract's files from it.
Both run :class:`ChurnPipeline`, whose ``prepare`` step alone builds every cut-off's features,
labels and backtest split (what experiments start from when they compare models on them).

Time discipline: the inputs are first cut at ``as_of`` (rows at or after it and churn dates
after it are dropped), so nothing after the scoring moment can reach any stage. Training
cut-offs are ``as_of - horizon``, ``as_of - 2 horizon``, ...; their labels are fully known by
``as_of``. Every cut-off's features come from the same :func:`graphchurn.features.build_features`.
The backtest trains on the older cut-offs and is measured on the latest fully labelled one
(``as_of - horizon``); the scoring model is then refitted on all training cut-offs.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from graphchurn.errors import InputError
from graphchurn.features.build import (COMMUNITY_FEATURES, RFM_FEATURES, FeatureSet,
                                      add_communities, build_features, check_finite_features,
                                      community_part, known_customers)
from graphchurn.features.reasons import describe_reasons, typical_values
from graphchurn.features.workers import map_forked, resolve_n_jobs
from graphchurn.graph.canonical import canonical_positions
from graphchurn.graph.customer_graph import encode_ids, encode_pairs
from graphchurn.models.churn import ChurnModel
from graphchurn.models.metrics import calibration_table, evaluate, lift_curve
from graphchurn.models.explain import top_reasons
from graphchurn.windows.labels import (
    before,
    churn_labels,
    default_as_of,
    resolve_churn_definition,
    training_cutoffs,
)

__all__ = [
    "AnalyzeConfig",
    "Analysis",
    "NoChurnHistory",
    "ChurnPipeline",
    "analyze",
    "backtest_split",
    "engine_pipeline",
    "WhatIfBasis",
    "whatif_basis",
    "what_if",
    "watcher",
    "leavers_not_current",
    "resolved_config",
    "contagion_history",
    "ESTIMATORS",
    "EMBEDDINGS_AUTO_MAX_VERTICES",
    "use_embeddings",
    "coded_log",
    "stack_cutoffs",
    "fit_churn_model",
    "averaged_over_draws",
    "with_draw",
]

log = logging.getLogger("graphchurn")


class NoChurnHistory(InputError):
    """The log holds no labelled churn to learn from (too short, or nobody left).

    ``as_of`` is the scoring moment the analysis resolved, so a caller that falls back (the
    what-if's structural prior) scores at the same moment without resolving it again;
    ``features`` the as-of FeatureSet when it was already built (else None).
    """

    def __init__(self, message: str, *, as_of=None, features=None, **where):
        super().__init__(message, **where)
        self.as_of = as_of
        self.features = features


@dataclass
class AnalyzeConfig:
    """Settings of one analysis; every field has a CLI flag of the same name."""

    as_of: pd.Timestamp | None = None
    horizon_days: int = 30
    definition: str | None = None
    active_window_days: int | None = None
    n_train_cutoffs: int = 4
    train_cutoff_step_days: int | None = None
    window_days: int = 90
    estimator: str = "by_size"
    embeddings: bool | str = "auto"
    embedding_dim: int = 8
    embedding_epochs: int = 30
    community_method: str = "leiden"
    resolution: float = 1.0
    max_degree: int | None = None
    recent_departure_days: int = 30
    pooled_churn_rate: bool = False
    seed: int = 0
    # Whether the churn model uses the columns computed from communities (COMMUNITY_FEATURES).
    # Off: they do not earn their cost (experiments/results/ablation_scale.md), and only the
    # scoring cut-off then detects communities (for groups, leaders and susceptibility).
    community_features: bool = False
    # Cross-fitted churn models averaged (STABLE_MODEL_FOLDS for a ranking that does not move
    # with the seed or the spelling of ids); 1: one model.
    model_folds: int = 1
    # Draws of the RR sets, one model per draw, probabilities averaged (STABLE_INFLUENCE_DRAWS
    # for a ranking that does not move with the seed; graphchurn.features.build); 1: one.
    influence_draws: int = 1
    # Where the row-proportional stages run: "local" (this process) or "spark"
    # (graphchurn.engines.spark; the CLI's --engine). ChurnPipeline and analyze route on it.
    engine: str = "local"
    # Processes building the cut-offs' features side by side (scikit-learn's convention: None
    # is one, -1 every core); the results do not depend on it. Local engine, Linux.
    n_jobs: int | None = None


#: ``AnalyzeConfig(embeddings="auto")`` adds GraphSAGE embeddings only to graphs of at most this
#: many vertices. On 6,000-customer worlds they move the backtest ROC-AUC by nothing beyond
#: noise (experiments/results/embeddings_gain.md, ablation.md), while on large graphs they cost
#: minutes (docs/results.md); small graphs keep them, so results published on small worlds are
#: reproduced as they were. ``embeddings=True`` forces them at any size.
EMBEDDINGS_AUTO_MAX_VERTICES = 50_000


#: Whether ``embeddings="auto"`` adds them at all. Off: their gain is nil (above), and they
#: are the part of the features that moves most with the seed and the spelling of the ids (a
#: random initialisation, sampled neighbourhoods, vertex order): on the demo world they moved
#: one customer's probability by up to 0.057 between seeds where the rest of the pipeline moved
#: it by 0.039 (experiments/results/stability.md).
EMBEDDINGS_AUTO = False


#: Memory a forked cut-off feature build may take per log row, with room above what was
#: measured (docs/results.md#operator-scale-issue-27): a worker is started only where the
#: machine has that much available.
WORKER_BYTES_PER_ROW = 40


#: Reasons are found in parts side by side (``AnalyzeConfig.n_jobs``) only for parts of at
#: least this many customers: below it a worker's start and its pickled sentences cost more
#: than the part.
REASONS_PART_MIN_ROWS = 25_000
#: Memory one part's reasons may take per customer (its contributions, orders and sentences),
#: with room: a worker starts only where that much is available.
REASONS_BYTES_PER_ROW = 2_000


def may_embed(cfg: AnalyzeConfig) -> bool:
    """Whether an analysis under ``cfg`` may add GraphSAGE embeddings, whatever its graph's size
    (:func:`use_embeddings` decides once the scoring graph is built)."""
    return use_embeddings(cfg, 0)


def use_embeddings(cfg: AnalyzeConfig, n_vertices: int) -> bool:
    """Whether an analysis adds GraphSAGE embeddings to a scoring graph of ``n_vertices``.

    Example
    -------
    >>> use_embeddings(AnalyzeConfig(), 8_000), use_embeddings(AnalyzeConfig(), 130_000)
    (False, False)
    >>> use_embeddings(AnalyzeConfig(embeddings=True), 130_000)
    True
    """
    if cfg.embeddings == "auto":
        return EMBEDDINGS_AUTO and n_vertices <= EMBEDDINGS_AUTO_MAX_VERTICES
    if isinstance(cfg.embeddings, (bool, np.bool_)):
        return bool(cfg.embeddings)
    raise InputError(f"embeddings must be True, False or 'auto', got {cfg.embeddings!r}",
                     parameter="embeddings")


@dataclass
class Analysis:
    """Everything :func:`analyze` found; the CLI, report and web app read from here."""

    config: AnalyzeConfig
    as_of: pd.Timestamp
    definition: str
    features: FeatureSet
    training: list[FeatureSet]
    training_labels: list[pd.Series]
    model: ChurnModel
    scores: pd.DataFrame
    groups: pd.DataFrame
    influencers: pd.DataFrame
    metrics: dict
    lift: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None
    importance: pd.Series | None = None
    notes: list[str] = field(default_factory=list)


class _Stages:
    """Logs each stage with its duration (never identifiers)."""

    def __init__(self):
        self.timings: dict[str, float] = {}

    def run(self, name, fn, *args, **kwargs):
        start = time.perf_counter()
        log.info("%s ...", name)
        result = fn(*args, **kwargs)
        self.timings[name] = round(time.perf_counter() - start, 3)
        log.info("%s done in %.1f s", name, self.timings[name])
        return result


def resolve_as_of(interactions: pd.DataFrame, cfg: AnalyzeConfig,
                  stray: tuple[dict, dict] | None = None) -> pd.Timestamp:
    """The scoring moment of an analysis: ``cfg.as_of``, else the day after the last interaction.

    An as-of after the log ends reads the days in between as silence: every customer looks as
    if they stopped calling. That is allowed (a month-end as-of for a log that stops a few days
    earlier, or a log exported late) but warned about, with the size of the gap.

    Parameters
    ----------
    interactions : pandas.DataFrame
        The validated log.
    cfg : AnalyzeConfig
    stray : (dict, dict), optional
        :func:`stray_timestamps` of the log when an engine computed it (Spark: from the ends
        of the log, by :func:`stray_from_ends`); default: computed here from ``interactions``.

    Returns
    -------
    pandas.Timestamp

    Example
    -------
    >>> log = pd.DataFrame({"timestamp": pd.to_datetime(["2024-03-01 09:00", "2024-03-05 10:00"])})
    >>> resolve_as_of(log, AnalyzeConfig())
    Timestamp('2024-03-06 00:00:00')
    """
    natural = default_as_of(interactions)
    early, late = stray_timestamps(interactions) if stray is None else stray
    if early:
        log.warning("%d interaction(s) lie far before the rest of the log (from %s; the rest "
                    "starts %s): stray timestamps?", early["rows"], early["first"],
                    early["bulk"])
    if late:
        moved = (f": they move the default as-of to {natural.date()} (the log's bulk gives "
                 f"{(pd.Timestamp(late['bulk']) + pd.Timedelta(days=1)).date()}); give as_of, "
                 "or fix the rows" if cfg.as_of is None else "")
        log.warning("%d interaction(s) lie far after the rest of the log (up to %s; the rest "
                    "ends %s)%s", late["rows"], late["last"], late["bulk"], moved)
        gap = (pd.Timestamp(late["last"]) - pd.Timestamp(late["bulk"])) / pd.Timedelta(days=1)
        if cfg.as_of is None and gap > cfg.horizon_days:
            # The newest training cut-off would fall after the bulk: nothing could be learnt,
            # and a later error would blame the churn definition instead of these rows.
            raise InputError(
                f"{late['rows']} stray interaction(s) up to {late['last']}, far after the rest "
                f"of the log (which ends {late['bulk']}), would move the default as-of to "
                f"{natural.date()}; fix those timestamps or give as_of", parameter="as_of")
    if cfg.as_of is None:
        return natural
    as_of = pd.Timestamp(cfg.as_of)
    gap = log_gap_days(interactions, as_of)
    if gap > 0:
        longer = (f", longer than the {cfg.horizon_days}-day horizon: the newest training "
                  "cut-off falls after the log too" if gap > cfg.horizon_days else "")
        log.warning("as-of %s is %d day(s) after the log ends (%s): recency features read "
                    "the gap as silence%s", as_of.date(), gap, natural.date(), longer)
    return as_of


def stray_timestamps(interactions: pd.DataFrame, min_gap_days: int = 90,
                     max_share: float = 0.02) -> tuple[dict, dict]:
    """Rows far outside the bulk of the log at either end (a 1970 epoch zero, a 2099 typo).

    Found by count and span, not by a quantile: at each end, among the outermost
    ``max_share`` of the rows (at least one), the widest gap between neighbouring timestamps
    splits the stray rows from the bulk; they are stray when that gap is longer than
    ``min_gap_days`` days *and* longer than the bulk's own span. So one stray row, three, or
    up to 2% of the log are flagged alike. One such row moves the default as-of by decades,
    so it is worth a word.

    Parameters
    ----------
    interactions : pandas.DataFrame
        The validated log.
    min_gap_days : int
        Smallest gap that counts.
    max_share : float
        Largest share of the rows, at each end, that may be stray.

    Returns
    -------
    (early, late) : dicts with ``rows`` (how many), the stray extreme (``first`` / ``last``)
    and the bulk's end it is measured from (``bulk``), dates as text; empty when none.

    Example
    -------
    >>> days = ["2024-01-%02d" % d for d in range(1, 29)] + ["2099-01-01"]
    >>> early, late = stray_timestamps(pd.DataFrame({"timestamp": pd.to_datetime(days)}))
    >>> early, late["rows"], late["last"], late["bulk"]
    ({}, 1, '2099-01-01', '2024-01-28')
    """
    ts = np.sort(interactions["timestamp"].dropna().to_numpy())
    n = len(ts)
    m = stray_edge_rows(n, max_share)
    return stray_from_ends(ts[:m + 1], ts[n - m - 1:], n, min_gap_days)


def stray_edge_rows(n: int, max_share: float = 0.02) -> int:
    """How many rows at each end of a log of ``n`` rows :func:`stray_timestamps` may call stray
    (``m``); it reads the ``m + 1`` earliest and ``m + 1`` latest timestamps only.

    Example
    -------
    >>> stray_edge_rows(29), stray_edge_rows(1_000)
    (1, 20)
    """
    if n < 3:
        return 0
    return min(max(1, int(n * max_share)), (n - 1) // 2)


def stray_from_ends(head, tail, n: int, min_gap_days: int = 90) -> tuple[dict, dict]:
    """:func:`stray_timestamps` from the ends of the sorted log alone.

    Parameters
    ----------
    head, tail : array of datetime64
        The ``m + 1`` earliest and the ``m + 1`` latest timestamps, sorted
        (``m = stray_edge_rows(n)``): an engine that cannot sort the whole log (Spark) fetches
        just these.
    n : int
        Rows in the log.
    min_gap_days : int

    Returns
    -------
    (early, late) : as :func:`stray_timestamps`.
    """
    if n < 3:
        return {}, {}
    head = np.asarray(head, dtype="datetime64[ns]")
    tail = np.asarray(tail, dtype="datetime64[ns]")
    m = len(head) - 1
    first_tail = n - m - 1  # the row number of tail[0]
    # early: rows [0, lo) stray, bulk starts at lo (1 <= lo <= m); late: rows [hi, n) stray
    head_gaps, tail_gaps = np.diff(head), np.diff(tail)
    lo = 1 + int(np.argmax(head_gaps))
    hi = n - m + int(np.argmax(tail_gaps))
    threshold = max(np.timedelta64(min_gap_days, "D"), tail[hi - 1 - first_tail] - head[lo])
    is_early = head_gaps[lo - 1] > threshold
    is_late = tail_gaps[hi - 1 - first_tail] > threshold
    early = late = {}
    if is_early:
        early = {"rows": lo, "first": str(pd.Timestamp(head[0]).date()),
                 "bulk": str(pd.Timestamp(head[lo]).date())}
    if is_late:
        late = {"rows": n - hi, "last": str(pd.Timestamp(tail[-1]).date()),
                "bulk": str(pd.Timestamp(tail[hi - 1 - first_tail]).date())}
    return early, late


def log_gap_days(interactions: pd.DataFrame, as_of) -> int:
    """Whole days from the end of the log (the day after its last interaction) to ``as_of``;
    0 when as-of is inside the log."""
    gap = (pd.Timestamp(as_of) - default_as_of(interactions)) / pd.Timedelta(days=1)
    return max(0, int(np.floor(gap)))


def coded_log(interactions: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The log as every cut-off of an analysis reads it: identifiers coded
    (:func:`~graphchurn.graph.customer_graph.encode_ids`), rows in time order (stable, so rows
    of one moment keep their file order) and ties numbered
    (:func:`~graphchurn.graph.customer_graph.encode_pairs`).

    Example
    -------
    >>> log = pd.DataFrame({"src": ["b", "a"], "dst": ["a", "c"],
    ...                     "timestamp": pd.to_datetime(["2025-01-02", "2025-01-01"])})
    >>> coded = coded_log(log)
    >>> coded["src"].astype(str).tolist(), coded["pair"].cat.codes.tolist()
    (['a', 'b'], [1, 0])
    """
    coded = encode_ids(interactions, customers)
    if not coded["timestamp"].is_monotonic_increasing:
        order = np.argsort(coded["timestamp"].to_numpy(), kind="stable")
        coded = coded.iloc[order].reset_index(drop=True)
    return encode_pairs(coded)


def cut_at(interactions: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp):
    """Inputs as they were knowable at ``as_of``: later rows dropped, later churn dates blanked."""
    return before(interactions, as_of), known_customers(customers, as_of)


def feature_kwargs(cfg: AnalyzeConfig, definition: str) -> dict:
    """Keyword arguments of :func:`build_features` for a config."""
    draws = cfg.influence_draws
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"influence_draws must be a whole number >= 1, not {draws!r}",
                         parameter="influence_draws")
    return dict(
        definition=definition,
        horizon_days=cfg.horizon_days,
        active_window_days=cfg.active_window_days,
        window_days=cfg.window_days,
        recent_departure_days=cfg.recent_departure_days,
        community_method=cfg.community_method,
        resolution=cfg.resolution,
        max_degree=cfg.max_degree,
        seed=cfg.seed,
        influence_draws=cfg.influence_draws,
    )


#: ``AnalyzeConfig.model_folds`` for a stable ranking: cross-fitted models averaged
#: (``ChurnModel.holdout_folds``). One held-out slice makes a customer's probability depend on
#: which slice the seed, and the spelling of the ids, put them in (issue 22;
#: experiments/results/stability.md). The folds are dealt on a fixed fold seed over
#: :func:`canonical_groups`, so they are a function of the data alone; the seed still drives
#: boosting, communities and influence sampling. Not the default: it doubles the model's time
#: and cost ROC-AUC on small worlds (experiments/results/stability.md), and scale comes first.
STABLE_MODEL_FOLDS = 5


def community_kwargs(cfg: AnalyzeConfig) -> dict:
    """Keyword arguments of :func:`graphchurn.features.build.community_part` for a config."""
    return dict(community_method=cfg.community_method, resolution=cfg.resolution, seed=cfg.seed)


def model_table(X: pd.DataFrame, cfg: AnalyzeConfig) -> pd.DataFrame:
    """The columns of a feature table the churn model reads under ``cfg``: all but
    :data:`~graphchurn.features.build.COMMUNITY_FEATURES` unless ``cfg.community_features``
    (the scoring cut-off computes them for the outputs; training cut-offs do not)."""
    if cfg.community_features:
        return X
    return X.drop(columns=[c for c in COMMUNITY_FEATURES if c in X.columns])


def churn_model(cfg: AnalyzeConfig, **overrides) -> ChurnModel:
    """The churn model the pipeline uses, for a config."""
    # Churn signals are weak and noisy (a backtest AUC of 0.7-0.8 is typical), and most of a
    # feature table carries little of them: strongly regularised learners rank better.
    # Boosting grows small trees (4 leaves, so mostly main effects and pairwise interactions,
    # each leaf holding >= 0.5% of the rows) and stops early on a held-out slice of customers;
    # the same slice fits the Platt scaling of its log-odds (which keeps the ranking, where
    # isotonic plateaus would tie customers) and measures feature importance (the trees' path
    # contributions for boosting, permutation otherwise), so one model is fitted, not one per
    # calibration fold plus one for importance. Large tables are fitted on a sample (every
    # churner, stayers drawn and weighted back) of at most max_train_rows rows. The logistic
    # regression ("logistic", "ensemble") is L1-penalised with its strength chosen by
    # cross-validation. experiments/bench_model_scale.py compares this model with a calibrated
    # 5-fold ensemble. The held-out slice is dealt over canonical_groups (ordered_holdout), not
    # drawn: which customers it holds decides early stopping and the calibration, and a
    # seeded draw moved single customers' probabilities more than any other random step
    # (issue 22, experiments/results/stability.md).
    # "by_size" needs the table (see fit_churn_model); without one it is boosting's setting.
    estimator = "gbm" if cfg.estimator in ("by_size", "auto") else cfg.estimator
    params = dict(estimator=estimator, max_iter=300, learning_rate=0.05, max_leaf_nodes=4,
                  min_samples_leaf=0.005, C="auto", l1_ratio=1.0, normal_scores=False,
                  cv="holdout", holdout=0.2, holdout_folds=cfg.model_folds, fold_seed=0,
                  ordered_holdout=True,
                  max_train_rows=300_000, early_stopping=True,
                  calibration="sigmoid", importance="auto", importance_max_rows=10_000,
                  random_state=cfg.seed)
    params.update(overrides)
    return ChurnModel(**params)


def fit_churn_model(cfg: AnalyzeConfig, X: pd.DataFrame, y: pd.Series, latest=None,
                    **overrides) -> ChurnModel:
    """Fit :func:`churn_model` on stacked cut-offs, keeping each customer's rows together.

    ``X`` is indexed by ``customer_id`` (one row per customer and cut-off): calibration folds
    and the importance holdout split by customer, so no fold model is scored on a customer
    whose rows from a neighbouring cut-off it was trained on. ``latest`` (a boolean mask, see
    :func:`stack_cutoffs`) marks the newest cut-off's rows: the model's level is matched to
    their churn rate (``ChurnModel.fit``'s ``latest``) unless ``cfg.pooled_churn_rate``.
    """
    latest = None if cfg.pooled_churn_rate else latest
    check_finite_features(X)  # issue 26: no infinity reaches a model, the feature is named
    groups = canonical_groups(X)
    if overrides.get("estimator", None) is None:
        overrides.pop("estimator", None)
    if cfg.estimator == "by_size":
        # The settings by_size gives this table, unless the caller names another estimator
        # (naming the one it gives, as a rebuild from metrics["estimator"] does, is the same).
        sized = by_size(len(y))
        if overrides.get("estimator", sized["estimator"]) == sized["estimator"]:
            overrides = {**sized, **overrides}
    return churn_model(cfg, **overrides).fit(X, y, groups=groups, latest=latest)


def canonical_groups(X: pd.DataFrame) -> np.ndarray:
    """One integer per customer of a stacked table (index ``customer_id``), numbered in an
    order that does not depend on how the ids are spelled or on the seed.

    The model's folds (calibration, cross-fitting, the C search) shuffle the groups in the
    order of their labels; with the ids as labels, hashing every id (a pseudonymised export)
    dealt the customers into other folds and moved probabilities (issue 22). Here a
    customer's number is the rank of a hash of its first row's activity features
    (:data:`features.RFM_FEATURES`: computed from its own traffic, independent of ids, seed
    and communities), ties broken by first appearance in the table.

    Example
    -------
    >>> X = pd.DataFrame({"n_out": [3.0, 1.0, 3.0]}, index=["b", "a", "b"])
    >>> canonical_groups(X).tolist() == canonical_groups(X.rename(index={"b": "z"})).tolist()
    True
    """
    codes, uniques = pd.factorize(X.index.to_numpy())
    first = np.zeros(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # first row of each customer
    rfm = [c for c in RFM_FEATURES if c in X.columns] or list(X.columns[:1])
    content = pd.util.hash_pandas_object(X.iloc[first][rfm].reset_index(drop=True),
                                         index=False).to_numpy()
    order = np.lexsort((np.arange(len(uniques)), content))
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    return rank[codes]


def stack_cutoffs(labelled: list, positions=None):
    """Stack labelled cut-offs into one training table.

    Parameters
    ----------
    labelled : list of (X, y)
        Labelled cut-offs, newest first.
    positions : list of int, optional
        Which of them to stack (newest first); default all.

    Returns
    -------
    (X, y, latest) : the stacked table and labels, and a boolean mask of the rows that come
    from the newest stacked cut-off (``positions[0]``).

    Example
    -------
    >>> a = (pd.DataFrame({"f": [1.0, 2.0]}), pd.Series([0, 1]))
    >>> b = (pd.DataFrame({"f": [3.0]}), pd.Series([1]))
    >>> X, y, latest = stack_cutoffs([a, b])
    >>> latest.tolist(), y.tolist()
    ([True, True, False], [0, 1, 1])
    """
    positions = list(range(len(labelled))) if positions is None else list(positions)
    X = pd.concat([labelled[i][0] for i in positions])
    y = pd.concat([labelled[i][1] for i in positions])
    latest = np.zeros(len(y), dtype=bool)
    latest[:len(labelled[positions[0]][1])] = True
    return X, y, latest


def fit_rfm_baseline(cfg: AnalyzeConfig, X: pd.DataFrame, y: pd.Series) -> ChurnModel:
    """The backtest's reference: a logistic regression on the RFM columns of ``X`` alone
    (:data:`features.RFM_FEATURES`), rows grouped by customer as in :func:`fit_churn_model`.
    Score with ``model.predict_proba(X_test[model.feature_names_in_])``."""
    rfm = [c for c in RFM_FEATURES if c in X.columns]
    # Fixed C, L2, lbfgs on standardised columns, one held-out Platt scaling, at most 300,000
    # (weighted) rows: cheap at any size.
    return ChurnModel(estimator="logistic", C=1.0, l1_ratio=0.0, cv="holdout",
                      max_train_rows=300_000, calibration="sigmoid", importance=None,
                      random_state=cfg.seed).fit(
        X[rfm], y, groups=X.index.to_numpy())


ESTIMATORS = ("gbm", "logistic", "ensemble")
# estimator="by_size": the ensemble below this many stacked training rows, boosting alone from
# it on. On 6,000-customer worlds (about 11,500 training rows) boosting alone ranked 0.008 AUC
# below the 5-fold-calibrated ensemble and the ensemble with a held-out calibration within
# 0.002 of it; at 100,000 customers (190,000 rows) boosting alone matched it at a fraction of
# the time, the ensemble's penalty search being what makes large fits slow
# (experiments/results/bench_model_scale.md).
ENSEMBLE_MAX_ROWS = 50_000
# ... and below this many rows (a small real log: Bitcoin OTC's tables hold 1,100-2,500 rows)
# the ensemble keeps 5-fold calibration (200 trees): a held-out fifth of so few rows cost it
# 0.005 AUC on average there, and its fits are cheap at that size.
FOLD_CALIBRATION_MAX_ROWS = 5_000


def by_size(n_rows: int) -> dict:
    """The :func:`churn_model` overrides of ``estimator="by_size"`` for a training table of
    ``n_rows`` rows.

    Example
    -------
    >>> by_size(2_000), by_size(20_000), by_size(200_000)
    ({'estimator': 'ensemble', 'cv': 5, 'max_iter': 200}, {'estimator': 'ensemble'}, {'estimator': 'gbm', 'learning_rate': 0.1})
    """
    if n_rows < FOLD_CALIBRATION_MAX_ROWS:
        return {"estimator": "ensemble", "cv": 5, "max_iter": 200}
    if n_rows < ENSEMBLE_MAX_ROWS:
        return {"estimator": "ensemble"}
    # Boosting alone on a large table takes twice the learning rate: half the trees (and so
    # half the fit, the early-stopping scoring and the reasons' tree walks) for a ranking
    # within 0.001 ROC-AUC of the smaller steps (docs/results.md#operator-scale-issue-27).
    return {"estimator": "gbm", "learning_rate": 0.1}


#: Least log, in days, a training cut-off needs behind it: its active customers are those who
#: called in the days before it, so a cut-off at the log's first day has nobody to label.
MIN_HISTORY_DAYS = 1


def labelled_cutoffs(interactions: pd.DataFrame, as_of, cfg: AnalyzeConfig) -> list[pd.Timestamp]:
    """The training cut-offs of an analysis, newest first: :func:`windows.training_cutoffs`
    (``cfg.n_train_cutoffs`` of them, ``cfg.train_cutoff_step_days`` apart, the newest at
    ``as_of - horizon``) that the log reaches.

    The newest cut-off (the one whose labels end at as-of) is used whenever it has at least
    :data:`MIN_HISTORY_DAYS` of log before it, even less than a full activity window (issue
    22: a 47-day log asked for a 30-day horizon trains on its cut-off 30 days back, with 17
    days of history); its features then describe the days the log covers
    (:func:`history_days`, ``FeatureSet.covered_share``). Older cut-offs add training rows
    only with a full activity window of log behind them: with a newer cut-off to learn from,
    a short-history one would only add rows on another scale of activity.

    Parameters
    ----------
    interactions : pandas.DataFrame
        The log (only its first timestamp is read).
    as_of : pandas.Timestamp
    cfg : AnalyzeConfig

    Returns
    -------
    list of pandas.Timestamp

    Example
    -------
    >>> log = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01"])})
    >>> cfg = AnalyzeConfig(n_train_cutoffs=4, train_cutoff_step_days=15)
    >>> [str(c.date()) for c in labelled_cutoffs(log, pd.Timestamp("2024-04-01"), cfg)]
    ['2024-03-02', '2024-02-16', '2024-02-01']
    >>> [str(c.date()) for c in labelled_cutoffs(log, pd.Timestamp("2024-02-17"), cfg)]
    ['2024-01-18']
    """
    if len(interactions) == 0:
        return []
    first = interactions["timestamp"].min().normalize()
    newest = as_of - pd.Timedelta(days=cfg.horizon_days)
    if newest - first < pd.Timedelta(days=MIN_HISTORY_DAYS):
        return []
    # Older cut-offs need a full activity window of history behind them.
    history = pd.Timedelta(days=cfg.active_window_days or cfg.horizon_days)
    if newest - history < first:
        return [newest]
    # Only as many cut-offs as the log reaches are generated, so a large --train-cutoffs
    # never steps past the dates pandas can represent.
    step = pd.Timedelta(days=cfg.train_cutoff_step_days or cfg.horizon_days)
    reachable = int((newest - history - first) // step) + 1
    return training_cutoffs(as_of, cfg.horizon_days, min(cfg.n_train_cutoffs, reachable),
                            step_days=cfg.train_cutoff_step_days)


def history_days(interactions: pd.DataFrame, cutoff) -> int:
    """Whole days of log before ``cutoff`` (from the day of the first interaction)."""
    first = interactions["timestamp"].min().normalize()
    return max(0, int((pd.Timestamp(cutoff) - first) // pd.Timedelta(days=1)))


def too_short_message(interactions: pd.DataFrame, as_of, cfg: AnalyzeConfig) -> str:
    """Why no training cut-off exists, and the shortest log or longest horizon that works."""
    span = history_days(interactions, as_of)
    need = cfg.horizon_days + MIN_HISTORY_DAYS
    newest = as_of - pd.Timedelta(days=cfg.horizon_days)
    fix = (f"give a horizon of at most {span - MIN_HISTORY_DAYS} days, or a log of at least "
           f"{need} days"
           if span > MIN_HISTORY_DAYS else f"give a log of at least {need} days")
    return (f"the log spans {span} day(s) before {as_of.date()}, too little for a horizon of "
            f"{cfg.horizon_days} days: no labelled training cut-off exists (the newest would be "
            f"{newest.date()}, with no log before it); {fix}")


def backtest_training(cutoffs: list, horizon_days) -> list[int]:
    """Positions of the cut-offs a backtest on ``cutoffs[0]`` may train on: those whose label
    horizon has ended by ``cutoffs[0]`` (with cut-offs closer than a horizon apart, the next
    older one still has churn to come after the test cut-off, so it would leak).

    Parameters
    ----------
    cutoffs : list of pandas.Timestamp
        Newest first.
    horizon_days : int

    Returns
    -------
    list of int

    Example
    -------
    >>> days = pd.to_datetime(["2024-03-02", "2024-02-16", "2024-02-01", "2024-01-17"])
    >>> backtest_training(list(days), 30)
    [2, 3]
    """
    if not cutoffs:
        return []
    horizon = pd.Timedelta(days=horizon_days)
    return [i for i, c in enumerate(cutoffs) if i > 0 and c + horizon <= cutoffs[0]]


#: The backtest's note when no older cut-off's labels are known by the newest one.
ONE_CUTOFF_BACKTEST = "only one labelled cut-off: backtest on a random 30% of its customers"


def backtest_split(labelled: list, cutoffs: list, horizon_days: int, seed: int = 0):
    """The backtest's training table and the rows it is measured on.

    The test rows are the newest labelled cut-off's; the training table stacks the cut-offs
    whose labels were known by it (:func:`backtest_training`). Without such a cut-off, a
    random 30% of the newest cut-off's customers (drawn with ``seed``) are held out and the
    rest trained on.

    Parameters
    ----------
    labelled : list of (X, y)
        Labelled cut-offs, newest first.
    cutoffs : list of pandas.Timestamp
        Their dates.
    horizon_days : int
    seed : int, default 0

    Returns
    -------
    ((X_fit, y_fit, latest_fit), (X_test, y_test), positions)
        ``latest_fit`` marks the rows of the newest stacked cut-off (:func:`stack_cutoffs`;
        None for the random hold-out, whose level is already its cut-off's); ``positions``
        are the cut-offs stacked (empty for the random hold-out).

    Example
    -------
    >>> days = list(pd.to_datetime(["2024-03-02", "2024-02-01"]))
    >>> a = (pd.DataFrame({"f": [1.0, 2.0]}), pd.Series([0, 1]))
    >>> b = (pd.DataFrame({"f": [3.0, 4.0]}), pd.Series([1, 0]))
    >>> (X_fit, y_fit, latest), (X_test, y_test), positions = backtest_split([a, b], days, 30)
    >>> positions, X_fit["f"].tolist(), X_test["f"].tolist()
    ([1], [3.0, 4.0], [1.0, 2.0])
    """
    X_test, y_test = labelled[0]
    positions = backtest_training(cutoffs, horizon_days)
    if positions:
        return stack_cutoffs(labelled, positions), (X_test, y_test), positions
    held = np.random.default_rng(seed).random(len(y_test)) < 0.3
    return (X_test[~held], y_test[~held], None), (X_test[held], y_test[held]), []


def choose_estimator(labelled: list, cutoffs: list, cfg: AnalyzeConfig, known: dict | None = None):
    """Pick the estimator by temporal validation when ``cfg.estimator == "auto"``; by the
    stacked training rows of ``labelled`` when ``"by_size"`` (:data:`ENSEMBLE_MAX_ROWS`).

    Candidates (:data:`ESTIMATORS`) are fitted on the cut-offs of ``labelled`` (newest first)
    whose labels were known at the newest (:func:`backtest_training`) and compared by ROC-AUC
    on the newest. Gradient boosting wins on large, rich tables; regularised logistic
    regression on small or sparse ones (a few thousand rows of a real log), so neither is right
    everywhere; their soft-voting ensemble is often better than both in between (measured in
    experiments/ablation.py).

    Parameters
    ----------
    labelled : list of (X, y)
        Labelled cut-offs, newest first.
    cutoffs : list of pandas.Timestamp
        Their dates.
    cfg : AnalyzeConfig
    known : dict, optional
        ROC-AUCs already measured on the same split, by estimator (not refitted).

    Returns
    -------
    (estimator, table) : the chosen name and {name: validation ROC-AUC} (None when fixed);
    the name is None for ``"by_size"``, which :func:`fit_churn_model` resolves.
    """
    if cfg.estimator == "by_size":  # fit_churn_model resolves it from its table
        return None, None
    if cfg.estimator != "auto":
        return cfg.estimator, None
    older = backtest_training(cutoffs, cfg.horizon_days) if labelled else []
    if not older:
        return ESTIMATORS[0], None
    X_val, y_val = labelled[0]
    # Compared by ROC-AUC, which the level (latest=) does not change.
    X_fit, y_fit, _ = stack_cutoffs(labelled, older)
    if y_fit.nunique() < 2 or y_val.nunique() < 2:
        return ESTIMATORS[0], None
    scores = dict(known or {})
    for name in ESTIMATORS:
        if name not in scores:
            model = fit_churn_model(cfg, X_fit, y_fit, estimator=name, importance=None)
            scores[name] = evaluate(y_val.to_numpy(), model.predict_proba(X_val)[:, 1])["roc_auc"]
    best = max(ESTIMATORS, key=lambda name: (scores[name] is not None, scores[name] or 0.0))
    return best, {k: (None if v is None else round(float(v), 4)) for k, v in scores.items()}


def with_draw(X: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``X`` with ``frame``'s columns (those ``X`` has) in place, row by row.

    Parameters
    ----------
    X : pandas.DataFrame
    frame : pandas.DataFrame
        One influence draw's columns (``FeatureSet.influence_draws``), indexed by at least
        ``X``'s index (a KeyError otherwise).

    Returns
    -------
    pandas.DataFrame
        ``X`` with those columns replaced, in ``X``'s dtypes; ``X`` itself is left as it was.

    Example
    -------
    >>> X = pd.DataFrame({"influencer_score": [0.2, 0.8], "f": [1.0, 0.0]}, index=["a", "b"])
    >>> draw = pd.DataFrame({"influencer_score": [0.6, 0.4]}, index=["b", "a"])
    >>> with_draw(X, draw)["influencer_score"].tolist(), X["influencer_score"].tolist()
    ([0.4, 0.6], [0.2, 0.8])
    """
    columns = [c for c in frame.columns if c in X.columns]
    variant = X.copy()
    rows = frame.loc[X.index, columns]
    for c in columns:
        variant[c] = rows[c].to_numpy().astype(X[c].dtype)
    return variant


def averaged_over_draws(score, X: pd.DataFrame, draws) -> np.ndarray:
    """Mean probability over the draws of the RR sets: ``X`` (its own draw) and ``X`` with each
    other draw's influence columns in place, each scored by its own model or by one.

    The influence columns (``influencer_score``, ``departed_influencer_contact``) and the
    models fitted on them rest on one random draw of RR sets, and boosted trees turn a small
    change of a column into a step where it crosses a split: the seed moved single customers by
    a step. The mean over draws estimates the expectation over the sampling noise, which the
    seed moves little (issue 22, experiments/results/stability_averaged.md).

    Parameters
    ----------
    score : callable or list of callables
        Rows -> probabilities. One callable scores every draw; a list holds one per draw
        (``1 + len(draws)``: first the one for ``X`` itself), each model fitted on its draw.
    X : pandas.DataFrame
        The table's own rows (its own draw).
    draws : list of pandas.DataFrame
        The other draws' columns (:func:`with_draw`). Empty: ``score(X)`` itself.

    Returns
    -------
    numpy.ndarray
        ``(score_0(X) + sum over k of score_k(X with draw k)) / (1 + len(draws))``.

    Example
    -------
    >>> X = pd.DataFrame({"influencer_score": [0.2, 0.8], "f": [1.0, 0.0]}, index=["a", "b"])
    >>> other = pd.DataFrame({"influencer_score": [0.6, 0.4]}, index=["b", "a"])
    >>> p = averaged_over_draws(lambda t: t["influencer_score"].to_numpy() + t["f"].to_numpy(),
    ...                         X, [other])
    >>> p.round(6).tolist()  # a: (1.2 + 1.4) / 2; b: (0.8 + 0.6) / 2
    [1.3, 0.7]
    >>> twice = lambda t: 2 * t["influencer_score"].to_numpy()
    >>> averaged_over_draws([twice, lambda t: t["f"].to_numpy()], X, [other]).round(6).tolist()
    [0.7, 0.8]
    """
    scorers = list(score) if isinstance(score, (list, tuple)) else [score] * (1 + len(draws))
    if len(scorers) != 1 + len(draws):
        raise ValueError(f"{len(scorers)} scorers for {1 + len(draws)} draws")
    total = np.asarray(scorers[0](X), dtype=float).copy()
    for scorer, frame in zip(scorers[1:], draws):
        total += np.asarray(scorer(with_draw(X, frame)), dtype=float)
    return total / (1 + len(draws))


def labelled_table(interactions, customers, fs: FeatureSet, cfg: AnalyzeConfig, definition: str):
    """The feature table of a training cut-off and its churn labels, on the same customers."""
    labels = churn_labels(interactions, customers, fs.cutoff, cfg.horizon_days, definition,
                          cfg.active_window_days or cfg.horizon_days)
    ids = fs.table.index.intersection(labels.index, sort=False)
    if len(ids) == len(fs.table):
        # Every row labelled (the usual case): the table itself, in its own order, rather than
        # a second copy of it beside the FeatureSet's (nothing downstream writes into it).
        return fs.table, labels.loc[ids].astype(int)
    return fs.table.loc[ids], labels.loc[ids].astype(int)


def add_embeddings(sets: list[FeatureSet], cfg: AnalyzeConfig, notes: list[str]) -> None:
    """GraphSAGE embeddings (unsupervised link objective) fitted on the latest training graph
    and applied inductively to every cut-off's graph, so all cut-offs share one space.

    The objective uses no churn labels, so the embeddings cannot leak the training labels into
    the model that stacks on them.
    """
    try:
        from graphchurn.models.embed import GraphSAGEEmbedder
    except ImportError:  # the light install: no torch / torch-geometric
        log.warning("graph embeddings skipped: torch and torch-geometric are not installed "
                    "(pip install 'graphchurn[gnn]')")
        notes.append("graph embeddings skipped: torch is not installed")
        return

    def node_matrix(fs: FeatureSet) -> np.ndarray:
        # (the same columns at every cut-off: as-of has the community columns for the outputs)
        numeric = model_table(fs.vertex_features, cfg).astype(float).fillna(0.0)
        return np.log1p(numeric.clip(lower=0).to_numpy())

    def data(fs: FeatureSet):
        # In the canonical order (vertices and ties), as the other random steps: the
        # initialisation and the sampled edges then do not depend on how ids are spelled.
        position = fs.canonical_position
        if position is None:
            position = canonical_positions(fs.graph.graph)
        return fs.graph.to_pyg(node_matrix(fs), position=position), position

    train_fs = sets[1] if len(sets) > 1 else sets[0]
    embedder = GraphSAGEEmbedder(dim=cfg.embedding_dim, epochs=cfg.embedding_epochs,
                                 objective="link", seed=cfg.seed)
    start = time.perf_counter()
    embedder.fit(data(train_fs)[0])
    log.info("  GraphSAGE fitted (%d epochs, %d vertices) in %.1f s", cfg.embedding_epochs,
             train_fs.graph.graph.vcount(), time.perf_counter() - start)
    for fs in sets:
        start = time.perf_counter()
        pyg, position = data(fs)
        emb = embedder.transform(pyg)[position]
        log.debug("  embeddings at %s in %.1f s", fs.cutoff.date(), time.perf_counter() - start)
        frame = pd.DataFrame(emb, index=fs.vertex_features.index,
                             columns=[f"embedding_{i}" for i in range(emb.shape[1])])
        fs.table = fs.table.join(frame, how="left")
    notes.append(f"GraphSAGE embeddings ({cfg.embedding_dim} dimensions, link objective) "
                 f"fitted on the graph before {train_fs.cutoff.date()}")


class ChurnPipeline:
    """The whole analysis as one object: ``fit`` on a log, then ``backtest`` and ``score``.

    The command line, the web workspace and the experiments all run this object (``analyze``
    is ``ChurnPipeline(config).fit(...).analysis_``). Stages, in order: cut the inputs at
    as-of (nothing later is read), build every cut-off's features with the same code
    (:func:`graphchurn.features.build_features`), add graph embeddings, label the training
    cut-offs (together :meth:`prepare`), fit a model on the older ones and measure it on the
    latest labelled cut-off (the backtest), then refit on all of them and score the customers
    active at as-of.

    ``config.engine`` picks where the row-proportional stages run: ``"local"`` (this object)
    or ``"spark"``, for which ``ChurnPipeline(config)`` returns a
    :class:`graphchurn.engines.spark.SparkPipeline` (same steps and attributes; ``fit`` also
    takes paths Spark reads, see docs/spark.md).

    Parameters
    ----------
    config : AnalyzeConfig, optional
        Settings; ``as_of`` defaults to the day after the last interaction.
    keep_training_graphs : bool, default True
        Keep each training cut-off's graph, communities, influence, roles, departures and
        vertex features in ``training_`` (what :func:`contagion_history` reads). The Spark
        engine's default is False: its driver then holds one graph (the scoring cut-off's)
        instead of one per cut-off.
    **engine_options
        Options of a non-local engine (Spark: ``spark``, ``master``, ``conf``, ``columns``,
        ``customer_columns``, ``read_format``, ``features_on``); the local engine takes none.

    Attributes
    ----------
    as_of_ : pandas.Timestamp
    definition_ : str
        The churn definition used ("contract" or "inactivity").
    cutoffs_ : list of pandas.Timestamp
        Labelled training cut-offs, newest first.
    customers_ : pandas.DataFrame or None
        The customer table as knowable at as-of (churn dates after it blanked).
    scoring_ : FeatureSet
        The features at as-of (the customers to score).
    training_ : list of FeatureSet
        The features at each of ``cutoffs_``; with ``keep_training_graphs=False`` their graph
        and per-vertex fields are released once their features (and embeddings) are built
        (:meth:`FeatureSet.release_graph`: the tables stay).
    labelled_ : list of (pandas.DataFrame, pandas.Series)
        Each training cut-off's feature table (index ``customer_id``) and 0/1 churn labels,
        on the customers active there; newest first.
    backtest_training_ : list of int
        Positions in ``cutoffs_`` of the cut-offs the backtest trains on (their labels are
        known by the newest); empty when it holds out a random 30% of the newest cut-off's
        customers instead.
    backtest_fit_ : (pandas.DataFrame, pandas.Series, numpy.ndarray or None)
        The table, labels and newest-cut-off mask the backtest model is fitted on
        (:func:`backtest_split`; stacked anew on each access, so that the pipeline does not
        hold a second copy of the training tables).
    backtest_test_ : (pandas.DataFrame, pandas.Series)
        The rows the backtest is measured on: the newest cut-off's.
    notes_ : list of str
        Plain statements about the run (dropped cut-offs, short history, model choice).
    timings_ : dict
        Seconds per stage.
    backtest_model_, model_ : ChurnModel
        The backtest's model (trained on ``backtest_fit_``) and the scoring model (on every
        labelled cut-off).
    backtest_metrics_ : dict
        What :meth:`backtest` returns.
    analysis_ : Analysis
        Everything found, as the output writers read it.

    Example
    -------
    >>> from graphchurn.synth import generate_world
    >>> world = generate_world(n_customers=300, days=100, seed=0)
    >>> pipe = ChurnPipeline(AnalyzeConfig(embeddings=False)).fit(world.interactions,
    ...                                                           world.customers)
    >>> 0.0 <= pipe.backtest()["roc_auc"] <= 1.0
    True
    >>> scores = pipe.score()
    >>> bool(scores["churn_probability"].between(0, 1).all())
    True
    """

    def __new__(cls, config: AnalyzeConfig | None = None, *, keep_training_graphs=True,
                **engine_options):
        # ChurnPipeline(config) is the one entry for every engine: it builds the engine's
        # pipeline class (a subclass, whose __init__ Python then runs with the same arguments).
        chosen = cls
        if cls is ChurnPipeline:
            chosen = engine_pipeline(config.engine if config is not None else "local")
        return super().__new__(chosen)

    def __init__(self, config: AnalyzeConfig | None = None, *, keep_training_graphs=True,
                 **engine_options):
        if engine_options:
            raise InputError(f"{', '.join(sorted(engine_options))}: not an option of the local "
                             "engine (engine='spark' takes spark, master, conf, columns, "
                             "customer_columns, read_format, features_on)", parameter="engine")
        self.config = config
        self.keep_training_graphs = keep_training_graphs

    # ------------------------------------------------------------------ public steps

    def prepare(self, interactions: pd.DataFrame, customers: pd.DataFrame | None = None):
        """Build every cut-off's features and labels, as :meth:`fit` does, without a model.

        Resolves as-of and the churn definition, cuts the inputs at as-of, builds the
        features at as-of and at every labelled training cut-off with the same code, adds
        graph embeddings when the config asks for them, and labels the training cut-offs
        (an older cut-off with one class only is dropped, with a note). :meth:`fit` runs this
        first; experiments that compare models or feature sets on the pipeline's own tables
        start from it instead of re-assembling these steps.

        Parameters
        ----------
        interactions, customers : pandas.DataFrame
            Validated inputs from :mod:`graphchurn.io` (``customers`` may be None).

        Returns
        -------
        self

        Raises
        ------
        NoChurnHistory
            The log is too short for a labelled cut-off, or the newest one has churners only
            or none.

        Notes
        -----
        Sets ``as_of_``, ``definition_``, ``cutoffs_``, ``customers_``, ``scoring_``,
        ``training_``, ``labelled_``, ``backtest_training_``, ``notes_`` and ``timings_``;
        ``backtest_fit_`` and ``backtest_test_`` read from them (the class's Attributes).

        Example
        -------
        >>> from graphchurn.synth import generate_world
        >>> world = generate_world(n_customers=300, days=100, seed=0)
        >>> pipe = ChurnPipeline(AnalyzeConfig(embeddings=False)).prepare(world.interactions,
        ...                                                               world.customers)
        >>> [str(c.date()) for c in pipe.cutoffs_], pipe.backtest_training_
        (['2025-03-12', '2025-02-10'], [1])
        >>> X, y = pipe.labelled_[0]
        >>> X.index.equals(y.index), sorted(y.unique().tolist())
        (True, [0, 1])
        >>> X_fit, y_fit, latest = pipe.backtest_fit_
        >>> X_fit.index.equals(pipe.labelled_[1][0].index)
        True
        """
        cfg = self.config or AnalyzeConfig()
        self._stages = _Stages()
        self.timings_ = self._stages.timings
        self.notes_: list[str] = []
        self._early = None
        self._build_tables(interactions, customers, cfg, self._fitting)
        if not self.backtest_training_:
            self.notes_.append(ONE_CUTOFF_BACKTEST)
        return self

    def fit(self, interactions: pd.DataFrame, customers: pd.DataFrame | None = None):
        """Build the features of every cut-off (:meth:`prepare`, same parameters), run the
        backtest and fit the scoring model; returns self."""
        cfg = self.config or AnalyzeConfig()
        self._fitting = True  # prepare may fit the backtest model early (_early_backtest)
        try:
            self.prepare(interactions, customers)
        finally:
            self._fitting = False
        self._fit_models(cfg)
        self._score_as_of(cfg)
        self.analysis_ = self._analysis(cfg)
        return self

    @property
    def backtest_fit_(self):
        """(X, y, latest) the backtest model is fitted on (see :meth:`prepare`)."""
        return self._backtest_split()[0]

    @property
    def backtest_test_(self):
        """(X, y) the backtest is measured on (see :meth:`prepare`)."""
        return self._backtest_split()[1]

    def backtest(self) -> dict:
        """Metrics of the backtest on the latest fully labelled cut-off (ROC-AUC, PR-AUC, lift,
        EMP, log loss, the RFM baseline's metrics, what it was trained on)."""
        self._check_fitted()
        return dict(self.backtest_metrics_)

    def score(self) -> pd.DataFrame:
        """The customers active at as-of with their churn probability, rank, group, influence,
        susceptibility and reasons (the command line's ``scores.csv``)."""
        self._check_fitted()
        return self.analysis_.scores.copy()

    def _check_fitted(self):
        if not hasattr(self, "analysis_"):
            raise RuntimeError("this ChurnPipeline is not fitted yet: call fit(interactions, "
                               "customers) first")

    # ------------------------------------------------------------------ stages

    def _stray(self, interactions) -> tuple[dict, dict]:
        """:func:`stray_timestamps` of the log (an engine hook: the Spark engine counts them on
        the whole log, where ``interactions`` holds only the rows labels read)."""
        return stray_timestamps(interactions)

    def _features(self, interactions, customers, cutoff, **kwargs) -> FeatureSet:
        """Features at one cut-off (the engine hook: graphchurn.engines.spark overrides it)."""
        return build_features(interactions, customers, cutoff, **kwargs)

    #: Whether this engine may run the cut-offs' feature builds and the reasons in forked
    #: workers (:mod:`graphchurn.features.workers`); the Spark engine's driver holds a Spark
    #: session, which a fork would share.
    forks_workers = True
    #: Set by :meth:`fit` around its :meth:`prepare`: the backtest model may be fitted then.
    _fitting = False

    def _cutoff_features(self, interactions, customers, cutoffs, kwargs, *, keep_graphs,
                         on_built=None):
        """Features at each of ``cutoffs``: the first is as-of (the scoring cut-off, built in
        this process and kept whole), the others training cut-offs, whose graphs are released
        unless ``keep_graphs``. Up to ``config.n_jobs`` are built side by side, the oldest
        training cut-off first; ``on_built(i, features)`` is told of each (``map_forked``'s
        ``on_result``, ``i`` a position in ``cutoffs``)."""
        cfg = self.config or AnalyzeConfig()
        names = ["features at as-of"] + [f"features at cut-off {c.date()}" for c in cutoffs[1:]]

        def build(i):
            start = time.perf_counter()
            log.info("%s ...", names[i])
            # Communities at as-of are part of the outputs (found later when fitting, see
            # _fit_models); at a training cut-off only the model could read them.
            fs = self._features(interactions, customers, cutoffs[i], **kwargs,
                                communities=cfg.community_features
                                or (i == 0 and not self._fitting))
            if i and not keep_graphs:
                # Released as soon as built (and before a worker pickles it): one training
                # graph at a time is all that memory holds.
                fs.release_graph()
            log.info("%s done in %.1f s", names[i], time.perf_counter() - start)
            return fs

        try:
            n_jobs = resolve_n_jobs(cfg.n_jobs if self.forks_workers else None,
                                    len(cutoffs))
        except ValueError as exc:
            raise InputError(str(exc), parameter="n_jobs") from None
        start = time.perf_counter()
        # The backtest trains on the older cut-offs: built first, it can be fitted here while
        # a worker builds the newest (see _early_backtest).
        order = [0] + list(range(len(cutoffs) - 1, 0, -1))
        told = None if on_built is None else (lambda k, fs: on_built(order[k], fs))
        # (The whole log bounds every cut-off's window.)
        built = map_forked(build, order, n_jobs=n_jobs, on_result=told,
                           worker_bytes=WORKER_BYTES_PER_ROW * len(interactions))
        built = [built[order.index(i)] for i in range(len(cutoffs))]
        for name, (_, seconds) in zip(names, built):
            self._stages.timings[name] = round(seconds, 3)
        if n_jobs > 1:
            self._stages.timings["features, side by side"] = round(time.perf_counter() - start, 3)
        return [fs for fs, _ in built]

    def _score(self, X: pd.DataFrame, model=None) -> np.ndarray:
        """Churn probability of each row of ``X`` by the scoring model, or by ``model`` (the
        engine hook: the Spark engine scores on its executors)."""
        return (self.model_ if model is None else model).predict_proba(X)[:, 1]

    def _n_draws(self) -> int:
        """Other influence draws every cut-off has (0: no averaging)."""
        sets = [self.scoring_] + list(self.training_)
        return min(len(fs.influence_draws) for fs in sets)

    def _draw_models(self, cfg, model, positions=None, name="draw models"):
        """One model per other influence draw, fitted as ``model`` (same estimator) on the
        labelled cut-offs at ``positions`` (None: all) with that draw's influence columns."""
        def fit(k):
            labelled = [(with_draw(X, fs.influence_draws[k]), y)
                        for (X, y), fs in zip(self.labelled_, self.training_)]
            X_k, y_k, latest_k = stack_cutoffs(labelled, positions)
            return fit_churn_model(cfg, X_k, y_k, latest=latest_k, importance=None,
                                   estimator=model.estimator)

        n = self._n_draws()
        return self._stages.run(name, lambda: [fit(k) for k in range(n)]) if n else []

    def _backtest_split(self):
        if not hasattr(self, "labelled_"):
            raise RuntimeError("this ChurnPipeline is not prepared yet: call "
                               "prepare(interactions, customers) or fit(...) first")
        cfg = self.config or AnalyzeConfig()
        return backtest_split(self.labelled_, self.cutoffs_, cfg.horizon_days, cfg.seed)

    def _build_tables(self, interactions, customers, cfg, early_backtest=False):
        """as-of, churn definition, cut inputs, cut-offs, features and labels; with
        ``early_backtest``, the backtest model as soon as its cut-offs are built."""
        notes = self.notes_
        as_of = resolve_as_of(interactions, cfg, self._stray(interactions))
        definition = resolve_churn_definition(customers, cfg.definition)
        if cfg.definition is None and customers is not None and definition == "inactivity":
            # Said out loud: a churn_date column that is present but empty (or misnamed) would
            # otherwise switch the whole analysis to another definition without a word.
            log.warning("the customer table has no churn dates: churn is inactivity (no "
                        "outgoing interaction in the horizon); map the column churn_date to it "
                        "if it has another name")
            notes.append("churn definition: inactivity (the customer table has no churn dates)")
        interactions, customers = cut_at(interactions, customers, as_of)
        if interactions.empty:
            raise InputError(f"no interactions before {as_of.date()}", parameter="as_of")
        # Identifiers and ties become integer codes once for every cut-off (graph, labels, tie
        # strengths), and the rows are put in time order so that every window is a slice.
        interactions = self._stages.run("coding identifiers", coded_log, interactions, customers)
        kwargs = feature_kwargs(cfg, definition)

        cutoffs = labelled_cutoffs(interactions, as_of, cfg)
        if not cutoffs:
            raise NoChurnHistory(too_short_message(interactions, as_of, cfg),
                                 parameter="horizon_days", as_of=as_of)
        window = cfg.active_window_days or cfg.horizon_days
        self._short_history = []
        for c in cutoffs:
            days = history_days(interactions, c)
            if days < window:
                log.warning("training cut-off %s has %d day(s) of history before it (less than "
                            "the %d-day activity window): its features cover those days only, "
                            "window totals scaled to a full window", c.date(), days, window)
                notes.append(f"short history: training cut-off {c.date()} has {days} day(s) of "
                             f"log before it (activity window {window} days); its features "
                             f"cover those days, totals scaled to a full window")
                self._short_history.append({"cutoff": str(c.date()), "history_days": days,
                                            "activity_window_days": window})

        stages = self._stages
        # Embeddings read every training graph: kept until then when they may be added.
        keep = self.keep_training_graphs or may_embed(cfg)
        on_built = (self._early_backtest(cfg, interactions, customers, definition, cutoffs)
                    if early_backtest else None)
        built = self._cutoff_features(interactions, customers, [as_of] + cutoffs, kwargs,
                                      keep_graphs=keep, on_built=on_built)
        scoring, training = built[0], built[1:]
        n_vertices = scoring.graph.graph.vcount()
        embed = use_embeddings(cfg, n_vertices)
        if keep and not (self.keep_training_graphs or embed):
            for fs in training:
                fs.release_graph()
        if embed:
            stages.run("graph embeddings", add_embeddings, [scoring] + training, cfg, notes)
            if not self.keep_training_graphs:
                for fs in training:
                    fs.release_graph()
        elif cfg.embeddings == "auto" and not EMBEDDINGS_AUTO:
            log.info("graph embeddings off (embeddings='auto'): their measured gain is nil and "
                     "they make the ranking depend on the seed; embeddings=True adds them")
        elif cfg.embeddings == "auto":
            log.info("graph embeddings skipped: %d vertices, above %d (embeddings='auto'; their "
                     "measured gain is nil)", n_vertices, EMBEDDINGS_AUTO_MAX_VERTICES)
            notes.append(f"no GraphSAGE embeddings: the graph has {n_vertices} vertices, above "
                         f"the {EMBEDDINGS_AUTO_MAX_VERTICES} up to which embeddings='auto' adds "
                         f"them (their measured gain is nil)")

        labelled = stages.run("labels", lambda: [
            labelled_table(interactions, customers, fs, cfg, definition) for fs in training])
        # An older cut-off with one class only (a quiet month, or the first weeks of a
        # churn_date column) is dropped with a note; the newest one is what the backtest
        # measures on, so without both classes there the run cannot go on.
        one_class = [i for i, (_, y) in enumerate(labelled) if y.nunique() < 2]
        if 0 in one_class:
            self._add_scoring_communities(cfg, scoring)  # the error carries the features
            y = labelled[0][1]
            gap = log_gap_days(interactions, as_of)
            late = self._stray(interactions)[1] if cfg.as_of is None else {}
            why = (f" (as_of is {gap} days after the log ends)" if gap else
                   f" (the default as-of follows {late['rows']} stray row(s) up to {late['last']}, "
                   f"far after the rest of the log, which ends {late['bulk']}: give as_of)"
                   if late else "")
            raise NoChurnHistory(f"the newest training cut-off {cutoffs[0].date()} has "
                                 f"{'no' if y.sum() == 0 else 'only'} churners under the "
                                 f"'{definition}' definition: nothing to learn from" + why,
                                 parameter="as_of" if gap > cfg.horizon_days or late else "definition",
                                 as_of=as_of, features=scoring)
        if one_class:
            dropped = ", ".join(str(cutoffs[i].date()) for i in one_class)
            log.warning("training cut-off(s) %s dropped: no churners (or only churners) there",
                        dropped)
            notes.append(f"training cut-off(s) {dropped} dropped: one class only under the "
                         f"'{definition}' definition")
            keep = [i for i in range(len(cutoffs)) if i not in one_class]
            cutoffs = [cutoffs[i] for i in keep]
            training = [training[i] for i in keep]
            labelled = [labelled[i] for i in keep]
        self.as_of_, self.definition_, self.cutoffs_ = as_of, definition, cutoffs
        self.customers_, self.scoring_, self.training_, self.labelled_ = (
            customers, scoring, training, labelled)
        self.backtest_training_ = backtest_training(cutoffs, cfg.horizon_days)

    def _run_backtest(self, cfg):
        """Fit on the cut-offs labelled by the newest one; measure on the newest."""
        cutoffs, labelled, older = self.cutoffs_, self.labelled_, self.backtest_training_
        (X_fit, y_fit, latest_fit), (X_test, y_test), _ = self._backtest_split()
        note = (f"trained on cut-offs {', '.join(str(cutoffs[i].date()) for i in older)}"
                if older else ONE_CUTOFF_BACKTEST)
        # Estimator choice ("auto"): each candidate is fitted on older cut-offs and compared on
        # the next one, never on the cut-off it is then measured on.
        if self._early_fits():
            # Fitted on these very tables while the newest cut-off was being built.
            self._inner_selection, (_, self.backtest_model_, baseline) = None, self._early
        else:
            estimator, self._inner_selection = choose_estimator(
                [labelled[i] for i in older], [cutoffs[i] for i in older], cfg)
            chosen = {} if estimator is None else {"estimator": estimator}
            self.backtest_model_ = self._stages.run("backtest model", fit_churn_model, cfg,
                                                    X_fit, y_fit, latest=latest_fit, **chosen)
            baseline = None
        # A model per other influence draw, each measured on its draw of the test cut-off
        # (with the random hold-out of one cut-off, the single model on the table's draw).
        self._backtest_draw_models = (self._draw_models(cfg, self.backtest_model_, older,
                                                        "backtest draw models")
                                      if older else [])
        self._stages.run("backtest scoring and baseline", self._measure_backtest, cfg, note,
                         X_fit, y_fit, X_test, y_test, baseline)

    def _measure_backtest(self, cfg, note, X_fit, y_fit, X_test, y_test, baseline=None):
        """The backtest model's metrics on the test cut-off, against the RFM baseline's."""
        model, cutoffs = self.backtest_model_, self.cutoffs_
        # The test cut-off's other influence draws (labelled_[0] is training_[0]'s table): the
        # backtest measures probabilities as the scoring gives them, averaged over the draws.
        draw_models = getattr(self, "_backtest_draw_models", [])
        p_test = averaged_over_draws(
            [lambda X, m=m: m.predict_proba(X)[:, 1] for m in [model] + draw_models], X_test,
            self.training_[0].influence_draws[:len(draw_models)])
        y = y_test.to_numpy()
        metrics = {"cutoff": str(cutoffs[0].date()), "as_of": str(self.as_of_.date()),
                   "horizon_days": cfg.horizon_days, "definition": self.definition_,
                   **evaluate(y, p_test), "backtest": note, "estimator": model.estimator}
        if baseline is None:
            baseline = fit_rfm_baseline(cfg, X_fit, y_fit)
        metrics["baseline_rfm_logistic"] = evaluate(
            y, baseline.predict_proba(X_test[baseline.feature_names_in_])[:, 1])
        self.backtest_metrics_ = metrics
        self._lift, self._calibration = lift_curve(y, p_test), calibration_table(y, p_test)

    def _early_backtest(self, cfg, interactions, customers, definition, cutoffs):
        """``on_built`` for the cut-offs' builds (:meth:`_cutoff_features`): once every
        cut-off the backtest trains on is built, label them and fit the backtest model and the
        RFM baseline here, while a worker still builds the newest cut-off (this process is
        free once it has built as-of). None where that cannot help or could differ from the
        backtest fitted afterwards: one process, ``estimator="auto"`` (its choice reads the
        newest cut-off), embeddings (added after every build), no older cut-off.

        The model is the one :meth:`_run_backtest` would fit on the same tables; it uses it
        only if the cut-offs kept after labelling are those it was fitted on (a cut-off with
        one class only is dropped, which changes the backtest's training table).
        """
        older = backtest_training(cutoffs, cfg.horizon_days)
        try:
            n_jobs = resolve_n_jobs(cfg.n_jobs, 2) if self.forks_workers else 1
        except ValueError:  # refused with the parameter's name by the builds
            return None
        if n_jobs == 1 or not older or cfg.estimator == "auto" or may_embed(cfg):
            return None
        tables = {}

        def on_built(i, fs):
            if i - 1 not in older:
                return
            tables[i - 1] = labelled_table(interactions, customers, fs, cfg, definition)
            if len(tables) < len(older) or any(y.nunique() < 2 for _, y in tables.values()):
                return
            X_fit, y_fit, latest = stack_cutoffs([tables.get(k) for k in range(len(cutoffs))],
                                                 older)
            # One thread: the worker building the newest cut-off keeps the other core.
            with threadpool_limits(limits=1, user_api="openmp"):
                model = self._stages.run("backtest model", fit_churn_model, cfg, X_fit, y_fit,
                                         latest=latest)
                baseline = self._stages.run("RFM baseline", fit_rfm_baseline, cfg, X_fit, y_fit)
            self._early = ([cutoffs[k] for k in older], model, baseline)

        return on_built

    def _early_fits(self) -> bool:
        """Whether the backtest model fitted early (:meth:`_early_backtest`) was fitted on the
        cut-offs the backtest trains on."""
        early = getattr(self, "_early", None)
        return early is not None and early[0] == [self.cutoffs_[i]
                                                  for i in self.backtest_training_]

    def _add_scoring_communities(self, cfg, scoring=None):
        """Communities, leaders and group columns at as-of, where they are still missing."""
        scoring = self.scoring_ if scoring is None else scoring
        if scoring.membership is None:
            self._stages.run("communities at as-of", add_communities, scoring,
                             **community_kwargs(cfg))

    def _fit_models(self, cfg):
        """The backtest and the scoring model, and the communities at as-of where the
        builds left them out. With the backtest model fitted early, its scoring on the newest
        cut-off (and the baseline's) and the communities run in a forked worker while this
        process fits the scoring model."""
        if not self._early_fits():
            self._run_backtest(cfg)
            self._fit_final(cfg)
            self._add_scoring_communities(cfg)
            return
        self._inner_selection = None
        items = ["final", "backtest"]
        if self.scoring_.membership is None:
            items.append("communities")

        def fit(which):
            if which == "final":
                return self._fit_final(cfg)
            if which == "communities":
                return community_part(self.scoring_, **community_kwargs(cfg))
            before = set(self._stages.timings)
            self._run_backtest(cfg)
            return (self.backtest_metrics_, self._lift, self._calibration,
                    {k: v for k, v in self._stages.timings.items() if k not in before})

        done = map_forked(fit, items, n_jobs=2)
        self.backtest_model_ = self._early[1]
        self.backtest_metrics_, self._lift, self._calibration, timings = done[1][0]
        self._stages.timings.update(timings)
        if len(done) > 2:
            part, seconds = done[2]
            self.scoring_.set_communities(part)
            self._stages.timings["communities at as-of"] = round(seconds, 3)

    def _fit_final(self, cfg):
        """The scoring model on every labelled cut-off."""
        known = None
        if cfg.estimator == "auto":  # the backtest's measure of its estimator is reused
            known = {self.backtest_metrics_["estimator"]: self.backtest_metrics_["roc_auc"]}
        estimator, outer = choose_estimator(self.labelled_, self.cutoffs_, cfg, known=known)
        self._selection = {"backtest": self._inner_selection, "final": outer}
        if (estimator is not None and known is not None
                and estimator != self.backtest_metrics_["estimator"]):
            self.notes_.append(f"the scoring model uses {estimator} (better on the latest "
                               f"labelled cut-off); the backtest measured "
                               f"{self.backtest_metrics_['estimator']}")
        X_all, y_all, latest_all = stack_cutoffs(self.labelled_)
        self._n_training_rows = len(y_all)
        # Feature importance comes from the backtest model (measured on held-out rows); the
        # final model skips it.
        chosen = {} if estimator is None else {"estimator": estimator}
        self.model_ = self._stages.run("final model", fit_churn_model, cfg, X_all, y_all,
                                       latest=latest_all, importance=None, **chosen)
        self._final_draw_models = self._draw_models(cfg, self.model_)

    def _score_as_of(self, cfg):
        """The scoring model's probabilities and reasons at as-of."""
        X_now = model_table(self.scoring_.table, cfg)
        draw_models = getattr(self, "_final_draw_models", [])
        scorers = [self._score] + [functools.partial(self._score, model=m) for m in draw_models]
        self._probability = (self._stages.run("scores at as-of", averaged_over_draws, scorers,
                                              X_now,
                                              self.scoring_.influence_draws[:len(draw_models)])
                             if len(X_now) else np.zeros(0))
        self._reasons = self._stages.run("reasons", self._reasons_for, X_now, cfg)

    def _reasons_for(self, X: pd.DataFrame, cfg) -> list[str]:
        """Each row's reasons in words; a large table in parts side by side (``cfg.n_jobs``):
        every row's reasons are its own, compared with the typical values of all rows."""
        if not len(X):
            return []
        # The final model has no importances of its own: the backtest model's choose the
        # features that reasons are sought among.
        importance = self.backtest_model_.feature_importances_
        typical = typical_values(X)

        def describe(rows):
            part = X.iloc[rows]
            return describe_reasons(part, top_reasons(self.model_, part, k=3,
                                                      importance=importance),
                                    cfg.recent_departure_days, typical=typical)

        n_jobs = (resolve_n_jobs(cfg.n_jobs, len(X) // REASONS_PART_MIN_ROWS)
                  if self.forks_workers and len(X) >= 2 * REASONS_PART_MIN_ROWS else 1)
        parts = np.array_split(np.arange(len(X)), n_jobs)
        done = map_forked(describe, parts, n_jobs=n_jobs,
                          worker_bytes=REASONS_BYTES_PER_ROW * len(parts[-1]))
        return [text for texts, _ in done for text in texts]

    def _analysis(self, cfg) -> Analysis:
        scoring = self.scoring_
        scores, groups, influencers = _tables(scoring, self._probability, self._reasons,
                                              self.customers_)
        metrics = dict(self.backtest_metrics_)
        metrics["estimator_selection"] = self._selection
        metrics.update({"n_scored": int(len(scores)), "n_training_rows": int(self._n_training_rows),
                        "training_cutoffs": [str(c.date()) for c in self.cutoffs_],
                        "graph": scoring.graph.summary(), "timings_s": self.timings_,
                        "feature_steps_s": {str(fs.cutoff.date()): fs.timings
                                            for fs in [scoring] + self.training_},
                        # Log-odds shifts matching each model's level to its newest cut-off's rate.
                        "level_shift": {"backtest": round(self.backtest_model_.level_shift_, 4),
                                        "final": round(self.model_.level_shift_, 4)},
                        # What the report's importance chart measures (the backtest model's).
                        "importance": self.backtest_model_.importance_kind_,
                        "short_history": self._short_history,
                        "window_coverage": {str(fs.cutoff.date()): round(fs.covered_share, 3)
                                            for fs in [scoring] + self.training_},
                        "notes": self.notes_})
        return Analysis(config=cfg, as_of=self.as_of_, definition=self.definition_,
                        features=scoring, training=self.training_,
                        training_labels=[y for _, y in self.labelled_], model=self.model_,
                        scores=scores, groups=groups, influencers=influencers, metrics=metrics,
                        lift=self._lift, calibration=self._calibration,
                        importance=self.backtest_model_.feature_importances_, notes=self.notes_)


def engine_pipeline(engine: str) -> type:
    """The pipeline class of an engine: :class:`ChurnPipeline` for ``"local"``,
    :class:`graphchurn.engines.spark.SparkPipeline` for ``"spark"``.

    The Spark engine is imported here, when asked for, and never at import time: engines wrap
    this module (tests/test_layout.py), and pyspark is an optional extra.

    Example
    -------
    >>> engine_pipeline("local").__name__
    'ChurnPipeline'
    """
    if engine == "local":
        return ChurnPipeline
    if engine == "spark":
        from graphchurn.engines.spark import SparkPipeline

        return SparkPipeline
    raise InputError(f"unknown engine {engine!r}; expected 'local' or 'spark'",
                     parameter="engine")


def analyze(interactions, customers=None, config: AnalyzeConfig | None = None,
            **engine_options) -> Analysis:
    """Score every active customer's churn risk at ``as_of`` and describe the social groups.

    Shorthand for ``ChurnPipeline(config, **engine_options).fit(interactions,
    customers).analysis_``; ``config.engine`` decides where it runs.

    Parameters
    ----------
    interactions, customers : DataFrame
        Validated inputs from :mod:`graphchurn.io` (``customers`` may be None). With
        ``engine="spark"`` also paths Spark reads (CSV, CSV.gz, Parquet; local, HDFS, S3), read
        and validated on Spark, or a :class:`graphchurn.engines.spark.SparkLog`.
    config : AnalyzeConfig
        Settings; ``as_of`` defaults to the day after the last interaction.
    **engine_options
        ``keep_training_graphs`` (both engines, see :class:`ChurnPipeline`); Spark engine:
        ``spark`` (a SparkSession; default one started with ``master`` and ``conf``),
        ``columns`` and ``customer_columns`` (column mappings for paths), ``read_format``
        (how the files write numbers and dates, as the local reader's options),
        ``features_on`` (``"executors"``: no training graph on the driver; see
        :class:`graphchurn.engines.spark.SparkPipeline`).

    Returns
    -------
    Analysis
    """
    return ChurnPipeline(config, **engine_options).fit(interactions, customers).analysis_


def _tables(fs: FeatureSet, probability, reasons, customers):
    """scores, groups and influencers tables of the command-line contract."""
    names = fs.graph.names
    community = pd.Series(fs.membership, index=names)
    influence = fs.influence["influencer_score"]
    value = (customers.set_index("customer_id")["value"] if customers is not None
             else pd.Series(dtype=float))
    ids = fs.table.index
    scores = pd.DataFrame({
        "customer_id": ids,
        "churn_probability": probability,
        "community": community.reindex(ids).to_numpy(),
        "influencer_score": influence.reindex(ids).fillna(0.0).to_numpy(),
        "susceptibility": fs.table["susceptibility"].to_numpy(),
        "reasons": reasons,
        "value": value.reindex(ids).to_numpy(dtype=float),
    })
    scores = scores.sort_values(["churn_probability", "customer_id"], ascending=[False, True])
    scores.insert(2, "risk_rank", np.arange(1, len(scores) + 1))
    scores["community"] = scores["community"].astype("Int64")

    member = pd.DataFrame({"community": fs.membership, "on_net": fs.graph.on_net,
                           "influencer_score": influence.to_numpy()}, index=names)
    scored = scores.set_index("customer_id")
    at_risk = scored["churn_probability"] * scored["value"].fillna(0.0)
    groups = pd.DataFrame({
        "size": member.groupby("community").size(),
        "on_net_members": member.groupby("community")["on_net"].sum(),
        "expected_churners": scored.groupby("community")["churn_probability"].sum(),
        "value_at_risk": at_risk.groupby(scored["community"]).sum(),
    }).fillna(0.0)
    # The graph keeps customers who left (their ties carry the exposure features), and each
    # one without traffic in the window is a group of its own. A group is listed only if
    # someone in it is still a customer, and its influencers are named among those: the
    # retention team acts on people it can still reach.
    # A position lookup in the (unique) vertex names, not Index.isin: between the object
    # names and the scores' string ids isin hashed every name the slow way.
    is_current = np.zeros(len(member), dtype=bool)
    found = member.index.get_indexer(ids)
    is_current[found[found >= 0]] = True
    current = member.loc[is_current]
    groups = groups.loc[groups.index.isin(current["community"])]
    top = current.sort_values("influencer_score", ascending=False).groupby("community").head(3)
    groups["top_influencers"] = top.groupby("community").apply(lambda g: ";".join(g.index))
    groups = groups.rename_axis("community").reset_index()
    groups["top_influencers"] = groups["top_influencers"].fillna("")
    groups = groups.sort_values(["expected_churners", "community"], ascending=[False, True])

    roles = fs.roles
    infl = fs.influence.loc[current.index]
    n_top = max(10, int(np.ceil(0.01 * len(infl))))
    infl = infl.sort_values("influencer_score", ascending=False).head(n_top)
    influencers = pd.DataFrame({
        "customer_id": infl.index,
        "community": community.reindex(infl.index).to_numpy(),
        "influencer_score": infl["influencer_score"].to_numpy(),
        "pagerank": infl["pagerank"].to_numpy(),
        "influence_spread": infl["influence_spread"].to_numpy(),
        "role": roles["role"].reindex(infl.index).to_numpy(),
    })
    return scores, groups, influencers


def resolved_config(analysis: Analysis) -> AnalyzeConfig:
    """The analysis settings with every default filled in (as-of, churn definition, windows),
    so metrics.json says exactly what ran and the same settings can be passed back."""
    cfg = analysis.config
    embedded = any(c.startswith("embedding_") for c in analysis.features.table.columns)
    return replace(cfg, as_of=analysis.as_of, definition=analysis.definition, embeddings=embedded,
                   active_window_days=cfg.active_window_days or cfg.horizon_days,
                   train_cutoff_step_days=cfg.train_cutoff_step_days or cfg.horizon_days)


# --------------------------------------------------------------------------- what-if
def contagion_history(analysis: Analysis) -> list:
    """The training cut-offs of an analysis as :class:`graphchurn.contagion.ContagionCutoff`.

    Each holds the graph before the cut-off, the departures known then (with their age), the
    influencer scores then, and who churned in the following horizon, so that the contagion
    model is calibrated on exactly the history the churn model learned from.
    """
    from graphchurn.contagion.model import ContagionCutoff
    from graphchurn.features.exposure import departure_ages

    if any(not fs.has_graph for fs in analysis.training):
        raise ValueError("the analysis released its training graphs: run it with "
                         "keep_training_graphs=True (analyze(..., keep_training_graphs=True))")
    history = []
    for fs, labels in zip(analysis.training, analysis.training_labels):
        names = pd.Index(fs.graph.names)
        label = labels.reindex(names).fillna(0).to_numpy(dtype=np.int8)
        history.append(ContagionCutoff(
            graph=fs.graph.graph,
            departure_age_days=departure_ages(fs.graph.graph, fs.departures, fs.cutoff),
            label=label,
            eligible=names.isin(labels.index),
            influencer_score=fs.influence["influencer_score"].to_numpy()))
    return history


@dataclass
class WhatIfBasis:
    """What a what-if starts from: the graph at as-of, current probabilities, the contagion
    model, and a plain statement of where the probabilities came from."""

    features: FeatureSet
    base_probability: np.ndarray  # per vertex; NaN = not scored
    value: np.ndarray | None
    contagion: object
    source: str


#: Churn probability assumed for every customer when the log holds no churn history, so the
#: what-if can still rank who is exposed (only the increase is meaningful then).
PRIOR_BASE_PROBABILITY = 0.05


def whatif_basis(interactions, customers=None, config: AnalyzeConfig | None = None) -> WhatIfBasis:
    """Scores and a contagion model at as-of, falling back to a structural prior.

    With churn history the churn model scores everyone and the contagion model is fitted on
    the same training cut-offs (``method="auto"`` compares the diffusion models). Without it
    (a log too short for a labelled cut-off, or nobody ever left) every active customer starts
    from :data:`PRIOR_BASE_PROBABILITY` and the contagion model is the structural prior.
    """
    from graphchurn.contagion.model import ContagionModel

    cfg = config or AnalyzeConfig()
    try:
        # The contagion model is calibrated on the training cut-offs' graphs.
        analysis = analyze(interactions, customers, cfg, keep_training_graphs=True)
    except NoChurnHistory as why:
        log.info("no churn history (%s): using the structural prior", why.reason)
        as_of = why.as_of  # resolved (and warned about) once, by analyze
        definition = resolve_churn_definition(customers, cfg.definition)
        past, known = cut_at(interactions, customers, as_of)
        fs = why.features if why.features is not None else build_features(
            past, known, as_of, **feature_kwargs(cfg, definition))
        base = pd.Series(PRIOR_BASE_PROBABILITY, index=fs.table.index)
        model = ContagionModel(seed=cfg.seed).fit([])
        source = f"structural prior (no churn history: {why.reason})"
        customers = known
    else:
        fs = analysis.features
        base = analysis.scores.set_index("customer_id")["churn_probability"]
        model = ContagionModel(seed=cfg.seed).fit(contagion_history(analysis))
        source = f"churn model + contagion {model.source_} ({model.method_})"
        if model.supported_ is False:
            gain = model.heldout_gain_nats_
            log.warning("the history shows no contagion beyond chance (held-out log-likelihood "
                        "gain over no contagion: %.1f nats); the what-if increases rest on the "
                        "fitted model's form more than on evidence", gain)
            source += (f"; weak evidence: held-out gain over no contagion {gain:.1f} nats, "
                       f"below the likelihood-ratio bar")
    names = pd.Index(fs.graph.names)
    value = None
    if customers is not None:
        value = customers.set_index("customer_id")["value"].reindex(names).to_numpy(dtype=float)
    return WhatIfBasis(features=fs, base_probability=base.reindex(names).to_numpy(dtype=float),
                       value=value, contagion=model, source=source)


def what_if(basis: WhatIfBasis, leavers) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Groups and customers at risk if ``leavers`` (customer ids) leave now.

    Returns the ``alerts`` and ``at_risk`` tables of :func:`graphchurn.contagion.what_if`,
    alerts kept for the groups the departures touch (expected churners up, or a leaver in it).
    """
    from graphchurn.contagion.model import what_if as contagion_what_if

    fs = basis.features
    alerts, at_risk = contagion_what_if(
        fs.graph.graph, fs.membership, basis.base_probability, basis.value, list(leavers),
        basis.contagion, influencer_score=fs.influence["influencer_score"].to_numpy())
    # An alert is a group the departures touch: its expected churners rise, or a leaver was
    # in it. The other groups (most of them, unchanged) would bury those in zeros.
    touched = (alerts["increase"] > 1e-12) | (alerts["leavers"] > 0)
    attrs = dict(alerts.attrs)
    alerts = alerts.loc[touched].reset_index(drop=True)
    alerts.attrs.update(attrs)
    return alerts, at_risk


def leavers_not_current(basis: WhatIfBasis, leavers) -> int:
    """How many of ``leavers`` are not scored customers at as-of (they left already, or they
    are off-net numbers): their ties are still counted as a departure now."""
    return int(sum(1 for leaver in leavers if leaver not in basis.features.table.index))


def watcher(basis: WhatIfBasis):
    """A :class:`graphchurn.contagion.Watcher` over the basis, for departure streams."""
    from graphchurn.contagion.watch import Watcher

    fs = basis.features
    return Watcher(fs.graph.graph, fs.membership, basis.base_probability, basis.value,
                   basis.contagion, influencer_score=fs.influence["influencer_score"].to_numpy())
