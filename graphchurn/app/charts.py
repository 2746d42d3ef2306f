"""Small charts drawn as inline SVG text: the report's lift, gains, calibration, importance and
risk-distribution charts, with no plotting library, no script and no external resource.

A chart is one or more :class:`Panel` (a plot box and its two :class:`Axis`) and a list of
parts, each drawn by one function of this module into a piece of SVG text:

=================  ============================================================
part               draws
=================  ============================================================
:func:`frame`      grid, axis lines, ticks and tick labels, title, axis labels
:func:`vbars`      vertical bars (from 0, or from the bottom of a log axis)
:func:`hbars`      horizontal bars (from 0)
:func:`line`       a line through points, optionally dashed, with markers
:func:`points`     scatter points of given radii
:func:`text`       a label or annotation at a data point, offset in pixels
:func:`legend`     a legend in a corner of the plot box
=================  ============================================================

:func:`svg` wraps the parts into one ``<svg>`` element (``role="img"``, an ``aria-label``,
no namespace: inline SVG in HTML5 needs none). Every text is escaped with
:func:`html.escape`; non-finite values (NaN, inf) are skipped, never drawn; coordinates are
written with one decimal, so the same inputs give byte-identical SVG.

Example
-------
>>> x = category_axis(["a", "b"])
>>> y = linear_axis(0, 3)
>>> p = place(x, y)
>>> chart = svg([frame(p, title="Counts"), vbars(p, [0, 1], [1, 3])], width=p.outer_width,
...             height=p.outer_height, label="counts chart")
>>> chart.startswith('<svg role="img" aria-label="counts chart"'), chart.count("<rect")
(True, 2)
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Axis", "Panel", "nice_ticks", "log_ticks", "linear_axis", "log_axis", "category_axis",
           "place", "text_width", "frame", "vbars", "hbars", "line", "points", "text", "legend", "svg",
           "BLUE", "ORANGE", "MUTED", "INK"]

BLUE, ORANGE, MUTED, INK = "#3b7dd8", "#d8743b", "#5b6b7c", "#1d2733"
GRID = "#e3e8ee"
FONT = 11  # px, tick labels and legends; titles a little larger, annotations smaller


def _px(v: float) -> str:
    """A pixel coordinate with one fixed decimal (deterministic, compact)."""
    return f"{v:.1f}"


def _finite(*values) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def text_width(label: str, size: float = FONT) -> float:
    """A rough width in pixels of ``label`` in a sans-serif font of ``size`` px (for margins)."""
    return 0.56 * size * len(str(label))


# ----------------------------------------------------------------------------- axes


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Evenly spaced round tick values covering ``[lo, hi]``.

    The step is 1, 2, 2.5 or 5 times a power of ten, the smallest of those giving at most
    ``count`` intervals over ``hi - lo``; the ticks run from the last multiple of the step at or
    below ``lo`` to the first at or above ``hi``.

    Parameters
    ----------
    lo, hi : float
        The data range (``hi <= lo`` is widened to ``lo + 1``).
    count : int, default 5
        About how many intervals.

    Returns
    -------
    list of float

    Example
    -------
    >>> nice_ticks(0, 0.83)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(0, 3.2)
    [0.0, 1.0, 2.0, 3.0, 4.0]
    >>> nice_ticks(0.004, 0.021)
    [0.0, 0.005, 0.01, 0.015, 0.02, 0.025]
    """
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) + 0.0 for k in range(first, last + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten from the first at or above ``lo`` to the first at or above ``hi`` (both > 0).

    Example
    -------
    >>> log_ticks(1, 5000)
    [1.0, 10.0, 100.0, 1000.0, 10000.0]
    >>> log_ticks(0.5, 80)
    [1.0, 10.0, 100.0]
    """
    first = math.ceil(math.log10(lo) - 1e-9)
    last = max(first, math.ceil(math.log10(max(hi, lo)) - 1e-9))
    return [10.0 ** k for k in range(first, last + 1)]


def _decimals(ticks: Sequence[float]) -> int:
    """The fewest decimals that write every tick exactly (0.0, 0.5, 1.0 -> 1)."""
    return next((d for d in range(10) if all(abs(round(t, d) - t) < 1e-9 for t in ticks)), 10)


@dataclass(frozen=True)
class Axis:
    """One axis: its data range ``[lo, hi]``, tick positions and their labels; ``log``: a log-10
    scale (``lo > 0``)."""

    lo: float
    hi: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]
    log: bool = False

    def fraction(self, v: float) -> float:
        """Where ``v`` lies along the axis: 0 at ``lo``, 1 at ``hi``."""
        if self.log:
            lo = math.log10(self.lo)
            return (math.log10(max(v, self.lo)) - lo) / (math.log10(self.hi) - lo)
        return (v - self.lo) / (self.hi - self.lo)


def linear_axis(lo: float, hi: float, count: int = 5) -> Axis:
    """A linear axis from the :func:`nice_ticks` of ``[lo, hi]``, labelled with the fewest
    decimals that write every tick ("0.0", "0.5", ...).

    Example
    -------
    >>> linear_axis(0, 0.83).labels
    ('0.0', '0.2', '0.4', '0.6', '0.8', '1.0')
    """
    ticks = nice_ticks(lo, hi, count)
    places = _decimals(ticks)
    return Axis(ticks[0], ticks[-1], tuple(ticks), tuple(f"{t:,.{places}f}" for t in ticks))


def log_axis(lo: float, hi: float) -> Axis:
    """A log-10 axis from ``lo`` (> 0) up to the first power of ten at or above ``hi``, ticked at
    the powers of ten ("1", "10", "100", "1,000", ...).

    Example
    -------
    >>> log_axis(0.5, 5000).labels
    ('1', '10', '100', '1,000', '10,000')
    """
    ticks = log_ticks(lo, hi)
    labels = tuple(f"{t:,.{max(0, -round(math.log10(t)))}f}" for t in ticks)
    return Axis(float(lo), ticks[-1], tuple(ticks), labels, log=True)


def category_axis(labels: Iterable) -> Axis:
    """Categories at 0, 1, 2, ... with half a step of room at both ends."""
    labels = tuple(str(label) for label in labels)
    return Axis(-0.5, len(labels) - 0.5, tuple(float(i) for i in range(len(labels))), labels)


@dataclass(frozen=True)
class Panel:
    """A plot box in SVG pixels (``left``, ``top``, ``width``, ``height``) with its axes; the
    margins around it hold the tick labels, axis labels and title."""

    x: Axis
    y: Axis
    left: float
    top: float
    width: float
    height: float
    outer_width: float
    outer_height: float

    def px(self, v: float) -> float:
        """The SVG x coordinate of data value ``v``."""
        return self.left + self.width * self.x.fraction(v)

    def py(self, v: float) -> float:
        """The SVG y coordinate of data value ``v`` (up is larger)."""
        return self.top + self.height * (1.0 - self.y.fraction(v))


def place(x: Axis, y: Axis, *, offset: float = 0.0, width: float = 300, height: float = 200,
          margin: tuple[float, float, float, float] = (56, 30, 14, 44)) -> Panel:
    """A :class:`Panel` whose plot box is ``width`` x ``height`` px, ``offset`` px from the left
    of the SVG, inside ``margin`` (left, top, right, bottom); the left margin grows to hold the
    widest y tick label and a y axis label beside it."""
    left, top, right, bottom = margin
    left = max(left, 28 + max((text_width(t) for t in y.labels), default=0))
    return Panel(x, y, offset + left, top, width, height, left + width + right, top + height + bottom)


# ----------------------------------------------------------------------------- parts


def text(panel: Panel | None, x: float, y: float, label, *, dx: float = 0, dy: float = 0,
         anchor: str = "start", size: float = FONT, colour: str = INK, cls: str | None = None,
         extra: str = "") -> str:
    """A text at data point (``x``, ``y``) of ``panel`` (or at SVG pixels when ``panel`` is
    None), moved ``dx``, ``dy`` px; escaped; empty when the point is not finite."""
    if not _finite(x, y):
        return ""
    sx, sy = (x, y) if panel is None else (panel.px(x), panel.py(y))
    klass = f' class="{cls}"' if cls else ""
    anchor_attr = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return (f'<text{klass} x="{_px(sx + dx)}" y="{_px(sy + dy)}" font-size="{size:g}" fill="{colour}"'
            f"{anchor_attr}{extra}>{html.escape(str(label))}</text>")


def _segment(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{_px(x1)}" y1="{_px(y1)}" x2="{_px(x2)}" y2="{_px(y2)}" stroke="{colour}"/>'


def _ticks_grid(p: Panel, grid: bool) -> list[str]:
    bottom, right = p.top + p.height, p.left + p.width
    out = [f'<g class="axis x{" log" if p.x.log else ""}">']
    for t, label in zip(p.x.ticks, p.x.labels):
        sx = p.px(t)
        if grid:
            out.append(_segment(sx, p.top, sx, bottom, GRID))
        out += [_segment(sx, bottom, sx, bottom + 4, MUTED),
                text(None, sx, bottom + 16, label, anchor="middle", cls="tick")]
    out += ["</g>", f'<g class="axis y{" log" if p.y.log else ""}">']
    for t, label in zip(p.y.ticks, p.y.labels):
        sy = p.py(t)
        if grid:
            out.append(_segment(p.left, sy, right, sy, GRID))
        out += [_segment(p.left - 4, sy, p.left, sy, MUTED),
                text(None, p.left - 7, sy + 4, label, anchor="end", cls="tick")]
    out.append("</g>")
    return out


def frame(p: Panel, *, title: str = "", xlabel: str = "", ylabel: str = "", grid: bool = True) -> str:
    """Grid lines, the left and bottom axis lines, ticks and tick labels, the title above the
    plot box and the axis labels. The axes are ``<g class="axis x">`` and ``<g class="axis y">``
    (``"axis y log"`` for a log scale); tick labels are ``<text class="tick">``."""
    bottom = p.top + p.height
    out = _ticks_grid(p, grid)
    out.append(f'<path d="M{_px(p.left)},{_px(p.top)}V{_px(bottom)}H{_px(p.left + p.width)}" '
               f'fill="none" stroke="{MUTED}"/>')
    centre = p.left + p.width / 2
    if title:
        out.append(text(None, centre, p.top - 12, title, anchor="middle", size=FONT + 2, cls="title",
                        extra=' font-weight="600"'))
    if xlabel:
        out.append(text(None, centre, bottom + 34, xlabel, anchor="middle", cls="xlabel"))
    if ylabel:
        # left of the widest y tick label
        sx = p.left - 16 - max((text_width(t) for t in p.y.labels), default=0)
        sy = p.top + p.height / 2
        out.append(text(None, sx, sy, ylabel, anchor="middle", cls="ylabel",
                        extra=f' transform="rotate(-90 {_px(sx)} {_px(sy)})"'))
    return "".join(out)


def _rect(p: Panel, x0: float, x1: float, y0: float, y1: float, colour: str) -> str:
    sx0, sx1, sy0, sy1 = p.px(x0), p.px(x1), p.py(y0), p.py(y1)
    return (f'<rect x="{_px(min(sx0, sx1))}" y="{_px(min(sy0, sy1))}" width="{_px(abs(sx1 - sx0))}" '
            f'height="{_px(abs(sy1 - sy0))}" fill="{colour}"/>')


def vbars(p: Panel, centres: Iterable[float], heights: Iterable[float], *, width: float = 0.8,
          colour: str = BLUE) -> str:
    """Vertical bars ``width`` (data units) wide from 0 (the bottom of a log axis) up to each
    height; non-finite ones, and on a log axis those not above its bottom, are skipped."""
    base = p.y.lo if p.y.log else min(max(0.0, p.y.lo), p.y.hi)
    return "".join(_rect(p, c - width / 2, c + width / 2, base, h, colour) for c, h in zip(centres, heights)
                   if _finite(c, h) and not (p.y.log and h <= p.y.lo))


def hbars(p: Panel, centres: Iterable[float], lengths: Iterable[float], *, height: float = 0.7,
          colour: str = BLUE) -> str:
    """Horizontal bars ``height`` (data units) high from 0 to each length; non-finite skipped."""
    base = min(max(0.0, p.x.lo), p.x.hi)
    return "".join(_rect(p, base, v, c - height / 2, c + height / 2, colour) for c, v in zip(centres, lengths)
                   if _finite(c, v))


def line(p: Panel, xs: Iterable[float], ys: Iterable[float], *, colour: str = BLUE, width: float = 1.5,
         dashed: bool = False, markers: bool = False) -> str:
    """A line through the points in order, broken where a point is not finite; ``dashed``: a
    reference line; ``markers``: a dot on every point."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys):
        if _finite(x, y):
            runs[-1].append((p.px(x), p.py(y)))
        elif runs[-1]:
            runs.append([])
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    out = []
    for run in runs:
        if len(run) > 1:
            d = "M" + "L".join(f"{_px(sx)},{_px(sy)}" for sx, sy in run)
            out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width:g}"{dash}/>')
        if markers:
            out += [f'<circle cx="{_px(sx)}" cy="{_px(sy)}" r="3.5" fill="{colour}"/>' for sx, sy in run]
    return "".join(out)


def points(p: Panel, xs: Iterable[float], ys: Iterable[float], radii: Iterable[float], *,
           colour: str = BLUE) -> str:
    """Scatter points of the given pixel radii (drawn slightly see-through); non-finite skipped."""
    return "".join(f'<circle cx="{_px(p.px(x))}" cy="{_px(p.py(y))}" r="{_px(r)}" fill="{colour}" '
                   f'fill-opacity="0.85"/>' for x, y, r in zip(xs, ys, radii) if _finite(x, y, r))


def _swatch(kind: str, colour: str, x: float, y: float) -> str:
    if kind == "bar":
        return f'<rect x="{_px(x)}" y="{_px(y - 5)}" width="16" height="10" fill="{colour}"/>'
    if kind == "point":
        return f'<circle cx="{_px(x + 8)}" cy="{_px(y)}" r="4.5" fill="{colour}"/>'
    dash = ' stroke-dasharray="5 4"' if kind == "dashed" else ""
    mark = f'<circle cx="{_px(x + 8)}" cy="{_px(y)}" r="3.5" fill="{colour}"/>' if kind == "marker" else ""
    return f'<path d="M{_px(x)},{_px(y)}h18" stroke="{colour}" stroke-width="1.5"{dash}/>' + mark


def legend(p: Panel, entries: Sequence[tuple[str, str, str]], *, corner: str = "upper right") -> str:
    """A legend of (label, kind, colour) entries in a corner of the plot box (``"upper right"``,
    ``"upper left"``, ``"lower right"``, ``"lower left"``); kind: ``"bar"``, ``"line"``,
    ``"marker"`` (line with dots), ``"dashed"`` or ``"point"``. Drawn on a white, slightly
    see-through box."""
    if not entries:
        return ""
    box_w = 34 + max(text_width(label) for label, _, _ in entries)
    box_h = 8 + 16 * len(entries)
    left = p.left + 6 if corner.endswith("left") else p.left + p.width - box_w - 6
    top = p.top + 6 if corner.startswith("upper") else p.top + p.height - box_h - 6
    box = (f'<rect x="{_px(left)}" y="{_px(top)}" width="{_px(box_w)}" height="{_px(box_h)}" '
           f'fill="#ffffff" fill-opacity="0.85"/>')
    out = ['<g class="legend">', box]
    for i, (label, kind, colour) in enumerate(entries):
        y = top + 12 + 16 * i
        out.append(_swatch(kind, colour, left + 6, y))
        out.append(text(None, left + 28, y + 4, label))
    out.append("</g>")
    return "".join(out)


def svg(parts: Iterable[str], *, width: float, height: float, label: str) -> str:
    """One inline ``<svg>`` element of ``width`` x ``height`` px holding ``parts``, with
    ``role="img"`` and ``aria-label`` = ``label`` (escaped); it scales down with its container."""
    return (f'<svg role="img" aria-label="{html.escape(label)}" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="inherit">' + "".join(parts) + "</svg>")
