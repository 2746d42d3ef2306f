"""A self-contained HTML report of one analysis: opens offline, in any browser, from one file.

Charts are inline SVG drawn by :mod:`graphchurn.app.charts` (no plotting library, no image to
decode); styles are inline; there is no script and no reference to any external resource. Every
piece of text that comes from data (identifiers, reasons, column names, notes) is escaped with
:func:`html.escape`.

The small HTML helpers here (:func:`html_table`, :func:`format_number`, :data:`PAGE_CSS`) are
shared with the web dashboard so both look and escape alike.
"""

from __future__ import annotations

import html
import math
import numbers
from decimal import ROUND_HALF_UP, Decimal
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from graphchurn.app import charts
from graphchurn.errors import InputError
from graphchurn.io.atomic import atomic_write_text
from graphchurn.targeting.contact_list import DEFAULT_CHANNELS, DEFAULT_HORIZON_MONTHS, contact_list

__all__ = ["write_report", "render_report", "html_table", "format_number", "format_money", "NUMBER_KINDS",
           "FEATURE_LABELS", "feature_label", "GROUP_COLUMNS", "group_table", "group_table_html", "METRIC_KINDS",
           "PAGE_CSS", "METRIC_LABELS", "IMPORTANCE_MEANING", "IMPORTANCE_KINDS",
           "importance_ranking", "cards_html", "scoring_items", "backtest_items", "scoring_caption",
           "backtest_caption", "baseline_metrics"]

PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1d2733; line-height: 1.45; padding: 0 1em; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 2px solid #e3e8ee; padding-bottom: 0.2em;
       margin-top: 1.8em; }
.sub { color: #5b6b7c; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; }
.card { background: #f4f7fa; border-radius: 8px; padding: 0.7em 1.1em; min-width: 9em; }
.card .v { font-size: 1.5em; font-weight: 600; } .card .k { color: #5b6b7c; font-size: 0.85em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e3e8ee; padding: 0.3em 0.7em; text-align: left;
         vertical-align: top; }
th { background: #f4f7fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #5b6b7c; padding-bottom: 0.3em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { color: #5b6b7c; font-size: 0.85em; }
img { max-width: 100%; } figure svg { max-width: 100%; height: auto; }
.empty { color: #8a97a5; font-style: italic; }
form label { margin-right: 1em; white-space: nowrap; }
input[type=number] { width: 6em; }
.error { color: #a61b1b; font-weight: 600; }
"""

#: Human labels for the keys of metrics.json, in display order.
METRIC_LABELS = {
    "n": "customers in the backtest",
    "base_rate": "churn rate in the backtest",
    "mean_probability": "mean predicted churn probability",
    "log_loss": "log loss",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "lift_top_decile": "lift in top decile",
    "emp": "expected max profit (per customer)",
    "emp_fraction": "EMP targeted fraction",
}

_TOP_CUSTOMER_COLUMNS = [
    "risk_rank",
    "customer_id",
    "churn_probability",
    "community",
    "influencer_score",
    "susceptibility",
    "value",
    "reasons",
]


# ----------------------------------------------------------------------------- formatting


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isnan(float(value))


#: The kinds of number :func:`format_number` knows (``kind=``).
NUMBER_KINDS = ("number", "count", "percent", "money")


def _fixed(x: float, places: int, scale: int = 0) -> str:
    """``x`` rounded half away from zero (on its shortest decimal form, so 0.0345 -> 0.035 as
    written, not as its binary value 0.034499...) with thousands separators."""
    d = Decimal(repr(float(x))).scaleb(scale).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0.0"
    return f"{d:,.{places}f}"


def _plain_places(x: float, digits: int) -> int:
    # A number at or above 1 never gets exactly three decimals: "43.192" reads as forty-three
    # thousand in half of Europe. Below 1 the leading "0." makes "0.812" unambiguous.
    ax = abs(x)
    if ax >= 1000:
        return 0
    if ax >= 10:
        return min(digits, 1)
    if ax >= 1:
        return min(digits, 2)
    return digits


def format_money(value, currency: str | None = None) -> str:
    """An amount of money: "1,234" (no cents from 1,000 on), "12.50"; with ``currency`` its
    symbol or code in front ("€12.50", "EUR 1,234"). Missing values give an en dash."""
    if _is_missing(value):
        return "–"
    x = float(value)
    if math.isinf(x):
        text = "∞" if x > 0 else "-∞"
    else:
        text = _fixed(x, 0 if abs(x) >= 1000 else 2)
    if not currency:
        return text
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    gap = "" if len(currency) == 1 else " "
    return f"{sign}{currency}{gap}{text}"


def format_number(value, digits: int = 3, *, kind: str = "number", currency: str | None = None) -> str:
    """Text a person reads without help: thousands separators, never a thousands-ambiguous
    "43.192", rates as percentages, money with its currency.

    Parameters
    ----------
    value : object
        A number, string, None or NaN.
    digits : int, default 3
        Most decimal places of a plain number; below 1 it gets exactly ``digits`` ("0.812"),
        from 1 to 10 at most 2 ("3.20"), from 10 to 1,000 at most 1 ("43.2"), above none
        ("12,346"). Integral values print as integers ("2", "12,345").
    kind : {"number", "count", "percent", "money"}
        ``count``: an expected count such as expected churners, one decimal ("43.2", "1,234.5",
        integers stay integers); ``percent``: a rate in [0, 1] as a percentage with one decimal
        ("3.5%"; a tiny non-zero rate reads "<0.1%"); ``money``: see :func:`format_money`.
    currency : str, optional
        Symbol or code shown in front of ``money`` amounts; None: plain numbers.

    Returns
    -------
    str
        Not yet HTML-escaped. Missing values give an en dash.

    Example
    -------
    >>> format_number(12345), format_number(0.12345), format_number(43.192), format_number(float("nan"))
    ('12,345', '0.123', '43.2', '–')
    >>> format_number(43.192, kind="count"), format_number(0.0345, kind="percent")
    ('43.2', '3.5%')
    >>> format_number(1234.5, kind="money", currency="€")
    '€1,235'
    """
    if kind not in NUMBER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NUMBER_KINDS)}, not {kind!r}")
    if _is_missing(value):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not isinstance(value, numbers.Real):
        return str(value)
    if kind == "money":
        return format_money(value, currency)
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if kind == "percent":
        if x != 0 and abs(x) < 0.0005:
            return "<0.1%" if x > 0 else ">-0.1%"
        return _fixed(x, 1 if abs(x) < 1 else 0, scale=2) + "%"
    if isinstance(value, numbers.Integral) or (x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    if kind == "count":
        return _fixed(x, 1)
    return _fixed(x, _plain_places(x, digits))


def html_table(frame: pd.DataFrame, columns=None, *, caption: str | None = None, max_rows: int | None = None,
               empty_text: str = "nothing to show", labels: Mapping[str, str] | None = None,
               kinds: Mapping[str, str] | None = None, currency: str | None = None) -> str:
    """Render a DataFrame as an escaped HTML table (numbers right-aligned).

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show, in order.
    columns : list of str, optional
        Columns to show (those absent from ``frame`` are skipped). Default: all.
    caption : str, optional
        Table caption (escaped).
    max_rows : int, optional
        Show at most this many rows.
    empty_text : str
        Shown instead of a table when there are no rows.
    labels : mapping, optional
        Header text by column name (default: the column name).
    kinds : mapping, optional
        :func:`format_number` ``kind`` by column name ("count", "percent", "money").
    currency : str, optional
        Shown in front of the ``money`` columns' amounts.

    Returns
    -------
    str
        HTML; every header and cell passes through :func:`html.escape`.
    """
    if frame is None:
        return f'<p class="empty">{html.escape(empty_text)}</p>'
    columns = [c for c in (frame.columns if columns is None else columns) if c in frame.columns]
    if len(frame) == 0 or not columns:
        return f'<p class="empty">{html.escape(empty_text)}</p>'
    shown = frame if max_rows is None else frame.head(max_rows)
    numeric = {c: pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(shown[c])
               for c in columns}
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    labels, kinds = dict(labels or {}), dict(kinds or {})
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(labels.get(c, c)))}</th>" for c in columns)
               + "</tr></thead>")
    out.append("<tbody>")
    # Rows are capped by max_rows for display; this loop never runs over a whole large table.
    for row in shown[columns].itertuples(index=False, name=None):
        cells = []
        for c, v in zip(columns, row):
            cls = ' class="num"' if numeric[c] else ""
            text = format_number(v, kind=kinds.get(c, "number"), currency=currency) if numeric[c] else format_number(v)
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ----------------------------------------------------------------------------- charts
# Inline SVG drawn by graphchurn.app.charts: no plotting library, nothing to decode.


def _figure_html(chart_svg: str, caption: str) -> str:
    return f"<figure>{chart_svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _top(*arrays, floor: float = 0.0) -> float:
    """The largest finite value of the arrays, at least ``floor``."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays] + [np.array([floor])])
    return float(values[np.isfinite(values)].max())


_GAIN_COLUMNS = ("cumulative_gain", "cumulative_gains", "gain", "gains", "captured", "cumulative_captured")


def _lift_panel(lift: pd.DataFrame, labels: list[str], offset: float) -> tuple[charts.Panel, str]:
    positions = np.arange(len(lift))
    bars = _numbers(lift, "lift")
    cumulative = _numbers(lift, "cumulative_lift") if "cumulative_lift" in lift.columns else np.array([])
    y = charts.linear_axis(0, _top(bars, cumulative, floor=1.0) * 1.05)
    p = charts.place(charts.category_axis(labels), y, offset=offset)
    parts = [charts.frame(p, title="Lift", xlabel="risk bucket (highest risk first)", ylabel="lift over base rate"),
             charts.vbars(p, positions, bars, colour=charts.BLUE),
             charts.line(p, [-0.5, len(lift) - 0.5], [1.0, 1.0], colour=charts.MUTED, width=1, dashed=True)]
    if cumulative.size:
        parts += [charts.line(p, positions, cumulative, colour=charts.ORANGE, markers=True),
                  charts.legend(p, [("lift", "bar", charts.BLUE), ("cumulative lift", "marker", charts.ORANGE)])]
    return p, "".join(parts)


def _gains_panel(lift: pd.DataFrame, gain_col: str, offset: float) -> tuple[charts.Panel, str]:
    gains = _numbers(lift, gain_col)
    if "fraction" in lift.columns:  # cumulative share of customers, as model.lift_curve gives
        share = _numbers(lift, "fraction")
    else:
        share = np.arange(1, len(lift) + 1) / len(lift)
    p = charts.place(charts.linear_axis(0, _top(share, floor=1.0)), charts.linear_axis(0, _top(gains, floor=1.0)),
                     offset=offset)
    parts = [charts.frame(p, title="Cumulative gains", xlabel="share of customers contacted",
                          ylabel="share of churners reached"),
             charts.line(p, [0, 1], [0, 1], colour=charts.MUTED, width=1, dashed=True),
             charts.line(p, np.r_[0, share], np.r_[0, gains], colour=charts.BLUE, markers=True),
             charts.legend(p, [("model", "marker", charts.BLUE), ("random", "dashed", charts.MUTED)],
                           corner="lower right")]
    return p, "".join(parts)


def _lift_chart(lift: pd.DataFrame) -> str | None:
    gain_col = next((c for c in _GAIN_COLUMNS if c in lift.columns), None)
    has_lift = "lift" in lift.columns
    if not has_lift and gain_col is None:
        return None
    bucket_col = next((c for c in ("bucket", "bin") if c in lift.columns), None)
    buckets = lift[bucket_col].to_numpy() if bucket_col else np.arange(1, len(lift) + 1)
    panels, width, height = [], 0.0, 0.0
    if has_lift:
        panels.append(_lift_panel(lift, [format_number(b) for b in buckets], width))
        width, height = panels[-1][0].outer_width, panels[-1][0].outer_height
    if gain_col is not None:
        panels.append(_gains_panel(lift, gain_col, width))
        width, height = width + panels[-1][0].outer_width, panels[-1][0].outer_height
    chart = charts.svg([part for _, part in panels], width=width, height=height, label="lift chart")
    return _figure_html(chart, "Backtest: how many more churners the top risk buckets held than a random pick.")


def _calibration_chart(calibration: pd.DataFrame) -> str | None:
    if not {"mean_predicted", "observed_rate"} <= set(calibration.columns):
        return None
    x, y = _numbers(calibration, "mean_predicted"), _numbers(calibration, "observed_rate")
    count_col = next((c for c in ("count", "customers") if c in calibration.columns), None)
    if count_col:
        count = np.nan_to_num(_numbers(calibration, count_col), nan=0.0, posinf=0.0, neginf=0.0)
        area = 20 + 180 * count / max(count.max(), 1.0)  # marker area, as a scatter plot's ``s``
    else:
        area = np.full(x.size, 40.0)
    axis = charts.linear_axis(0, _top(x, y, floor=0.05) * 1.05)
    p = charts.place(axis, axis, width=260, height=240)
    parts = [charts.frame(p, title="Calibration", xlabel="predicted churn probability",
                          ylabel="observed churn rate"),
             charts.line(p, [0, axis.hi], [0, axis.hi], colour=charts.MUTED, width=1, dashed=True),
             charts.line(p, x, y, colour=charts.BLUE, width=1),
             charts.points(p, x, y, 1.2 * np.sqrt(area / np.pi), colour=charts.BLUE)]
    if count_col:
        parts += [charts.text(p, xi, yi, f"n={format_number(int(n))}", dx=7, dy=13, size=9, colour=charts.MUTED,
                              cls="annotation") for xi, yi, n in zip(x, y, count)]
    parts.append(charts.legend(p, [("perfect", "dashed", charts.MUTED),
                                   ("model (size = customers)", "point", charts.BLUE)], corner="upper left"))
    chart = charts.svg(parts, width=p.outer_width, height=p.outer_height, label="calibration chart")
    return _figure_html(chart, "Backtest: predicted probabilities against the churn rate actually observed; "
                               "n = customers in each bin (a bin of few customers says little).")


#: Feature name -> what it measures, in words (the importance chart's labels). Customer
#: attributes and embeddings not listed read as their name in words (:func:`feature_label`).
FEATURE_LABELS = {
    "n_departed_contacts": "contacts who left recently",
    "share_to_departed": "share of calling with recent leavers",
    "max_tie_share_departed": "strongest tie to a recent leaver",
    "share_to_departed_longer": "calling with earlier leavers",
    "share_to_departed_before_onset": "calling with leavers before they faded",
    "departed_influencer_contact": "an influential contact left",
    "spreading_activation_energy": "churn spreading through the network",
    "group_churn_rate": "churn in their social group",
    "out_week_ratio": "outgoing activity last week vs usual",
    "in_week_ratio": "incoming activity last week vs usual",
    "out_last_week": "outgoing calls and messages last week",
    "activity_trend": "trend of their activity",
    "out_recent": "recent outgoing activity",
    "out_previous": "earlier outgoing activity",
    "fade_out_evidence": "calls and messages tapering off",
    "days_since_last_out": "days since their last outgoing call or message",
    "days_since_last_any": "days since any call or message",
    "out_share": "share of traffic they start",
    "n_out": "outgoing calls and messages",
    "n_in": "incoming calls and messages",
    "duration_out": "minutes of outgoing calls",
    "duration_in": "minutes of incoming calls",
    "active_days_out": "days with outgoing activity",
    "distinct_contacts": "number of contacts",
    "strength": "total call-network strength",
    "pagerank": "centrality in the call network",
    "coreness": "place in the network's dense core",
    "clustering": "how interlinked their contacts are",
    "community_size": "size of their social group",
    "embeddedness": "calling within their social group",
    "share_to_leaders": "calling with their group's leaders",
    "susceptibility": "exposure to their group and leavers",
    "is_leader": "a leader of their group",
    "influencer_score": "influence in the call network",
    "value": "monthly value",
    "tenure_months": "months as a customer",
    "support_contacts": "contacts with customer support",
    "plan": "tariff plan",
    "age": "age",
    "region": "region",
}


def feature_label(name) -> str:
    """A feature's name in words: :data:`FEATURE_LABELS`, else the name without its prefix and
    underscores ("attr_contract_type" -> "contract type", "embedding_3" -> "network embedding 3").

    Example
    -------
    >>> feature_label("fade_out_evidence"), feature_label("attr_contract_type")
    ('calls and messages tapering off', 'contract type')
    """
    name = str(name)
    if name in FEATURE_LABELS:
        return FEATURE_LABELS[name]
    if name.startswith("embedding_"):
        return "network embedding " + name[len("embedding_"):]
    name = name.removeprefix("attr_")
    if name.startswith("days_since_"):
        return "days since " + name[len("days_since_"):].replace("_", " ")
    return name.replace("_", " ")


#: What the importance in the report's chart is, by ``ChurnModel.importance_kind_`` (metrics.json's
#: ``importance``): the caption's words and the axis label.
IMPORTANCE_KINDS = {
    "permutation": ("permutation importance: the drop in ROC AUC on held-out rows when the "
                    "feature is shuffled", "drop in ROC AUC when shuffled"),
    "contribution": ("mean absolute contribution: how far the feature moves the held-out "
                     "customers' predicted log-odds, on average (tree path attribution)",
                     "mean |change in log-odds|"),
}
IMPORTANCE_MEANING = IMPORTANCE_KINDS["permutation"][0]


def _features(n: int) -> str:
    return f"{n} feature" + ("" if n == 1 else "s")


def importance_ranking(importance, top: int = 15) -> tuple[pd.Series, int, int]:
    """The features the importance chart draws: the ``top`` largest *positive* importances.

    Ranking is by the signed value: a zero or negative permutation importance means shuffling
    the feature did not hurt the model (the feature does not help), so it is never ranked as
    important, however large its magnitude.

    Parameters
    ----------
    importance : pandas.Series or mapping
        Importance by feature name; missing values are ignored.
    top : int, default 15

    Returns
    -------
    (pandas.Series, int, int)
        The features shown, most important first; how many helping features are left out
        beyond ``top``; how many have zero or negative importance.

    Example
    -------
    >>> shown, more, no_help = importance_ranking({"a": 0.1, "b": -0.5, "c": 0.3})
    >>> list(shown.index), more, no_help
    (['c', 'a'], 0, 1)
    """
    values = pd.to_numeric(pd.Series(importance), errors="coerce").dropna()
    helping = values[values > 0].sort_values(ascending=False, kind="stable")
    return helping.iloc[:top], int(len(helping) - min(len(helping), top)), int((values <= 0).sum())


def _short(label: str, most: int = 48) -> str:
    return label if len(label) <= most else label[:most - 1] + "…"


def _importance_chart(importance: pd.Series, top: int = 15, kind: str = "permutation") -> str | None:
    meaning_text, axis_label = IMPORTANCE_KINDS.get(kind, IMPORTANCE_KINDS["permutation"])
    shown, more, no_help = importance_ranking(importance, top)
    if shown.empty and no_help == 0:
        return None
    rest = []
    if more:
        rest.append(f"{_features(more)} that help less")
    if no_help:
        rest.append(f"{_features(no_help)} with zero or negative importance, i.e. no help")
    tail = (" Not shown: " + "; ".join(rest) + ".") if rest else ""
    meaning = meaning_text[0].upper() + meaning_text[1:]
    if shown.empty:
        return (f'<figure><p class="empty">No feature helps the model: all {_features(no_help)} have '
                f"zero or negative {html.escape(meaning_text)}.</p></figure>")
    values = shown.iloc[::-1]  # largest at the top of a horizontal bar chart
    labels = [_short(feature_label(i)) for i in values.index]  # the left margin grows to hold them
    p = charts.place(charts.linear_axis(0, _top(values.to_numpy(dtype=float)), count=4),
                     charts.category_axis(labels), width=280, height=22 * len(labels), margin=(56, 30, 24, 44))
    parts = [charts.frame(p, title="What drives the predictions", xlabel=axis_label),
             charts.hbars(p, np.arange(len(values)), values.to_numpy(dtype=float), colour=charts.BLUE)]
    chart = charts.svg(parts, width=p.outer_width, height=p.outer_height, label="feature importance chart")
    return _figure_html(chart, f"The {_features(len(values))} that help the model most. {meaning}.{tail}")


def _probability_histogram(scores: pd.DataFrame) -> str | None:
    if "churn_probability" not in scores.columns or len(scores) == 0:
        return None
    p = _numbers(scores, "churn_probability")
    p = p[np.isfinite(p)]
    if p.size == 0:
        return None
    counts, edges = np.histogram(p, bins=np.linspace(0, 1, 21))
    mids = (edges[:-1] + edges[1:]) / 2
    # A log count axis: the few high-risk customers the campaign is about stay visible next to
    # the thousands of low-risk ones.
    panel = charts.place(charts.linear_axis(0, 1), charts.log_axis(0.5, max(float(counts.max()), 1.0) * 1.5),
                         width=280, height=220)
    parts = [charts.frame(panel, title="Risk distribution", xlabel="churn probability",
                          ylabel="customers (log scale)"),
             charts.vbars(panel, mids, counts.astype(float), width=0.046, colour=charts.BLUE)]
    parts += [charts.text(panel, mid, c, format_number(int(c)), dy=-3, anchor="middle", size=9, cls="count")
              for c, left, mid in zip(counts, edges[:-1], mids) if c > 0 and left >= 0.3]
    chart = charts.svg(parts, width=panel.outer_width, height=panel.outer_height, label="risk distribution")
    tail = []
    for threshold in (0.3, 0.5):
        n = int((p >= threshold).sum())
        tail.append(f"{format_number(n)} ({format_number(n / p.size, kind='percent')}) at "
                    f"{round(threshold * 100)}% or more")
    return _figure_html(chart, "How churn risk is spread over the customers scored at as-of; the count "
                               "axis is logarithmic so the high-risk tail shows: " + "; ".join(tail) + ".")


# ----------------------------------------------------------------------------- sections


def cards_html(items: Iterable[tuple], currency: str | None = None) -> str:
    """(label, value) or (label, value, kind) items as a row of headline cards (escaped);
    ``kind`` is a :func:`format_number` kind ("count", "percent", "money")."""
    cards = []
    for item in items:
        label, value = item[0], item[1]
        kind = item[2] if len(item) > 2 else "number"
        shown = format_number(value, kind=kind, currency=currency)
        cards.append(f'<div class="card"><div class="v">{html.escape(shown)}</div>'
                     f'<div class="k">{html.escape(label)}</div></div>')
    return '<div class="cards">' + "".join(cards) + "</div>"


def scoring_items(scores: pd.DataFrame) -> list[tuple]:
    """(label, value, kind) items describing the customers scored at as-of (from the scores
    table); see :func:`cards_html`."""
    items: list[tuple] = [("customers scored", len(scores), "number")]
    if "churn_probability" in scores.columns:
        p = pd.to_numeric(scores["churn_probability"], errors="coerce")
        items.append(("expected churners", float(p.sum()), "count"))
        if len(scores):
            items.append(("expected churn rate", float(p.mean()), "percent"))
        if "value" in scores.columns:
            v = pd.to_numeric(scores["value"], errors="coerce")
            if v.notna().any():
                items.append(("monthly value at risk", float((p * v).sum()), "money"))
    return items


#: Backtest keys :func:`backtest_caption` states (the size and churn rate of the backtest), so
#: the cards and the baseline table leave them out.
_CAPTION_KEYS = ("n", "base_rate")

#: How the metrics of :data:`METRIC_LABELS` are formatted (:func:`format_number` kinds).
METRIC_KINDS = {"base_rate": "percent", "mean_probability": "percent", "emp": "money",
                "emp_fraction": "percent"}


def backtest_items(metrics: Mapping) -> list[tuple]:
    """(label, value, kind) items of the backtest metrics (measured on the cut-off, not at
    as-of), except those :func:`backtest_caption` states."""
    return [(label, metrics[key], METRIC_KINDS.get(key, "number")) for key, label in METRIC_LABELS.items()
            if key in metrics and key not in _CAPTION_KEYS]


def scoring_caption(metrics: Mapping, n_scored: int) -> str:
    """E.g. "Scored 2,645 customers at as-of 2025-05-31 (churn within the next 30 days, contract
    churn definition)". Plain text, not escaped."""
    text = f"Scored {format_number(n_scored)} customers"
    if metrics.get("as_of") is not None:
        text += f" at as-of {metrics['as_of']}"
    detail = []
    if metrics.get("horizon_days") is not None:
        detail.append(f"churn within the next {format_number(metrics['horizon_days'])} days")
    if metrics.get("definition"):
        detail.append(f"{metrics['definition']} churn definition")
    return text + (f" ({', '.join(detail)})" if detail else "")


def backtest_caption(metrics: Mapping) -> str | None:
    """E.g. "Backtest on cut-off 2025-05-01 (n=2,700, churn rate 2.0%; trained on cut-offs
    ...)": where the metrics were measured. None when metrics.json holds no backtest."""
    if metrics.get("cutoff") is None and not any(k in metrics for k in METRIC_LABELS):
        return None
    text = "Backtest" + (f" on cut-off {metrics['cutoff']}" if metrics.get("cutoff") is not None else "")
    detail = []
    if metrics.get("n") is not None:
        detail.append(f"n={format_number(metrics['n'])}")
    if metrics.get("base_rate") is not None:
        detail.append(f"churn rate {format_number(metrics['base_rate'], kind='percent')}")
    if metrics.get("estimator"):
        detail.append(f"{metrics['estimator']} model")
    text += f" ({', '.join(detail)})" if detail else ""
    if metrics.get("backtest"):
        text += f"; {metrics['backtest']}"
    return text


def baseline_metrics(metrics: Mapping) -> Mapping | None:
    """The RFM-only logistic baseline's backtest metrics (``baseline_rfm_logistic``); None when
    metrics.json has none."""
    baseline = metrics.get("baseline_rfm_logistic")
    return baseline if isinstance(baseline, Mapping) and baseline else None


def _metrics_section(scores, metrics, currency=None) -> str:
    parts = [cards_html(scoring_items(scores), currency)]
    caption = backtest_caption(metrics)
    if caption is None:
        return "".join(parts)
    parts += ["<h3>Model quality on the backtest</h3>", f"<p>{html.escape(caption)}</p>",
              cards_html(backtest_items(metrics), currency)]
    baseline = baseline_metrics(metrics)
    if baseline:
        keys = [k for k in METRIC_LABELS if k in baseline and k in metrics and k not in _CAPTION_KEYS]
        if keys:
            def shown(value, key):
                return format_number(value, kind=METRIC_KINDS.get(key, "number"), currency=currency)
            table = pd.DataFrame({
                "metric": [METRIC_LABELS[k] for k in keys],
                "model": [shown(metrics[k], k) for k in keys],
                "baseline": [shown(baseline[k], k) for k in keys],
            })
            parts.append(html_table(table, caption="Model against the RFM-only logistic baseline on "
                                    "the same backtest"))
    return "".join(parts)


def _subtitle(metrics, n_scored: int) -> str:
    bits = [scoring_caption(metrics, n_scored)]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bits.append(f"report generated {stamp}")
    return html.escape(" · ".join(bits))


def top_groups(groups: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Groups ordered by expected churners (desc), ties by community id; the first ``limit``."""
    if groups is None or len(groups) == 0:
        return pd.DataFrame(columns=["community", "size", "expected_churners", "value_at_risk", "top_influencers"])
    keys = [(c, asc) for c, asc in (("expected_churners", False), ("community", True)) if c in groups.columns]
    if keys:
        ordered = groups.sort_values([c for c, _ in keys], ascending=[a for _, a in keys], kind="stable")
    else:
        ordered = groups
    return ordered if limit is None else ordered.head(limit)


def top_customers(scores: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Customers by risk: ``risk_rank`` ascending (or probability descending); the first ``limit``."""
    if "risk_rank" in scores.columns:
        ordered = scores.sort_values(["risk_rank", "customer_id"], kind="stable")
    elif "churn_probability" in scores.columns:
        ordered = scores.sort_values(["churn_probability", "customer_id"], ascending=[False, True], kind="stable")
    else:
        ordered = scores
    return ordered if limit is None else ordered.head(limit)


#: Columns of :func:`group_table`: header in words and :func:`format_number` kind.
GROUP_COLUMNS = {
    "community": ("group", "number"),
    "size": ("customers", "number"),
    "expected_churners": ("expected churners", "count"),
    "churn_rate": ("expected churn rate", "percent"),
    "value_at_risk": ("monthly value at risk", "money"),
    "top_influencers": ("influencers (most influential first)", "number"),
}


def group_table(groups: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The groups to show (:func:`top_groups`) with ``churn_rate`` (expected churners per
    customer of the group) and the influencers separated by ", "."""
    shown = top_groups(groups, limit).copy()
    if {"expected_churners", "size"} <= set(shown.columns):
        size = pd.to_numeric(shown["size"], errors="coerce")
        shown["churn_rate"] = pd.to_numeric(shown["expected_churners"], errors="coerce") / size.where(size > 0)
    if "top_influencers" in shown.columns:
        shown["top_influencers"] = shown["top_influencers"].fillna("").astype(str).str.replace(";", ", ")
    return shown


def group_table_html(groups: pd.DataFrame, limit: int | None = None, *, currency: str | None = None,
                     caption: str | None = None, empty_text: str = "no groups") -> str:
    """The group table of the report and the dashboard (escaped HTML, headers in words)."""
    return html_table(group_table(groups, limit), list(GROUP_COLUMNS), caption=caption, empty_text=empty_text,
                      labels={c: label for c, (label, _) in GROUP_COLUMNS.items()},
                      kinds={c: kind for c, (_, kind) in GROUP_COLUMNS.items()}, currency=currency)


_CUSTOMER_LABELS = {"risk_rank": "rank", "customer_id": "customer", "churn_probability": "churn risk",
                    "community": "group", "influencer_score": "influence", "susceptibility": "susceptibility",
                    "value": "monthly value", "reasons": "why"}
_CUSTOMER_KINDS = {"churn_probability": "percent", "value": "money"}


def _campaign_budget(n_scored: int) -> float:
    """The report's default campaign budget: a call to 5% of the customers scored."""
    return float(max(1, math.ceil(0.05 * n_scored)) * DEFAULT_CHANNELS["call"].cost)


def _what_to_do(scores: pd.DataFrame, groups: pd.DataFrame, budget: float | None, currency: str | None,
                max_contacts: int = 10) -> str:
    """The "What to do" section: the contact list's summary for a budget and the groups to watch."""
    def money(value) -> str:
        return format_number(value, kind="money", currency=currency)

    parts = ['<h2 id="what-to-do">What to do</h2>']
    default = budget is None
    if default:
        budget = _campaign_budget(len(scores))
    try:
        plan = contact_list(scores, budget)
    except InputError as err:
        plan, reason = None, str(err)
    if plan is None:
        parts.append(f'<p class="empty">No contact list: {html.escape(reason)}.</p>')
    elif len(plan) == 0:
        parts.append(f"<p>With a budget of {html.escape(money(budget))} nobody is worth contacting: "
                     "no contact is expected to save more than it costs.</p>")
    else:
        effect = {name: c.effect for name, c in DEFAULT_CHANNELS.items()}
        kept = float((plan["churn_probability"] * plan["channel"].map(effect)).sum())
        counts = plan["channel"].value_counts()
        by_channel = ", ".join(f"{format_number(int(n))} by {name}" for name, n in counts.items())
        source = " (by default, the cost of a call to 5% of the customers)" if default else ""
        parts.append(
            "<p>" + f"With a campaign budget of <b>{html.escape(money(budget))}</b>{source}, contact "
            f"<b>{format_number(len(plan))}</b> customers: {html.escape(by_channel)}. It costs "
            f"<b>{html.escape(money(plan['cost'].sum()))}</b> and is expected to keep "
            f"<b>{html.escape(format_number(kept, kind='count'))}</b> customers who would have left, saving "
            f"<b>{html.escape(money(plan['expected_saving'].sum()))}</b> of revenue over "
            f"{format_number(DEFAULT_HORIZON_MONTHS)} months (net "
            f"<b>{html.escape(money(plan['net_saving'].sum()))}</b>).</p>")
        parts.append(html_table(plan, ["customer_id", "channel", "churn_probability", "expected_saving", "reasons"],
                                caption=f"First {min(len(plan), max_contacts)} contacts, in priority order "
                                        "(the full list: graphchurn target --scores DIR --budget B)",
                                max_rows=max_contacts,
                                labels={"customer_id": "customer", "churn_probability": "churn risk",
                                        "expected_saving": "expected saving", "reasons": "why"},
                                kinds={"churn_probability": "percent", "expected_saving": "money"},
                                currency=currency))
    watch = group_table(groups, 3)
    if len(watch):
        items = []
        for r in watch.to_dict("records"):
            text = (f"Group {format_number(r.get('community'))}: {format_number(r.get('size'))} customers, "
                    f"{format_number(r.get('expected_churners'), kind='count')} expected churners "
                    f"({format_number(r.get('churn_rate'), kind='percent')})")
            if r.get("top_influencers"):
                text += f"; talk to its influencers first: {r['top_influencers']}"
            items.append(f"<li>{html.escape(text)}</li>")
        parts.append("<p>Groups to watch: a leaver here tends to pull others with them.</p><ul>"
                     + "".join(items) + "</ul>")
    return "".join(parts)


# ----------------------------------------------------------------------------- main entry


def render_report(*, scores: pd.DataFrame, groups: pd.DataFrame, metrics: Mapping, lift=None, calibration=None,
                  importance=None, graph_summary=None, notes=(), title: str = "graphchurn: churn risk report",
                  max_groups: int = 20, max_customers: int = 50, currency: str | None = None,
                  budget: float | None = None) -> str:
    """The report as an HTML string (see :func:`write_report` for the parameters)."""
    metrics = dict(metrics or {})
    charts = [c for c in (
        _lift_chart(lift) if lift is not None and len(lift) else None,
        _calibration_chart(calibration) if calibration is not None and len(calibration) else None,
        _importance_chart(importance, kind=metrics.get("importance", "permutation"))
        if importance is not None and len(importance) else None,
        _probability_histogram(scores),
    ) if c]
    # A caller may pass a note both in metrics["notes"] and in ``notes``: each is shown once,
    # in first-seen order.
    all_notes = list(dict.fromkeys(str(n) for n in list(metrics.get("notes") or []) + list(notes or [])))

    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="sub">{_subtitle(metrics, len(scores))}</p>',
            "<h2>Headline</h2>", _metrics_section(scores, metrics, currency),
            _what_to_do(scores, groups, budget, currency)]
    body += ["<h2>Charts</h2>",
             '<div class="charts">' + "".join(charts) + "</div>" if charts
             else '<p class="empty">no charts available</p>']
    body += ["<h2>Groups at risk</h2>",
             group_table_html(groups, max_groups, currency=currency,
                              caption=f"Top {max_groups} groups by expected churners")]
    body += ["<h2>Customers most at risk</h2>",
             html_table(top_customers(scores, max_customers), _TOP_CUSTOMER_COLUMNS,
                        caption=f"Top {max_customers} customers by churn risk", empty_text="no customers",
                        labels=_CUSTOMER_LABELS, kinds=_CUSTOMER_KINDS, currency=currency)]
    if graph_summary:
        summary = pd.DataFrame({"measure": [str(k).replace("_", " ") for k in graph_summary],
                                "value": list(graph_summary.values())})
        body += ["<h2>Interaction graph</h2>", html_table(summary)]
    if all_notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in all_notes) + "</ul>"]

    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same directory + os.replace."""
    return atomic_write_text(path, text)


def write_report(path, *, scores: pd.DataFrame, groups: pd.DataFrame, metrics: Mapping, lift=None,
                 calibration=None, importance=None, graph_summary=None, notes=(),
                 title: str = "graphchurn: churn risk report", max_groups: int = 20,
                 max_customers: int = 50, currency: str | None = None, budget: float | None = None) -> Path:
    """Write one self-contained HTML report of an analysis.

    Parameters
    ----------
    path : str or Path
        Where to write (the directory is created). Written atomically.
    scores : pandas.DataFrame
        scores.csv contents: customer_id, churn_probability, risk_rank, community,
        influencer_score, susceptibility, reasons, value.
    groups : pandas.DataFrame
        groups.csv contents: community, size, expected_churners, value_at_risk, top_influencers.
    metrics : mapping
        metrics.json contents: ``as_of`` (the scoring moment), ``horizon_days``, ``definition``,
        and the backtest measured on ``cutoff``: n, base_rate, roc_auc, pr_auc, lift_top_decile,
        emp, emp_fraction, optionally ``estimator`` and ``backtest`` (how it was trained);
        optionally ``baseline_rfm_logistic`` (or ``baseline``; same keys) and ``notes``.
    lift : pandas.DataFrame, optional
        Columns ``bucket`` (or ``bin``) and ``lift`` (optionally ``cumulative_lift``) and/or a
        cumulative gains column (``cumulative_gain``, ``gain`` or ``captured``: share of churners
        reached), optionally ``fraction`` (cumulative share of customers) -- the shape of
        :func:`graphchurn.models.metrics.lift_curve`.
    calibration : pandas.DataFrame, optional
        Columns ``mean_predicted``, ``observed_rate`` and ``count`` (or ``customers``) -- the shape
        of :func:`graphchurn.models.metrics.calibration_table`.
    importance : pandas.Series, optional
        Feature importance indexed by feature name, of the kind ``metrics["importance"]``
        names (:data:`IMPORTANCE_KINDS`; permutation importance when absent). The 15 largest positive ones are drawn; zero or negative ones (the
        feature does not help) are only counted in the caption.
    graph_summary : dict, optional
        Plain numbers describing the interaction graph (e.g. ``CustomerGraph.summary()``).
    notes : iterable of str
        Extra notes, shown after those in ``metrics["notes"]``; a note in both is shown once.
    title : str
        Page title.
    max_groups, max_customers : int
        Rows of the group and customer tables.
    currency : str, optional
        Symbol or code of the currency of ``value`` and of the channel costs ("€", "EUR"),
        shown in front of every amount of money; None: plain numbers.
    budget : float, optional
        Campaign budget of the "What to do" section's contact list
        (:func:`graphchurn.targeting.contact_list` with its default channels); default: a call
        to 5% of the customers scored.

    Returns
    -------
    pathlib.Path
        The path written.

    Example
    -------
    >>> import tempfile, pathlib
    >>> scores = pd.DataFrame({"customer_id": ["a", "b"], "churn_probability": [0.7, 0.1],
    ...                        "risk_rank": [1, 2], "community": [0, 0], "value": [20.0, 30.0]})
    >>> groups = pd.DataFrame({"community": [0], "size": [2], "expected_churners": [0.8],
    ...                        "value_at_risk": [17.0], "top_influencers": ["a"]})
    >>> metrics = {"roc_auc": 0.74, "cutoff": "2024-03-01", "as_of": "2024-04-01"}
    >>> path = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", scores=scores,
    ...                     groups=groups, metrics=metrics)
    >>> "<html" in path.read_text()
    True
    """
    text = render_report(scores=scores, groups=groups, metrics=metrics, lift=lift, calibration=calibration,
                         importance=importance, graph_summary=graph_summary, notes=notes, title=title,
                         max_groups=max_groups, max_customers=max_customers, currency=currency,
                         budget=budget)
    return write_text_atomic(path, text)
