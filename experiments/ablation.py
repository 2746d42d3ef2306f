"""Churn-prediction ablation on generator worlds: which signal does each feature family add?

On worlds from :func:`graphchurn.synth.generate_world` (several seeds) the churn model is
trained and backtested exactly as :func:`graphchurn.pipeline.analyze` does it: as-of = the end
of the world, horizon 30 days, contract churn, features from
:func:`graphchurn.features.build_features` at every cut-off, training on the labelled cut-offs
as-of - 60, as-of - 90, ... (``AnalyzeConfig.n_train_cutoffs``, where the log reaches),
testing on the latest fully labelled cut-off as-of - 30, with the
pipeline's own model (:func:`graphchurn.pipeline.churn_model`) and GraphSAGE embeddings
(:func:`graphchurn.pipeline.add_embeddings`). Feature sets compared:

- tabular: customer attributes + activity/RFM;
- + structure (strength, PageRank, coreness, clustering, community, roles);
- + exposure (departed contacts, group churn, spreading activation);
- + embeddings (GraphSAGE, link objective): everything ``analyze`` uses;
- an end-to-end GNN (:class:`graphchurn.embed.ChurnGNN`) trained on the training cut-offs'
  graphs with every node's features and applied to the test cut-off's graph.

References, from the generator's planted truth at the test cut-off:

- true hazard: ``World.hazard_snapshots`` at the cut-off day (1 for customers who have already
  decided to leave and are fading out);
- true P(churn in 30 days): ``truth.p_churn_30d`` of the same world simulated only up to the
  cut-off (the generator's random streams make that world's history identical, checked);
- decision-hidden hazard: ``h0 * (1 + gamma * E)`` at the cut-off for everyone, i.e. the true
  risk without knowing who has already decided (a private event the log only shows as a slow
  traffic fade); and the same with the contagion removed (``h0``), to show how much of the
  achievable signal is social at all.

Investigation rows (``--no-investigation`` skips them) test general remedies for the gap:
regularisation, logistic regression, short-window activity-fade features and "contacts going
quiet" (:func:`fade_features`), exposure windows, decay and influencer weighting
(:func:`exposure_variants`) -- both computed here, not yet in the library -- more training
cut-offs, and an oracle model given the true hazard ingredients as extra features (how far a
model on this log can get even knowing the true risk).

Run:   nice .venv/bin/python experiments/ablation.py                 (about 10 minutes)
       .venv/bin/python experiments/ablation.py --customers 1500 --seeds 1 --out /tmp/abl  (smoke)
Writes experiments/results/ablation.{md,json} (``--out`` another directory).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch_geometric.data import Batch

from _common import library_version  # noqa: E402
from graphchurn import pipeline
from graphchurn.atomic import atomic_write_text
from graphchurn.embed import ChurnGNN
from graphchurn.features import (ACTIVITY_FEATURES, EXPOSURE_FEATURES, STRUCTURE_FEATURES,
                                 build_features)
from graphchurn.model import ChurnModel, evaluate
from graphchurn.synth import generate_world
from graphchurn.windows import resolve_churn_definition, training_cutoffs

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("roc_auc", "pr_auc", "lift_top_decile", "emp")
FADE_FEATURES = ["activity_ratio_7d", "activity_ratio_14d", "in_trend"]
NEIGHBOUR_FADE_FEATURES = ["contacts_fading"]
EXPOSURE_VARIANTS = ["share_departed_14d", "share_departed_60d", "share_departed_decayed",
                     "share_departed_influence_weighted"]
# A GBM with capacity matched to a few hundred training churners: shallow trees, large leaves,
# strong L2, slower learning. Set once from first principles (not searched on these worlds).
REGULARISED_GBM = dict(max_leaf_nodes=4, min_samples_leaf=200, l2_regularization=10.0,
                       learning_rate=0.05, max_iter=300)


# --------------------------------------------------------------------------- extra features
def fade_features(interactions: pd.DataFrame, fs, window_days: int,
                  short_days=(7, 14), trend_days: int = 14) -> pd.DataFrame:
    """Short-window activity fade of every vertex of a cut-off's graph, and of its contacts.

    Reads only interactions in ``[cutoff - window_days, cutoff)``.

    - ``activity_ratio_{k}d``: interactions in either direction in the last ``k`` days per day,
      over the vertex's daily rate in the whole window (1 = as usual, 0 = silent; NaN without
      activity in the window). Both directions, because a customer on the way out both calls
      and is called less, which doubles the counts the fade is read from.
    - ``in_trend``: incoming interactions, last ``trend_days`` against the ``trend_days``
      before, as (recent - previous) / (recent + previous).
    - ``contacts_fading``: tie-strength-weighted mean over a vertex's contacts of their 14-day
      activity deficit ``1 - min(ratio, 1)``: contacts going quiet, who are likely to become
      departures (and exposure) within the horizon.

    Returns
    -------
    DataFrame indexed by vertex name (``customer_id``), in vertex order.
    """
    cutoff = fs.cutoff
    names = pd.Index(fs.graph.names)
    n = len(names)
    ts = interactions["timestamp"]
    start = max(cutoff - pd.Timedelta(days=window_days), ts.min().normalize())
    rows = interactions[(ts >= start) & (ts < cutoff)]
    span_days = (cutoff - start) / pd.Timedelta(days=1)
    src = names.get_indexer(rows["src"])
    dst = names.get_indexer(rows["dst"])
    age = ((cutoff - rows["timestamp"]) / pd.Timedelta(days=1)).to_numpy()

    def count(index, mask):
        keep = (index >= 0) & mask
        return np.bincount(index[keep], minlength=n).astype(np.float64)

    everything = np.ones(len(age), dtype=bool)
    daily_rate = (count(src, everything) + count(dst, everything)) / span_days
    out = {}
    for k in short_days:
        recent = count(src, age < k) + count(dst, age < k)
        out[f"activity_ratio_{k}d"] = np.divide(recent / k, daily_rate, out=np.full(n, np.nan),
                                                where=daily_rate > 0)
    in_recent = count(dst, age < trend_days)
    in_previous = count(dst, (age >= trend_days) & (age < 2 * trend_days))
    both = in_recent + in_previous
    out["in_trend"] = np.divide(in_recent - in_previous, both, out=np.zeros(n), where=both > 0)

    deficit = 1.0 - np.clip(np.nan_to_num(out["activity_ratio_14d"], nan=0.0), 0.0, 1.0)
    a, b, w = fs.graph.edge_arrays()
    me, other, ww = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([w, w])
    strength = np.bincount(me, weights=ww, minlength=n)
    quiet = np.bincount(me, weights=ww * deficit[other], minlength=n)
    out["contacts_fading"] = np.divide(quiet, strength, out=np.zeros(n), where=strength > 0)
    return pd.DataFrame(out, index=names)


def exposure_variants(fs, windows=(14, 60), half_life_days: float = 30.0,
                      influence_window_days: int = 30) -> pd.DataFrame:
    """Variants of "share of tie strength to departed contacts" at a cut-off.

    Uses only the departures known at the cut-off (``fs.departures``) and the cut-off's graph.

    - ``share_departed_{k}d``: departures in the last ``k`` days (the library uses 30);
    - ``share_departed_decayed``: every known departure, weighted ``0.5 ** (age / half_life)``;
    - ``share_departed_influence_weighted``: departures in the last ``influence_window_days``,
      each weighted by the leaver's influencer score relative to the mean on-net score, so an
      influential leaver counts more than an ordinary one.

    Returns
    -------
    DataFrame indexed by vertex name, in vertex order.
    """
    names = pd.Index(fs.graph.names)
    n = len(names)
    age = ((fs.cutoff - fs.departures.reindex(names)) / pd.Timedelta(days=1)).to_numpy()
    departed = np.isfinite(age) & (age >= 0)
    a, b, w = fs.graph.edge_arrays()
    me, other, ww = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([w, w])
    strength = np.bincount(me, weights=ww, minlength=n)

    def share(leaver_weight):
        to_leavers = np.bincount(me, weights=ww * leaver_weight[other], minlength=n)
        return np.divide(to_leavers, strength, out=np.zeros(n), where=strength > 0)

    out = {f"share_departed_{k}d": share((departed & (age <= k)).astype(float)) for k in windows}
    out["share_departed_decayed"] = share(np.where(departed, 0.5 ** (np.nan_to_num(age) / half_life_days), 0.0))
    score = fs.influence["influencer_score"].to_numpy(dtype=float)
    on_net_mean = score[fs.graph.on_net].mean() if fs.graph.on_net.any() else 1.0
    relative = score / on_net_mean if on_net_mean > 0 else np.ones(n)
    out["share_departed_influence_weighted"] = share(
        np.where(departed & (age <= influence_window_days), relative, 0.0))
    return pd.DataFrame(out, index=names)


# --------------------------------------------------------------------------- end-to-end GNN
def node_features(fs, customers: pd.DataFrame, categories: dict) -> np.ndarray:
    """Node matrix of a cut-off's graph: log1p of the activity/structure/exposure features of
    every vertex, then the customer attributes (numbers as given, categories one-hot with fixed
    levels so every cut-off has the same columns; NaN for off-net vertices) and an on-net flag.
    """
    names = pd.Index(fs.graph.names)
    graph_part = np.log1p(fs.vertex_features.astype(float).clip(lower=0).to_numpy())
    attributes = customers.set_index("customer_id").reindex(names)[fs.attribute_columns]
    columns = []
    for name in fs.attribute_columns:
        column = attributes[name]
        if name in categories:
            levels = categories[name]
            onehot = (column.to_numpy(dtype=object)[:, None] == np.asarray(levels, dtype=object))
            columns.append(np.where(column.isna().to_numpy()[:, None], np.nan, onehot))
        else:
            columns.append(column.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
    columns.append(fs.graph.on_net.astype(np.float64)[:, None])
    return np.hstack([graph_part] + columns)


def graph_data(fs, customers, categories, labels: pd.Series | None = None):
    """``fs.graph.to_pyg`` with node features, labels and the mask of labelled customers."""
    names = pd.Index(fs.graph.names)
    x = node_features(fs, customers, categories)
    if labels is None:
        return fs.graph.to_pyg(x)
    y = labels.reindex(names)
    data = fs.graph.to_pyg(x, y.fillna(0).to_numpy(dtype=np.float32))
    data.train_mask = torch.from_numpy(y.notna().to_numpy().copy())
    return data


def train_churn_gnn(train_graphs, seed: int, hidden: int = 32, dim: int = 16,
                    dropout: float = 0.5, weight_decay: float = 1e-3, lr: float = 0.01,
                    max_epochs: int = 300, patience: int = 30, validation_share: float = 0.2):
    """Train a :class:`ChurnGNN` on the union of the training cut-offs' graphs.

    Full-batch Adam with dropout and weight decay, class-weighted cross-entropy, and early
    stopping on the ROC AUC of a random ``validation_share`` of the labelled nodes (the best
    epoch's weights are kept). Without early stopping the GNN memorises the training labels: in
    a first look it fitted *shuffled* labels to an in-sample AUC of 0.9996 in 60 epochs.

    Returns
    -------
    (model, standardise, best_validation_auc, best_epoch): ``standardise(data)`` turns a graph's
    raw node matrix into the standardised tensor the model takes.
    """
    data = Batch.from_data_list(train_graphs)  # disjoint union: one big graph
    x = data.x.numpy().astype(np.float64)
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    mean = np.nan_to_num(mean)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)

    def standardise(d):
        z = (d.x.numpy().astype(np.float64) - mean) / std
        return torch.from_numpy(np.nan_to_num(z, nan=0.0).astype(np.float32))

    rng = np.random.default_rng(seed)
    labelled = data.train_mask.numpy()
    validation = labelled & (rng.random(labelled.size) < validation_share)
    train = torch.from_numpy(labelled & ~validation)
    validation = torch.from_numpy(validation)
    y = data.y.float()
    pos_weight = (y[train] == 0).sum() / (y[train] == 1).sum()
    features = standardise(data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ChurnGNN(features.shape[1], hidden, dim, dropout)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        best_auc, best_state, best_epoch = -1.0, None, 0
        for epoch in range(max_epochs):
            model.train()
            optimiser.zero_grad()
            logits = model(features, data.edge_index, data.edge_weight)
            loss = F.binary_cross_entropy_with_logits(logits[train], y[train], pos_weight=pos_weight)
            loss.backward()
            optimiser.step()
            model.eval()
            with torch.no_grad():
                held = model(features, data.edge_index, data.edge_weight)[validation].numpy()
            auc = roc_auc_score(y[validation].numpy(), held)
            if auc > best_auc:
                best_auc, best_epoch = auc, epoch
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            elif epoch - best_epoch >= patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, standardise, float(best_auc), best_epoch


# --------------------------------------------------------------------------- one world
def usable_cutoffs(interactions: pd.DataFrame, as_of: pd.Timestamp, cfg) -> list[pd.Timestamp]:
    """The labelled cut-offs ``analyze`` uses, newest first: ``training_cutoffs`` that have a
    full activity window of log behind them (the rule inside ``pipeline.analyze``, which has
    no public function for it yet)."""
    first = interactions["timestamp"].min().normalize()
    history = pd.Timedelta(days=cfg.active_window_days or cfg.horizon_days)
    return [c for c in training_cutoffs(as_of, cfg.horizon_days, cfg.n_train_cutoffs)
            if c - history >= first]

def _truth_at(world, day: int, knobs: dict) -> pd.DataFrame:
    """The generator's truth at ``start + day``: the same world simulated only up to ``day``.

    The generator draws churn decisions and traffic from per-day streams, so the shorter world
    has the very same history; the row count of the log is checked to make sure.
    """
    short = generate_world(world.params["n_customers"], day, seed=world.seed, **knobs)
    cut = world.start + pd.Timedelta(days=day)
    if len(short.interactions) != int((world.interactions["timestamp"] < cut).sum()):
        raise RuntimeError("the truncated world's history differs from the full world's")
    truth = short.truth.set_index("customer_id")
    gamma = world.params["contagion_strength"]
    truth["hazard_decision_hidden"] = np.minimum(
        truth["baseline_hazard_end"] * (1.0 + gamma * truth["exposure_end"]), 1.0)
    return truth


def _split_auc(y: np.ndarray, p: np.ndarray, decided: np.ndarray) -> dict:
    """AUC of churners already fading at the cut-off vs stayers, and of later deciders vs
    stayers: the two halves of the problem."""
    stay = y == 0
    out = {}
    for name, churners in (("auc_fading_vs_stayers", (y == 1) & decided),
                           ("auc_later_deciders_vs_stayers", (y == 1) & ~decided)):
        if churners.sum() == 0:
            out[name] = None
            continue
        labels = np.r_[np.zeros(stay.sum()), np.ones(churners.sum())]
        out[name] = float(roc_auc_score(labels, np.r_[p[stay], p[churners]]))
    return out


def run_world(seed: int, args) -> dict:
    t_start = time.perf_counter()
    knobs = dict(monthly_churn=args.monthly_churn)
    world = generate_world(args.customers, args.days, seed=seed, hazard_days=[args.days - 30],
                           **knobs)
    cfg = pipeline.AnalyzeConfig(as_of=world.end, horizon_days=30, seed=seed)
    definition = resolve_churn_definition(world.customers, cfg.definition)
    interactions, customers = pipeline.cut_at(world.interactions, world.customers, world.end)
    kwargs = pipeline.feature_kwargs(cfg, definition)
    cutoffs = usable_cutoffs(interactions, world.end, cfg)

    # ---- features exactly as analyze builds them
    scoring = build_features(interactions, customers, world.end, **kwargs)
    sets = [build_features(interactions, customers, c, **kwargs) for c in cutoffs]
    notes: list[str] = []
    pipeline.add_embeddings([scoring] + sets, cfg, notes)
    labelled = [pipeline.labelled_table(interactions, customers, fs, cfg, definition)
                for fs in sets]
    if args.investigation:
        labelled = [(X.join(fade_features(interactions, fs, cfg.window_days))
                     .join(exposure_variants(fs)), y)
                    for fs, (X, y) in zip(sets, labelled)]
    X_test, y_test = labelled[0]
    train = labelled[1:]  # the cut-offs analyze's backtest trains on
    y = y_test.to_numpy()

    attributes = sets[0].attribute_columns
    embedding = [c for c in X_test.columns if c.startswith("embedding_")]
    tabular = attributes + ACTIVITY_FEATURES
    graph = tabular + STRUCTURE_FEATURES
    exposure = graph + EXPOSURE_FEATURES
    analyze_columns = list(sets[0].table.columns)  # what analyze's backtest model sees
    if sorted(exposure + embedding) != sorted(analyze_columns):
        raise RuntimeError("the ablation's full feature set differs from analyze's table")

    # ---- the generator's truth at the test cut-off
    test_day = (cutoffs[0] - world.start).days
    truth = _truth_at(world, test_day, knobs).reindex(y_test.index)
    hazard = world.hazard_snapshots[test_day].reindex(y_test.index)
    if hazard.isna().any() or truth["p_churn_30d"].isna().any():
        raise RuntimeError("a customer active at the test cut-off has no true hazard")
    decided = (hazard == 1.0).to_numpy() & (truth["decision_date"] < cutoffs[0]).to_numpy()
    days_since_decision = (cutoffs[0] - truth["decision_date"]).dt.days.to_numpy()[decided & (y == 1)]

    rows: dict[str, dict] = {}

    def record(name, p, **extra):
        rows[name] = {**evaluate(y, p), **_split_auc(y, np.asarray(p, float), decided), **extra}

    def fit_predict(columns, train_sets=train, test=X_test, **overrides):
        """Fit the pipeline's model on ``columns`` of the training cut-offs, score the test one.

        The estimator is chosen as ``analyze`` chooses it (``choose_estimator``: temporal
        validation on the training cut-offs when ``cfg.estimator == "auto"``) unless given.
        Returns the test probabilities and the estimator used.
        """
        sets_ = [(X[columns], lab) for X, lab in train_sets]
        if "estimator" not in overrides:
            choose = getattr(pipeline, "choose_estimator", None)
            overrides["estimator"] = choose(sets_, cfg)[0] if choose else cfg.estimator
        X_fit = pd.concat([X for X, _ in sets_])
        y_fit = pd.concat([lab for _, lab in sets_])
        model = pipeline.churn_model(cfg, importance=None, **overrides).fit(X_fit, y_fit)
        return model.predict_proba(test[columns])[:, 1], overrides["estimator"]

    def record_model(name, columns, **kwargs):
        p, estimator = fit_predict(columns, **kwargs)
        record(name, p, estimator=estimator)

    record("true hazard at the cut-off", hazard.to_numpy())
    record("true P(churn in 30 days)", truth["p_churn_30d"].to_numpy())
    record("decision-hidden true hazard", truth["hazard_decision_hidden"].to_numpy())
    record("decision-hidden, contagion removed", truth["baseline_hazard_end"].to_numpy())
    rfm = [c for c in ACTIVITY_FEATURES if c in X_test.columns]
    X_fit = pd.concat([X[rfm] for X, _ in train])
    baseline = ChurnModel(estimator="logistic", importance=None, random_state=cfg.seed).fit(
        X_fit, pd.concat([lab for _, lab in train]))
    record("RFM-only logistic (analyze's baseline)", baseline.predict_proba(X_test[rfm])[:, 1])
    record_model("tabular (attributes + activity)", tabular)
    record_model("+ graph structure", graph)
    record_model("+ exposure", exposure)
    record_model("+ embeddings (= analyze)", exposure + embedding)

    # ---- end-to-end GNN: trained on the training cut-offs' graphs, applied to the test graph
    categories = {c: sorted(customers[c].dropna().astype(str).unique())
                  for c in attributes if not pd.api.types.is_numeric_dtype(customers[c])}
    t_gnn = time.perf_counter()
    train_graphs = [graph_data(fs, customers, categories, lab)
                    for fs, (_, lab) in zip(sets[1:], train)]
    model, standardise, val_auc, epoch = train_churn_gnn(train_graphs, seed)
    test_graph = graph_data(sets[0], customers, categories)
    with torch.no_grad():
        logits = model(standardise(test_graph), test_graph.edge_index, test_graph.edge_weight)
    p_gnn = pd.Series(torch.sigmoid(logits).numpy().astype(np.float64),
                      index=pd.Index(sets[0].graph.names)).reindex(y_test.index)
    record("end-to-end GNN (ChurnGNN)", p_gnn.to_numpy(), validation_auc=val_auc,
           best_epoch=epoch, seconds=round(time.perf_counter() - t_gnn, 1))

    if args.investigation:
        fade = FADE_FEATURES + NEIGHBOUR_FADE_FEATURES
        full = exposure + embedding
        record_model("full, logistic regression", full, estimator="logistic")
        record_model("full, always GBM (pipeline settings)", full, estimator="gbm")
        record_model("full, regularised GBM", full, estimator="gbm", **REGULARISED_GBM)
        record_model("full + activity fade", full + FADE_FEATURES)
        record_model("full + activity fade + contacts fading", full + fade)
        record_model("full + fade features, regularised GBM", full + fade, estimator="gbm",
                     **REGULARISED_GBM)
        record_model("full + fade features, logistic", full + fade, estimator="logistic")
        record_model("full, one training cut-off fewer", full, train_sets=train[:-1])
        record_model("full + exposure variants", full + EXPOSURE_VARIANTS)
        # Oracle: the true hazard ingredients at each cut-off as extra features.
        oracle_sets = []
        for fs, (X, lab) in zip(sets, labelled):
            t = _truth_at(world, (fs.cutoff - world.start).days, knobs).reindex(X.index)
            oracle_sets.append((X.assign(true_log_baseline_hazard=np.log(t["baseline_hazard_end"]),
                                         true_exposure=t["exposure_end"]), lab))
        oracle_columns = full + fade + ["true_log_baseline_hazard", "true_exposure"]
        oracle_test = oracle_sets[0][0]
        record_model("oracle: full + fade + true hazard ingredients", oracle_columns,
                     train_sets=oracle_sets[1:], test=oracle_test)
        record_model("oracle, logistic", oracle_columns, train_sets=oracle_sets[1:],
                     test=oracle_test, estimator="logistic")

    return {
        "seed": seed,
        "test_cutoff": str(cutoffs[0].date()),
        "training_cutoffs": [str(c.date()) for c in cutoffs[1:]],
        "n_test": int(len(y)),
        "test_churners": int(y.sum()),
        "training_rows": int(sum(len(lab) for _, lab in train)),
        "training_churners": int(sum(lab.sum() for _, lab in train)),
        "churners_already_decided": int((decided & (y == 1)).sum()),
        "days_since_decision_median": float(np.median(days_since_decision)) if len(days_since_decision) else None,
        "days_since_decision_le_7": int((days_since_decision <= 7).sum()),
        "median_interactions_per_day": float(np.median(
            (X_test["n_out"] + X_test["n_in"]).to_numpy(dtype=float) / cfg.window_days)),
        "notes": notes,
        "seconds": round(time.perf_counter() - t_start, 1),
        "rows": rows,
    }


# --------------------------------------------------------------------------- summary
REFERENCE_ROWS = ("true hazard at the cut-off", "true P(churn in 30 days)",
                  "decision-hidden true hazard")


def summarise(worlds: list[dict]) -> dict:
    """Mean and sd over worlds of every metric and of the share of achievable signal."""
    names = list(worlds[0]["rows"])
    summary = {}
    for name in names:
        entry = {}
        for metric in METRICS + ("auc_fading_vs_stayers", "auc_later_deciders_vs_stayers"):
            values = np.array([w["rows"][name][metric] for w in worlds], dtype=float)
            entry[metric] = [float(np.nanmean(values)), float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0]
        for ref_key, ref in (("share_of_true_hazard", "true hazard at the cut-off"),
                             ("share_of_true_p30", "true P(churn in 30 days)"),
                             ("share_of_decision_hidden", "decision-hidden true hazard")):
            shares = np.array([(w["rows"][name]["roc_auc"] - 0.5) / (w["rows"][ref]["roc_auc"] - 0.5)
                               for w in worlds])
            entry[ref_key] = [float(shares.mean()), float(shares.std(ddof=1)) if len(shares) > 1 else 0.0]
        summary[name] = entry
    return summary


PAIRED = [("+ embeddings (= analyze)", "tabular (attributes + activity)"),
          ("+ embeddings (= analyze)", "full, always GBM (pipeline settings)"),
          ("+ exposure", "+ graph structure"),
          ("end-to-end GNN (ChurnGNN)", "+ embeddings (= analyze)"),
          ("full + activity fade", "+ embeddings (= analyze)"),
          ("full, regularised GBM", "+ embeddings (= analyze)"),
          ("+ embeddings (= analyze)", "full, one training cut-off fewer"),
          ("full + exposure variants", "+ embeddings (= analyze)"),
          ("full + fade features, regularised GBM", "+ embeddings (= analyze)")]


def paired_differences(worlds: list[dict]) -> dict:
    """ROC-AUC of one row minus another on the same test customers, mean and sd over worlds."""
    out = {}
    for a, b in PAIRED:
        if a not in worlds[0]["rows"] or b not in worlds[0]["rows"]:
            continue
        d = np.array([w["rows"][a]["roc_auc"] - w["rows"][b]["roc_auc"] for w in worlds])
        out[f"{a} − {b}"] = [float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0,
                            int((d > 0).sum()), len(d)]
    return out


def findings(result: dict) -> list[str]:
    """The reading of the table, with its numbers."""
    s, worlds = result["summary"], result["worlds"]
    auc = lambda name: s[name]["roc_auc"][0]  # noqa: E731
    churners = sum(w["test_churners"] for w in worlds)
    decided = sum(w["churners_already_decided"] for w in worlds)
    within7 = sum(w["days_since_decision_le_7"] for w in worlds)
    hidden, h0 = auc("decision-hidden true hazard"), auc("decision-hidden, contagion removed")
    full = "+ embeddings (= analyze)"
    lines = [
        "## Reading",
        "",
        f"- **The bar is not met.** The model `analyze` fits captures "
        f"{100 * s[full]['share_of_true_hazard'][0]:.0f}% of the true hazard's signal (ROC-AUC "
        f"{auc(full):.3f} vs {auc('true hazard at the cut-off'):.3f}); the best general variant "
        f"below reaches {100 * max(s[k]['share_of_true_hazard'][0] for k in s if k.startswith('full')):.0f}%, "
        f"and even an oracle given the true hazard ingredients (h0 and exposure at every cut-off) "
        f"as features reaches only {100 * s['oracle: full + fade + true hazard ingredients']['share_of_true_hazard'][0]:.0f}%.",
        f"- **Why: most of the true hazard's signal is not in the log.** {decided} of {churners} "
        f"test churners ({100 * decided / churners:.0f}%) had already *decided* to leave before the "
        f"cut-off; the true hazard gives them 1. The log only shows that decision as a linear "
        f"traffic fade over 14-21 days, and {within7} of them decided at most 7 days before, when "
        f"their traffic is still at least half of normal, read from Poisson counts (median test "
        f"customer: {np.median([w['median_interactions_per_day'] for w in worlds]):.1f} "
        f"interactions a day, both directions). Without the decision the truth itself has ROC-AUC {hidden:.3f} (decision-hidden "
        f"hazard; not a strict bound, as the fade is partial evidence of the decision, so a "
        f"model can exceed it). Measured against that, the `analyze` model captures "
        f"{100 * s[full]['share_of_decision_hidden'][0]:.0f}% and the best variant "
        f"{100 * max(s[k]['share_of_decision_hidden'][0] for k in s if k.startswith('full')):.0f}%.",
        f"- **Why graph features add little here: little of the signal is social.** Removing "
        f"contagion from the decision-hidden truth only lowers its AUC from {hidden:.3f} to "
        f"{h0:.3f} ({100 * (hidden - h0) / (hidden - 0.5):.0f}% of its signal is social), so "
        f"graph + exposure features can add at most a few points; they add "
        + ", ".join(f"{d[0]:+.3f} ± {d[1]:.3f} AUC ({k}, better in {d[2]}/{d[3]} worlds)"
                    for k, d in result["paired_differences"].items()
                    if k in ("+ embeddings (= analyze) − tabular (attributes + activity)",
                             "+ exposure − + graph structure")) + ".",
        "",
        "What helps, in general terms (paired ROC-AUC differences on the same test customers, "
        "mean ± sd over worlds, and in how many worlds the change was better):",
        "",
    ]
    d = result["paired_differences"]

    def diff(a, b="+ embeddings (= analyze)"):
        v = d[f"{a} − {b}"]
        return f"{v[0]:+.3f} ± {v[1]:.3f} ({v[2]}/{v[3]})"

    lines += [
        f"- **More training cut-offs**: analyze's model against the same without its oldest "
        f"training cut-off: {diff('+ embeddings (= analyze)', 'full, one training cut-off fewer')}"
        ", although the oldest cut-off has the shortest history behind it. With a few hundred "
        "churners per cut-off, training rows are the scarcest input.",
        f"- **A GBM with less capacity** (`{REGULARISED_GBM}` instead of the pipeline's 15-leaf, "
        f"20-row leaves, learning rate 0.1), against analyze's model: "
        f"{diff('full, regularised GBM')}; with the fade features: "
        f"{diff('full + fade features, regularised GBM')}. Analyze's "
        f"temporal choice between GBM and logistic regression, against always GBM: "
        f"{diff('+ embeddings (= analyze)', 'full, always GBM (pipeline settings)')}. Adding the "
        "low-capacity GBM to the candidates would make this choice cover capacity too.",
        f"- **Short-window fade features** (last 7/14 days against the customer's own daily rate, "
        f"both directions; incoming trend; contacts going quiet): {diff('full + activity fade')} "
        "on top of the library's features, which since commit bfeac8f already hold a last-week "
        "vs own-average ratio in both directions.",
        f"- **Exposure variants** (14- and 60-day windows, exponential decay, influencer-weighted "
        f"leavers): {diff('full + exposure variants')}. Note that the structure family already "
        "holds an exposure-like feature (susceptibility reads recent leavers): + exposure over "
        f"+ structure: {diff('+ exposure', '+ graph structure')}.",
        f"- **End-to-end GNN**: {diff('end-to-end GNN (ChurnGNN)')} against analyze's model. It needs early "
        "stopping: without it the GNN fitted *shuffled* labels to an in-sample AUC of 0.9996 in "
        "60 epochs (first look, seed 1), and `GraphSAGEEmbedder` exposes neither dropout, weight "
        "decay nor a validation split.",
        "- **The yardstick**: the hazard snapshot scores a private event (the decision) that no "
        "log-based model can see; the decision-hidden hazard, or an oracle model given the true "
        "hazard ingredients, is the attainable reference.",
        "",
        "All paired differences:",
        "",
    ]
    for k, v in d.items():
        lines.append(f"- {k}: {v[0]:+.3f} ± {v[1]:.3f} ({v[2]}/{v[3]})")
    return lines + [""]


def estimators(worlds: list[dict], name: str) -> str:
    """Which estimator a row used in how many worlds, e.g. "gbm 3, logistic 2"."""
    used = pd.Series([w["rows"][name].get("estimator") for w in worlds]).dropna()
    return ", ".join(f"{k} {v}" for k, v in used.value_counts().sort_index().items())


def _fmt(pair, digits=3, percent=False):
    mean, sd = pair
    if percent:
        return f"{100 * mean:.0f}% ± {100 * sd:.0f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown(result: dict) -> str:
    args, worlds, summary = result["args"], result["worlds"], result["summary"]
    lines = [
        "# Churn-prediction ablation on generator worlds",
        "",
        f"{len(worlds)} worlds (seeds {args['seeds']}) of {args['customers']} customers × "
        f"{args['days']} days, `monthly_churn={args['monthly_churn']}` (other generator knobs at "
        "their defaults). Backtest exactly as `pipeline.analyze`: as-of = end of the world, "
        f"horizon 30 days, contract churn, {args['n_train_cutoffs']} labelled cut-offs "
        f"(`AnalyzeConfig` default): trained on as-of − 60 and older "
        f"({', '.join(worlds[0]['training_cutoffs'])} in seed {worlds[0]['seed']}), tested on "
        "as-of − 30. Mean ± sd over worlds. Share = (AUC − 0.5) / (AUC_ref − 0.5). "
        f"Runtime {result['seconds']:.0f} s (`experiments/ablation.py`, library at "
        f"{result['library']}).",
        "",
        "Per world: " + "; ".join(
            f"seed {w['seed']}: {w['test_churners']} churners of {w['n_test']} at the test "
            f"cut-off ({w['churners_already_decided']} already decided, median "
            f"{w['days_since_decision_median']:.0f} days before, {w['days_since_decision_le_7']} "
            f"within 7 days), {w['training_churners']} of "
            f"{w['training_rows']} in training" for w in worlds) + ".",
        "",
        "| model | ROC-AUC | PR-AUC | top-decile lift | EMP | share of true-hazard signal "
        "| share of decision-hidden signal | AUC fading vs stayers | AUC later deciders vs stayers "
        "| estimator (worlds) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in summary.items():
        if name == "full, logistic regression":
            lines.append("| *investigation* | | | | | | | | | |")
        lines.append(
            f"| {name} | {_fmt(entry['roc_auc'])} | {_fmt(entry['pr_auc'])} | "
            f"{_fmt(entry['lift_top_decile'], 2)} | {_fmt(entry['emp'])} | "
            f"{_fmt(entry['share_of_true_hazard'], percent=True)} | "
            f"{_fmt(entry['share_of_decision_hidden'], percent=True)} | "
            f"{_fmt(entry['auc_fading_vs_stayers'])} | "
            f"{_fmt(entry['auc_later_deciders_vs_stayers'])} | {estimators(worlds, name)} |")
    lines += ["", "EMP: expected maximum profit per customer (Verbraken et al. 2013; "
              "`graphchurn.model.evaluate` defaults: CLV 200, incentive 10). "
              "\"Fading\": churners who decided before the cut-off (the true hazard gives them 1).",
              ""]
    return "\n".join(lines + findings(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--days", type=int, default=180)
    # Seed 1 was the world of the first look that shaped the investigation rows; the reported
    # worlds are fresh ones.
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    parser.add_argument("--monthly-churn", type=float, default=0.08)
    parser.add_argument("--no-investigation", dest="investigation", action="store_false")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # graphs of a few thousand nodes: threads only add contention
    library = library_version()  # before the run: the code the run imported
    started = time.perf_counter()
    worlds = []
    for seed in args.seeds:
        worlds.append(run_world(seed, args))
        print(f"seed {seed}: {worlds[-1]['seconds']} s, "
              + ", ".join(f"{k}: {v['roc_auc']:.3f}" for k, v in worlds[-1]["rows"].items()),
              flush=True)
    result = {"args": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                       "n_train_cutoffs": pipeline.AnalyzeConfig().n_train_cutoffs},
              "library": library,
              "seconds": round(time.perf_counter() - started, 1),
              "summary": summarise(worlds), "paired_differences": paired_differences(worlds),
              "worlds": worlds}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "ablation.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "ablation.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
