"""An offline SVG picture of one group's graph: server-side layout with igraph, no JavaScript.

Vertices are coloured by churn risk (green -> amber -> red; grey when not scored, e.g. an
off-net number), influencers are drawn larger with a dark ring, and each scored vertex links to
its customer page. Every label is escaped.
"""

from __future__ import annotations

import html
import random
from urllib.parse import quote

import igraph as ig
import numpy as np
import pandas as pd

__all__ = ["group_svg", "risk_colour"]

MAX_VERTICES = 150


def risk_colour(p) -> str:
    if p is None or not np.isfinite(p):
        return "#b0b0b0"
    p = float(min(max(p, 0.0), 1.0))
    stops = [(0.0, (46, 160, 67)), (0.5, (240, 180, 41)), (1.0, (207, 34, 46))]
    for (x0, c0), (x1, c1) in zip(stops, stops[1:]):
        if p <= x1:
            t = (p - x0) / (x1 - x0)
            return "#%02x%02x%02x" % tuple(round(a + (b - a) * t) for a, b in zip(c0, c1))
    return "#cf222e"


def group_svg(members: pd.DataFrame, edges: pd.DataFrame, *, link_prefix: str = "",
              width: int = 640, height: int = 480, seed: int = 0) -> str:
    """SVG of a group.

    Parameters
    ----------
    members : DataFrame
        ``name``, ``churn_probability`` (NaN = not scored), ``influencer`` (bool); at most
        :data:`MAX_VERTICES` of them are drawn (influencers and the riskiest first).
    edges : DataFrame
        ``src``, ``dst`` (member names), ``weight``.
    """
    members = members.copy()
    members["_order"] = members["churn_probability"].fillna(-1)
    members = members.sort_values(["influencer", "_order"], ascending=False).head(MAX_VERTICES)
    index = {name: i for i, name in enumerate(members["name"])}
    e = edges[edges["src"].isin(index) & edges["dst"].isin(index)]
    g = ig.Graph(n=len(members), edges=[(index[a], index[b]) for a, b in zip(e["src"], e["dst"])])
    state = random.getstate()
    random.seed(seed)  # igraph's layouts draw from Python's random module
    try:
        layout = g.layout_fruchterman_reingold(weights=None) if len(members) > 1 else ig.Layout([(0, 0)])
    finally:
        random.setstate(state)
    xy = np.asarray(layout.coords, dtype=float).reshape(-1, 2)
    pad = 30
    if len(xy):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        xy = pad + (xy - lo) / span * np.array([width - 2 * pad, height - 2 * pad])
        if len(xy) == 1:
            xy[:] = [width / 2, height / 2]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="graph of the group">',
             f'<rect width="{width}" height="{height}" fill="#fbfbfb" stroke="#ddd"/>']
    for a, b in g.get_edgelist():
        parts.append(f'<line x1="{xy[a,0]:.1f}" y1="{xy[a,1]:.1f}" x2="{xy[b,0]:.1f}" '
                     f'y2="{xy[b,1]:.1f}" stroke="#9aa" stroke-width="1" stroke-opacity="0.6"/>')
    for i, row in enumerate(members.itertuples(index=False)):
        p = row.churn_probability
        leader = bool(row.influencer)
        r = 9 if leader else 5.5
        ring = ' stroke="#111" stroke-width="2.5"' if leader else ' stroke="#fff" stroke-width="1"'
        title = html.escape(f"{row.name}: " + ("not scored" if pd.isna(p) else f"risk {p:.1%}")
                            + (" · influencer" if leader else ""))
        circle = (f'<circle cx="{xy[i,0]:.1f}" cy="{xy[i,1]:.1f}" r="{r}" fill="{risk_colour(p)}"{ring}>'
                  f"<title>{title}</title></circle>")
        if link_prefix and not pd.isna(p):
            href = html.escape(link_prefix + quote(str(row.name), safe=""))
            circle = f'<a href="{href}">{circle}</a>'
        parts.append(circle)
    parts.append("</svg>")
    return "".join(parts)
