"""A self-contained HTML report of one analysis: opens offline, in any browser, from one file.

Charts are drawn with matplotlib's Agg renderer into PNG images embedded as base64 ``data:``
URIs; styles are inline; there is no script and no reference to any external resource. Every
piece of text that comes from data (identifiers, reasons, column names, notes) is escaped with
:func:`html.escape`.

The small HTML helpers here (:func:`html_table`, :func:`format_number`, :data:`PAGE_CSS`) are
shared with the web dashboard so both look and escape alike.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from graphchurn.io.atomic import atomic_write_text
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["write_report", "html_table", "format_number", "PAGE_CSS", "METRIC_LABELS", "IMPORTANCE_MEANING",
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
img { max-width: 100%; }
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


def format_number(value, digits: int = 3) -> str:
    """Plain text for a number or other value: ints with separators, floats to ``digits`` places.

    Parameters
    ----------
    value : object
        A number, string, None or NaN.
    digits : int, default 3
        Decimal places for non-integral floats (values >= 1000 get none).

    Returns
    -------
    str
        Not yet HTML-escaped. Missing values give an en dash.

    Example
    -------
    >>> format_number(12345), format_number(0.12345), format_number(float("nan"))
    ('12,345', '0.123', '–')
    """
    if _is_missing(value):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isinf(x):
            return "∞" if x > 0 else "-∞"
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}f}"
    return str(value)


def html_table(frame: pd.DataFrame, columns=None, *, caption: str | None = None, max_rows: int | None = None,
               empty_text: str = "nothing to show") -> str:
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
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns) + "</tr></thead>")
    out.append("<tbody>")
    # Rows are capped by max_rows for display; this loop never runs over a whole large table.
    for row in shown[columns].itertuples(index=False, name=None):
        cells = []
        for c, v in zip(columns, row):
            cls = ' class="num"' if numeric[c] else ""
            cells.append(f"<td{cls}>{html.escape(format_number(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ----------------------------------------------------------------------------- charts


def _png_data_uri(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # No "Software" stamp: the same analysis gives byte-identical images.
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(uri: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{uri}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


_GAIN_COLUMNS = ("cumulative_gain", "cumulative_gains", "gain", "gains", "captured", "cumulative_captured")


def _lift_chart(lift: pd.DataFrame) -> str | None:
    gain_col = next((c for c in _GAIN_COLUMNS if c in lift.columns), None)
    has_lift = "lift" in lift.columns
    if not has_lift and gain_col is None:
        return None
    bucket_col = next((c for c in ("bucket", "bin") if c in lift.columns), None)
    buckets = lift[bucket_col].to_numpy() if bucket_col else np.arange(1, len(lift) + 1)
    positions = np.arange(len(lift))
    labels = [format_number(b) for b in buckets]
    panels = int(has_lift) + int(gain_col is not None)
    fig = Figure(figsize=(4.8 * panels, 3.4))
    k = 1
    if has_lift:
        ax = fig.add_subplot(1, panels, k)
        ax.bar(positions, pd.to_numeric(lift["lift"], errors="coerce"), color="#3b7dd8", label="lift")
        if "cumulative_lift" in lift.columns:
            ax.plot(positions, pd.to_numeric(lift["cumulative_lift"], errors="coerce"), "o-", color="#d8743b",
                    label="cumulative lift")
            ax.legend(frameon=False)
        ax.axhline(1.0, color="#5b6b7c", lw=1, ls="--")
        ax.set_xticks(positions, labels)
        ax.set_xlabel("risk bucket (highest risk first)")
        ax.set_ylabel("lift over base rate")
        ax.set_title("Lift")
        k += 1
    if gain_col is not None:
        ax = fig.add_subplot(1, panels, k)
        gains = pd.to_numeric(lift[gain_col], errors="coerce").to_numpy(dtype=float)
        if "fraction" in lift.columns:  # cumulative share of customers, as model.lift_curve gives
            share = pd.to_numeric(lift["fraction"], errors="coerce").to_numpy(dtype=float)
        else:
            share = (positions + 1) / len(lift)
        ax.plot(np.r_[0, share], np.r_[0, gains], "o-", color="#3b7dd8", label="model")
        ax.plot([0, 1], [0, 1], color="#5b6b7c", lw=1, ls="--", label="random")
        ax.set_xlabel("share of customers contacted")
        ax.set_ylabel("share of churners reached")
        ax.set_title("Cumulative gains")
        ax.legend(frameon=False)
    fig.tight_layout()
    return _figure_html(_png_data_uri(fig), "lift chart",
                        "Backtest: how many more churners the top risk buckets held than a random pick.")


def _calibration_chart(calibration: pd.DataFrame) -> str | None:
    if not {"mean_predicted", "observed_rate"} <= set(calibration.columns):
        return None
    x = pd.to_numeric(calibration["mean_predicted"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(calibration["observed_rate"], errors="coerce").to_numpy(dtype=float)
    count_col = next((c for c in ("count", "customers") if c in calibration.columns), None)
    if count_col:
        count = pd.to_numeric(calibration[count_col], errors="coerce").fillna(0).to_numpy(dtype=float)
        size = 20 + 180 * count / max(count.max(), 1.0)
    else:
        size = np.full(x.size, 40.0)
    fig = Figure(figsize=(4.2, 3.6))
    ax = fig.add_subplot()
    top = float(np.nanmax(np.r_[x, y, 0.05])) * 1.05
    ax.plot([0, top], [0, top], color="#5b6b7c", lw=1, ls="--", label="perfect")
    ax.plot(x, y, "-", color="#3b7dd8", lw=1)
    ax.scatter(x, y, s=size, color="#3b7dd8", zorder=3, label="model (size = customers)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration")
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return _figure_html(_png_data_uri(fig), "calibration chart",
                        "Backtest: predicted probabilities against the churn rate actually observed.")


#: What the importance in the report's chart is (as :class:`graphchurn.ChurnModel` computes it).
IMPORTANCE_MEANING = "permutation importance: the drop in ROC AUC on held-out rows when the feature is shuffled"


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


def _importance_chart(importance: pd.Series, top: int = 15) -> str | None:
    shown, more, no_help = importance_ranking(importance, top)
    if shown.empty and no_help == 0:
        return None
    rest = []
    if more:
        rest.append(f"{_features(more)} that help less")
    if no_help:
        rest.append(f"{_features(no_help)} with zero or negative importance, i.e. no help")
    tail = (" Not shown: " + "; ".join(rest) + ".") if rest else ""
    meaning = IMPORTANCE_MEANING[0].upper() + IMPORTANCE_MEANING[1:]
    if shown.empty:
        return (f'<figure><p class="empty">No feature helps the model: all {_features(no_help)} have '
                f"zero or negative {html.escape(IMPORTANCE_MEANING)}.</p></figure>")
    values = shown.iloc[::-1]  # largest at the top of a horizontal bar chart
    fig = Figure(figsize=(5.2, 0.3 * len(values) + 1.0))
    ax = fig.add_subplot()
    ax.barh(np.arange(len(values)), values.to_numpy(), color="#3b7dd8")
    ax.set_yticks(np.arange(len(values)), [str(i) for i in values.index])
    ax.set_xlabel("drop in ROC AUC when shuffled")
    ax.set_title("What drives the predictions")
    fig.tight_layout()
    return _figure_html(_png_data_uri(fig), "feature importance chart",
                        f"The {_features(len(values))} that help the model most. {meaning}.{tail}")


def _probability_histogram(scores: pd.DataFrame) -> str | None:
    if "churn_probability" not in scores.columns or len(scores) == 0:
        return None
    p = pd.to_numeric(scores["churn_probability"], errors="coerce").dropna().to_numpy(dtype=float)
    if p.size == 0:
        return None
    fig = Figure(figsize=(4.2, 3.2))
    ax = fig.add_subplot()
    ax.hist(p, bins=np.linspace(0, 1, 21), color="#3b7dd8")
    ax.set_xlabel("churn probability")
    ax.set_ylabel("customers")
    ax.set_title("Risk distribution")
    fig.tight_layout()
    return _figure_html(_png_data_uri(fig), "risk distribution",
                        "How churn risk is spread over the customers scored at as-of.")


# ----------------------------------------------------------------------------- sections


def cards_html(items: Iterable[tuple[str, object]]) -> str:
    """(label, value) pairs as a row of headline cards (escaped)."""
    cards = [f'<div class="card"><div class="v">{html.escape(format_number(v))}</div>'
             f'<div class="k">{html.escape(k)}</div></div>' for k, v in items]
    return '<div class="cards">' + "".join(cards) + "</div>"


def scoring_items(scores: pd.DataFrame) -> list[tuple[str, object]]:
    """(label, value) pairs describing the customers scored at as-of (from the scores table)."""
    items: list[tuple[str, object]] = [("customers scored", len(scores))]
    if "churn_probability" in scores.columns:
        p = pd.to_numeric(scores["churn_probability"], errors="coerce")
        items.append(("expected churners", float(p.sum())))
        if "value" in scores.columns:
            v = pd.to_numeric(scores["value"], errors="coerce")
            if v.notna().any():
                items.append(("monthly value at risk", float((p * v).sum())))
    return items


#: Backtest keys :func:`backtest_caption` states (the size and churn rate of the backtest), so
#: the cards and the baseline table leave them out.
_CAPTION_KEYS = ("n", "base_rate")


def backtest_items(metrics: Mapping) -> list[tuple[str, object]]:
    """(label, value) pairs of the backtest metrics (measured on the cut-off, not at as-of),
    except those :func:`backtest_caption` states."""
    return [(label, metrics[key]) for key, label in METRIC_LABELS.items()
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
    """E.g. "Backtest on cut-off 2025-05-01 (n=2,700, churn rate 0.020; trained on cut-offs
    ...)": where the metrics were measured. None when metrics.json holds no backtest."""
    if metrics.get("cutoff") is None and not any(k in metrics for k in METRIC_LABELS):
        return None
    text = "Backtest" + (f" on cut-off {metrics['cutoff']}" if metrics.get("cutoff") is not None else "")
    detail = []
    if metrics.get("n") is not None:
        detail.append(f"n={format_number(metrics['n'])}")
    if metrics.get("base_rate") is not None:
        detail.append(f"churn rate {format_number(metrics['base_rate'])}")
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


def _metrics_section(scores, metrics) -> str:
    parts = [cards_html(scoring_items(scores))]
    caption = backtest_caption(metrics)
    if caption is None:
        return "".join(parts)
    parts += ["<h3>Model quality on the backtest</h3>", f"<p>{html.escape(caption)}</p>",
              cards_html(backtest_items(metrics))]
    baseline = baseline_metrics(metrics)
    if baseline:
        keys = [k for k in METRIC_LABELS if k in baseline and k in metrics and k not in _CAPTION_KEYS]
        if keys:
            table = pd.DataFrame({
                "metric": [METRIC_LABELS[k] for k in keys],
                "model": [metrics[k] for k in keys],
                "baseline": [baseline[k] for k in keys],
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


# ----------------------------------------------------------------------------- main entry


def render_report(*, scores: pd.DataFrame, groups: pd.DataFrame, metrics: Mapping, lift=None, calibration=None,
                  importance=None, graph_summary=None, notes=(), title: str = "graphchurn: churn risk report",
                  max_groups: int = 20, max_customers: int = 50) -> str:
    """The report as an HTML string (see :func:`write_report` for the parameters)."""
    metrics = dict(metrics or {})
    charts = [c for c in (
        _lift_chart(lift) if lift is not None and len(lift) else None,
        _calibration_chart(calibration) if calibration is not None and len(calibration) else None,
        _importance_chart(importance) if importance is not None and len(importance) else None,
        _probability_histogram(scores),
    ) if c]
    # A caller may pass a note both in metrics["notes"] and in ``notes``: each is shown once,
    # in first-seen order.
    all_notes = list(dict.fromkeys(str(n) for n in list(metrics.get("notes") or []) + list(notes or [])))

    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="sub">{_subtitle(metrics, len(scores))}</p>',
            "<h2>Headline</h2>", _metrics_section(scores, metrics)]
    body += ["<h2>Charts</h2>",
             '<div class="charts">' + "".join(charts) + "</div>" if charts
             else '<p class="empty">no charts available</p>']
    body += ["<h2>Groups at risk</h2>",
             html_table(top_groups(groups, max_groups),
                        ["community", "size", "expected_churners", "value_at_risk", "top_influencers"],
                        caption=f"Top {max_groups} groups by expected churners", empty_text="no groups")]
    body += ["<h2>Customers most at risk</h2>",
             html_table(top_customers(scores, max_customers), _TOP_CUSTOMER_COLUMNS,
                        caption=f"Top {max_customers} customers by churn risk", empty_text="no customers")]
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
                 max_customers: int = 50) -> Path:
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
        Permutation importance (drop in held-out ROC AUC when the feature is shuffled) indexed
        by feature name. The 15 largest positive ones are drawn; zero or negative ones (the
        feature does not help) are only counted in the caption.
    graph_summary : dict, optional
        Plain numbers describing the interaction graph (e.g. ``CustomerGraph.summary()``).
    notes : iterable of str
        Extra notes, shown after those in ``metrics["notes"]``; a note in both is shown once.
    title : str
        Page title.
    max_groups, max_customers : int
        Rows of the group and customer tables.

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
                         max_groups=max_groups, max_customers=max_customers)
    return write_text_atomic(path, text)
