"""The churn model, its explanations and metrics; graph embeddings in :mod:`graphchurn.models.embed` (needs torch)."""

from graphchurn.models.churn import ChurnModel
from graphchurn.models.sampling import group_folds
from graphchurn.models.explain import reason_contributions, top_reasons
from graphchurn.models.metrics import (
    roc_auc,
    pr_auc,
    lift_at,
    expected_maximum_profit,
    evaluate,
    lift_curve,
    calibration_table,
    backtest,
)

__all__ = [
    "ChurnModel",
    "group_folds",
    "reason_contributions",
    "top_reasons",
    "roc_auc",
    "pr_auc",
    "lift_at",
    "expected_maximum_profit",
    "evaluate",
    "lift_curve",
    "calibration_table",
    "backtest",
]
