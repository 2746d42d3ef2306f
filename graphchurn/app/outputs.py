"""The command-line contract's output sets, written whole or not at all.

Each set is staged beside the old one and renamed into place at the end
(:func:`graphchurn.io.atomic_output_set`), so a crash or an interrupt never leaves a
half-written file, nor new scores next to an old report.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from graphchurn.app.report import write_report
from graphchurn.io.atomic import atomic_output_set, write_csv, write_json
from graphchurn.pipeline import Analysis, WhatIfBasis, resolved_config

__all__ = ["write_outputs", "write_whatif_outputs"]


def write_outputs(analysis: Analysis, out_dir, *, currency: str | None = None) -> list[Path]:
    """Write scores.csv, groups.csv, influencers.csv, metrics.json and report.html.

    ``currency`` (a symbol or code such as "€" or "EUR") is shown in front of the report's
    amounts of money and kept in metrics.json's ``config``; None: plain numbers.

    The whole set is staged beside the old one and renamed into place at the end
    (:func:`graphchurn.io.atomic.atomic_output_set`), so a crash or an interrupt never leaves a
    half-written file, nor new scores next to an old report.
    """
    out = Path(out_dir)
    names = ["scores.csv", "groups.csv", "influencers.csv", "metrics.json", "report.html"]
    metrics = dict(analysis.metrics)
    metrics["config"] = {k: (str(v) if isinstance(v, pd.Timestamp) else v)
                         for k, v in asdict(resolved_config(analysis)).items()}
    metrics["config"]["currency"] = currency
    with atomic_output_set(out) as stage:
        staged = [stage / name for name in names]
        write_csv(analysis.scores, staged[0])
        write_csv(analysis.groups, staged[1])
        write_csv(analysis.influencers, staged[2])
        write_json(metrics, staged[3])
        write_report(staged[4], scores=analysis.scores, groups=analysis.groups, metrics=metrics,
                     lift=analysis.lift, calibration=analysis.calibration,
                     importance=analysis.importance, graph_summary=analysis.metrics["graph"],
                     currency=currency)
    return [out / name for name in names]


def write_whatif_outputs(basis: WhatIfBasis, alerts: pd.DataFrame, at_risk: pd.DataFrame,
                         n_leavers: int, out_dir) -> list[Path]:
    """Write alerts.csv, at_risk.csv and whatif.json of a what-if as one set (see
    :func:`write_outputs`). whatif.json says where the probabilities came from, the diffusion
    method used and, when fitted, the method comparison (NaN written as null)."""
    out = Path(out_dir)
    comparison = getattr(basis.contagion, "comparison_", None)
    summary = {"source": basis.source, "method": alerts.attrs.get("method"),
               "leavers": int(n_leavers),
               "contagion_supported": getattr(basis.contagion, "supported_", None),
               "heldout_gain_nats": getattr(basis.contagion, "heldout_gain_nats_", None),
               "method_comparison": None if comparison is None else comparison.to_dict("records")}
    names = ["alerts.csv", "at_risk.csv", "whatif.json"]
    with atomic_output_set(out) as stage:
        write_csv(alerts, stage / names[0])
        write_csv(at_risk, stage / names[1])
        write_json(summary, stage / names[2])
    return [out / name for name in names]
