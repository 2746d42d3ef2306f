"""Contagion of churn: diffusion models, the what-if of a departure, and watch mode."""

from graphchurn.contagion.diffusion import independent_cascade, linear_threshold
from graphchurn.contagion.model import ContagionCutoff, ContagionModel, what_if, METHODS
from graphchurn.contagion.watch import Watcher

__all__ = [
    "independent_cascade",
    "linear_threshold",
    "ContagionCutoff",
    "ContagionModel",
    "what_if",
    "METHODS",
    "Watcher",
]
