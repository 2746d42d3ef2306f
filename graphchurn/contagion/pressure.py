"""Contagion pressure: the features each diffusion method gives a vertex from recent departures.

A method maps departure weights (``decay``: 1 for a departure today, fading with its age) to a
few columns per vertex; :data:`PRESSURE` is the table from method name to that function, and
:data:`FEATURES` names its columns. :class:`~graphchurn.contagion.ContagionModel` fits a
logistic regression on them.
"""

from __future__ import annotations

import numpy as np

from graphchurn.contagion.diffusion import _reach_codes, _reach_probability
from graphchurn.features.exposure import _spread

__all__ = ["FEATURES", "PRESSURE", "HALF_LIFE_GRID", "BETA_GRID", "DEFAULT_HALF_LIFE", "decay"]

FEATURES = {
    "exposure": ["tie_share", "influencer_tie_share", "max_tie_share"],
    "spreading_activation": ["log1p_energy", "log1p_influencer_energy"],
    "independent_cascade": ["reach", "influencer_reach"],
    "linear_threshold": ["reach", "influencer_reach"],
    "structural_prior": ["weighted_tie_share", "group_embeddedness"],
}

#: Half-lives (days) of a departure's pull, and the independent cascade's arc strength, tried
#: when fitting.
HALF_LIFE_GRID = (7.0, 14.0, 30.0, 60.0)
BETA_GRID = (0.5, 1.0, 2.0)
DEFAULT_HALF_LIFE = 30.0


def decay(age_days, half_life):
    """Weight of each departure: ``0.5 ** (age / half_life)``; 0 where nobody departed (NaN)."""
    age = np.asarray(age_days, dtype=float)
    return np.where(np.isfinite(age), np.power(0.5, np.maximum(age, 0.0) / half_life), 0.0)


def _exposure(model, ctx, weight, beta):
    """Share of tie strength to departures, the same weighted by the leaver's influence, and
    the strongest single tie to a departure."""
    index, n, f = ctx.index, ctx.index.n, ctx.influence
    wd = index.share_out * weight[index.indices]  # (w_ij / s_i) d_j at arc i -> j
    share = np.bincount(index.row, weights=wd, minlength=n)
    infl = np.bincount(index.row, weights=wd * f[index.indices], minlength=n)
    biggest = np.zeros(n)
    np.maximum.at(biggest, index.row, wd)
    return np.column_stack([share, infl, biggest])


def _structural_prior(model, ctx, weight, beta):
    """Tie share to departures, each weighing 0.5 + 0.5 x its influence percentile, and the
    group's weighted departures scaled by how embedded the customer is in its group."""
    index, n, f = ctx.index, ctx.index.n, ctx.influence
    g = 0.5 + 0.5 * f
    wd = index.share_out * weight[index.indices]
    share = np.bincount(index.row, weights=wd * g[index.indices], minlength=n)
    group = np.zeros(n)
    if ctx.membership is not None:
        per_group = np.bincount(ctx.group_code, weights=weight * g,
                                minlength=ctx.group_code.max() + 1)
        group = ctx.embeddedness * per_group[ctx.group_code]
    return np.column_stack([share, group])


def _spreading_activation(model, ctx, weight, beta):
    """Energy received from departures (and from influential ones) by spreading activation."""
    index = ctx.index
    has = index.degree > 0
    e1 = _spread(index.transfer_t, has, weight, model.spread_factor, model.spread_iterations)
    e2 = _spread(index.transfer_t, has, weight * ctx.influence, model.spread_factor,
                 model.spread_iterations)
    return np.column_stack([np.log1p(e1), np.log1p(e2)])


def _cascade(kind):
    def reach(model, ctx, weight, beta):
        """Probability of being reached by a Monte Carlo cascade from the departures (and from
        influential ones)."""
        index, f = ctx.index, ctx.influence
        arc = np.minimum(1.0, beta * index.share_in) if kind == "ic" else None
        seeds = np.flatnonzero(weight > 0)
        out = []
        for seed_prob in (weight[seeds], weight[seeds] * f[seeds]):
            codes = _reach_codes(index, kind, seeds, seed_prob, model.n_simulations,
                                 model.max_hops, model.seed, arc)
            out.append(_reach_probability(codes, index.n, model.n_simulations))
        return np.column_stack(out)
    return reach


#: Method name -> ``f(model, ctx, weight, beta)`` giving the columns :data:`FEATURES` names.
PRESSURE = {
    "exposure": _exposure,
    "structural_prior": _structural_prior,
    "spreading_activation": _spreading_activation,
    "independent_cascade": _cascade("ic"),
    "linear_threshold": _cascade("lt"),
}
