"""Time windows: the scoring moment, training cut-offs, who is active and who churned."""

from graphchurn.windows.labels import (
    default_as_of,
    before,
    training_cutoffs,
    resolve_churn_definition,
    active_at,
    churn_labels,
    known_departures,
)

__all__ = [
    "default_as_of",
    "before",
    "training_cutoffs",
    "resolve_churn_definition",
    "active_at",
    "churn_labels",
    "known_departures",
]
