"""Web dashboard and REST API over the outputs of ``graphchurn analyze``.

The app only *reads* an analysis directory (scores.csv, groups.csv, influencers.csv,
metrics.json, report.html) and plans campaigns with :func:`graphchurn.targeting.contact_list`;
no pipeline logic lives here. Files are re-read when they change on disk, so re-running
``graphchurn analyze`` into the same directory updates a running server.

Routes
------
``GET /``                        HTML dashboard (server-rendered, no JavaScript, no CDN)
``GET /report.html``             the analysis report, when present
``GET /api/metrics``             metrics.json
``GET /api/groups?limit=``       groups by expected churners
``GET /api/scores?limit=&community=``  customers by risk
``GET /api/customers/{id}``      one customer's score, group and influencer role
``POST /api/target``             contact list for a budget (JSON body, see :class:`TargetRequest`)
``GET /api/target.csv?budget=``  the same contact list as a CSV download, as ``graphchurn target``
                                 writes it but with formula cells neutralised
                                 (:func:`graphchurn.io.atomic.spreadsheet_safe`)

Identifiers are phone numbers: :func:`serve` turns uvicorn's access log off (URLs such as
``/api/customers/{id}`` would otherwise write them to the log) and error messages never echo them.
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from graphchurn.app.report import (
    PAGE_CSS,
    backtest_caption,
    backtest_items,
    cards_html,
    format_number,
    group_table_html,
    html_table,
    scoring_caption,
    scoring_items,
    top_customers,
    top_groups,
)
from graphchurn.app.web.docs import add_offline_docs
from graphchurn.errors import InputError
from graphchurn.targeting.contact_list import (
    DEFAULT_CHANNELS,
    DEFAULT_HORIZON_MONTHS,
    contact_list,
)

__all__ = ["Analysis", "ChannelSpec", "TargetRequest", "create_app", "load_analysis", "serve"]

_FILES = ("scores.csv", "groups.csv", "influencers.csv", "metrics.json", "report.html")
_GROUP_COLUMNS = ["community", "size", "expected_churners", "value_at_risk", "top_influencers"]
_DASHBOARD_ROWS = 200  # contact-list rows shown on the page; the CSV has them all
# Every number a request may carry is bounded (422 beyond): a budget of 1e400 or a horizon of
# 1e308 months is a typo or an attack, never a plan.
MAX_BUDGET = 1e12
MAX_VALUE = 1e9
MAX_COST = 1e6
MAX_HORIZON_MONTHS = 600.0


# ----------------------------------------------------------------------------- loading


@dataclass
class Analysis:
    """The outputs of one ``graphchurn analyze`` run, as read from its directory."""

    directory: Path
    scores: pd.DataFrame
    groups: pd.DataFrame
    influencers: pd.DataFrame
    metrics: dict = field(default_factory=dict)

    @property
    def has_report(self) -> bool:
        return (self.directory / "report.html").is_file()


def _read_table(path: Path, id_columns: tuple[str, ...]) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        # Only an empty field is missing: an identifier such as "NA" or "null" stays a string, and
        # ids are never parsed as numbers ("0701" keeps its leading zero).
        return pd.read_csv(path, dtype={c: "str" for c in id_columns}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the table ({type(exc).__name__})", file=path) from None


def load_analysis(analysis_dir) -> Analysis:
    """Read an analysis directory written by ``graphchurn analyze``.

    Parameters
    ----------
    analysis_dir : str or Path
        Directory holding at least ``scores.csv``; ``groups.csv``, ``influencers.csv`` and
        ``metrics.json`` are optional (empty when absent).

    Returns
    -------
    Analysis

    Raises
    ------
    InputError
        When the directory or scores.csv is missing or a file cannot be read.
    """
    directory = Path(analysis_dir)
    scores_path = directory / "scores.csv"
    if not scores_path.is_file():
        raise InputError("no scores.csv here: run `graphchurn analyze --out DIR` first", file=directory)
    scores = _read_table(scores_path, ("customer_id", "reasons"))
    for column in ("customer_id", "churn_probability"):
        if column not in scores.columns:
            raise InputError("missing column", file=scores_path, column=column)
    if "reasons" in scores.columns:
        scores["reasons"] = scores["reasons"].fillna("")
    scores = top_customers(scores).reset_index(drop=True)
    groups = _read_table(directory / "groups.csv", ("top_influencers",))
    groups = top_groups(groups if groups is not None else pd.DataFrame(columns=_GROUP_COLUMNS))
    influencers = _read_table(directory / "influencers.csv", ("customer_id",))
    if influencers is None:
        influencers = pd.DataFrame(columns=["customer_id", "community", "influencer_score"])
    metrics = {}
    metrics_path = directory / "metrics.json"
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("not valid JSON", file=metrics_path) from None
    return Analysis(directory, scores, groups.reset_index(drop=True), influencers, metrics)


class _AnalysisSource:
    """Loads the analysis, and again whenever one of its files changes on disk."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()
        self._signature = None
        self._analysis = None
        self.get()  # fail at start-up, not on the first request, when the directory is wrong

    def _current_signature(self):
        sig = []
        for name in _FILES:
            try:
                st = (self.directory / name).stat()
                sig.append((name, st.st_mtime_ns, st.st_size))
            except (FileNotFoundError, NotADirectoryError):  # load_analysis says what is wrong
                sig.append((name, None, None))
        return tuple(sig)

    def get(self) -> Analysis:
        signature = self._current_signature()
        with self._lock:
            if signature != self._signature:
                self._analysis = load_analysis(self.directory)
                self._signature = signature
            return self._analysis


# ----------------------------------------------------------------------------- request models


class ChannelSpec(BaseModel):
    """One contact channel: cost per contact and probability of retaining a would-be churner."""

    cost: float = Field(ge=0, le=1e6, allow_inf_nan=False)
    effect: float = Field(ge=0, le=1, allow_inf_nan=False)


class TargetRequest(BaseModel):
    """Body of ``POST /api/target``.

    ``channels`` is the full set of channels to use (default: sms, email, call with the costs
    and effects of :data:`graphchurn.targeting.contact_list.DEFAULT_CHANNELS`). ``limit`` caps
    the rows returned, not the plan: the totals always cover the whole contact list.
    """

    budget: float = Field(ge=0, le=MAX_BUDGET, allow_inf_nan=False)
    channels: dict[str, ChannelSpec] | None = Field(default=None, max_length=20)
    default_value: float | None = Field(default=None, ge=0, le=MAX_VALUE, allow_inf_nan=False)
    horizon_months: float = Field(default=DEFAULT_HORIZON_MONTHS, gt=0, le=MAX_HORIZON_MONTHS,
                                  allow_inf_nan=False)
    limit: int | None = Field(default=None, ge=1, le=1_000_000)


# ----------------------------------------------------------------------------- helpers


def validation_detail(exc) -> list[dict]:
    """A validation error's location, message and type, without the input (which may be a
    phone number, or a float such as inf that JSON cannot carry)."""
    return [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN -> null, numpy scalars -> Python numbers."""
    return json.loads(frame.to_json(orient="records", double_precision=10))


def _plan(analysis: Analysis, budget, channels, default_value, horizon_months) -> pd.DataFrame:
    return contact_list(analysis.scores, budget, channels=channels, default_value=default_value,
                        horizon_months=horizon_months)


def _plan_summary(plan: pd.DataFrame, budget: float) -> dict:
    return {
        "budget": budget,
        "n_contacts": len(plan),
        "total_cost": float(plan["cost"].sum()),
        "total_expected_saving": float(plan["expected_saving"].sum()),
        "total_net_saving": float(plan["net_saving"].sum()),
        "channels": {str(k): int(v) for k, v in plan["channel"].value_counts().sort_index().items()},
    }


def _query_float(params, name: str, *, minimum: float = 0.0, maximum: float | None = None,
                 strict_minimum: bool = False):
    """A float query parameter or None; 422 naming the parameter when it is not a valid number."""
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise HTTPException(422, f"{name} must be a number") from None
    too_small = value <= minimum if strict_minimum else value < minimum
    if not np.isfinite(value) or too_small or (maximum is not None and value > maximum):
        bound = f"> {minimum:g}" if strict_minimum else f">= {minimum:g}"
        if maximum is not None:
            bound += f" and <= {maximum:g}"
        raise HTTPException(422, f"{name} must be a finite number {bound}")
    return value


def _campaign_from_query(params) -> dict:
    """Budget, channel overrides (``sms_cost``, ``sms_effect``, ...) and value options from a query."""
    channels = {}
    for name, default in DEFAULT_CHANNELS.items():
        cost = _query_float(params, f"{name}_cost", maximum=MAX_COST)
        effect = _query_float(params, f"{name}_effect", maximum=1.0)
        channels[name] = (default.cost if cost is None else cost, default.effect if effect is None else effect)
    horizon = _query_float(params, "horizon_months", strict_minimum=True, maximum=MAX_HORIZON_MONTHS)
    return {
        "budget": _query_float(params, "budget", maximum=MAX_BUDGET),
        "channels": channels,
        "default_value": _query_float(params, "default_value", maximum=MAX_VALUE),
        "horizon_months": DEFAULT_HORIZON_MONTHS if horizon is None else horizon,
    }


def _campaign_query_string(campaign: dict) -> str:
    params = {"budget": campaign["budget"]}
    for name, (cost, effect) in campaign["channels"].items():
        params[f"{name}_cost"] = cost
        params[f"{name}_effect"] = effect
    if campaign["default_value"] is not None:
        params["default_value"] = campaign["default_value"]
    params["horizon_months"] = campaign["horizon_months"]
    return urlencode({k: f"{v:.15g}" for k, v in params.items()})


# ----------------------------------------------------------------------------- dashboard


def _field(name: str, label: str, value, *, maximum: float | None = None) -> str:
    shown = "" if value is None else f"{value:.15g}"
    upper = "" if maximum is None else f' max="{maximum:g}"'
    return (f'<label>{html.escape(label)} <input type="number" step="any" min="0"{upper} '
            f'name="{html.escape(name)}" value="{html.escape(shown)}"></label>')


def _campaign_form(campaign: dict) -> str:
    rows = [_field("budget", "Budget", campaign["budget"]),
            _field("default_value", "Monthly value when unknown", campaign["default_value"]),
            _field("horizon_months", "Months a kept customer is worth", campaign["horizon_months"])]
    channel_rows = []
    for name, (cost, effect) in campaign["channels"].items():
        channel_rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_field(f'{name}_cost', 'cost', cost)}</td>"
            f"<td>{_field(f'{name}_effect', 'retention chance', effect, maximum=1.0)}</td></tr>")
    return ('<form method="get">'
            + "<p>" + " ".join(rows) + "</p>"
            + "<table><thead><tr><th>channel</th><th>cost per contact</th><th>chance a would-be churner stays"
              "</th></tr></thead><tbody>" + "".join(channel_rows) + "</tbody></table>"
            + '<p><button type="submit">Build contact list</button></p></form>')


def _dashboard(analysis: Analysis, campaign: dict, plan: pd.DataFrame | None, error: str | None) -> str:
    metrics = analysis.metrics
    currency = (metrics.get("config") if isinstance(metrics.get("config"), dict) else {}).get("currency") or None
    backtest = backtest_caption(metrics)
    links = []
    if analysis.has_report:
        links.append('<a href="report.html">Full report</a>')
    links.append('<a href="docs">API documentation</a>')

    parts = [
        "<h1>graphchurn: retention dashboard</h1>",
        f'<p class="sub">{html.escape(scoring_caption(metrics, len(analysis.scores)))}</p>',
        "<p>" + " · ".join(links) + "</p>",
        cards_html(scoring_items(analysis.scores), currency),
        "" if backtest is None else (f"<h2>Model quality on the backtest</h2><p>{html.escape(backtest)}</p>"
                                     + cards_html(backtest_items(metrics))),
        "<h2>Groups at risk</h2>",
        group_table_html(analysis.groups, 20, caption="Top 20 groups by expected churners",
                         empty_text="no groups in this analysis", currency=currency),
        "<h2>Plan a retention campaign</h2>",
        "<p>Choose a budget and what each channel costs; the list below is the contacts that save "
        "the most expected revenue for it, one channel per customer.</p>",
        _campaign_form(campaign),
    ]
    if error:
        parts.append(f'<p class="error">{html.escape(error)}</p>')
    elif plan is not None:
        s = _plan_summary(plan, campaign["budget"])

        def money(value):
            return format_number(value, kind="money", currency=currency)
        csv_link = "api/target.csv?" + _campaign_query_string(campaign)
        parts += [
            f"<p><b>{s['n_contacts']:,}</b> contacts · cost <b>{html.escape(money(s['total_cost']))}</b>"
            f" of {html.escape(money(campaign['budget']))} · expected saving "
            f"<b>{html.escape(money(s['total_expected_saving']))}</b> · net "
            f"<b>{html.escape(money(s['total_net_saving']))}</b> · "
            f'<a href="{html.escape(csv_link)}" download>Download the contact list (CSV)</a></p>',
            html_table(plan, caption=f"First {min(len(plan), _DASHBOARD_ROWS)} contacts, in priority order "
                                     "(most expected saving per unit of cost first, so free channels first; "
                                     "ties by net saving)",
                       max_rows=_DASHBOARD_ROWS, empty_text="nobody is worth contacting within this budget"),
        ]
    parts += ["<h2>Customers most at risk</h2>",
              html_table(analysis.scores.head(20),
                         ["risk_rank", "customer_id", "churn_probability", "community", "influencer_score",
                          "susceptibility", "value", "reasons"], empty_text="no customers")]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>graphchurn dashboard</title><style>{PAGE_CSS}</style></head><body>"
            + "\n".join(p for p in parts if p) + "</body></html>\n")


# ----------------------------------------------------------------------------- app


def create_app(analysis_dir) -> FastAPI:
    """Build the dashboard + REST API app over one analysis directory.

    Parameters
    ----------
    analysis_dir : str or Path
        Output directory of ``graphchurn analyze`` (must hold scores.csv).

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    InputError
        When the directory holds no readable scores.csv.

    Example
    -------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app("out/demo"))  # doctest: +SKIP
    >>> client.post("/api/target", json={"budget": 100}).json()["n_contacts"]  # doctest: +SKIP
    """
    source = _AnalysisSource(Path(analysis_dir))
    app = FastAPI(title="graphchurn", summary="Churn risk, groups and budgeted contact lists",
                  version="0.1.0", docs_url=None, redoc_url=None)
    add_offline_docs(app.router, app)  # Swagger UI from a package, not a CDN: works offline
    app.state.analysis = source

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # FastAPI's own handler echoes the input, and an input of 1e400 (inf) is not JSON: 500.
        return JSONResponse(status_code=422, content={"detail": validation_detail(exc)})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request):
        analysis = source.get()
        plan, error, status = None, None, 200
        try:
            campaign = _campaign_from_query(request.query_params)
        except HTTPException as exc:
            campaign = _campaign_from_query({})
            error, status = str(exc.detail), 422
        if error is None and campaign["budget"] is not None:
            try:
                plan = _plan(analysis, **campaign)
            except InputError as exc:
                error, status = str(exc), 422
        return HTMLResponse(_dashboard(analysis, campaign, plan, error), status_code=status)

    @app.get("/report.html", include_in_schema=False)
    def report():
        path = source.directory / "report.html"
        if not path.is_file():
            raise HTTPException(404, "this analysis has no report.html")
        return FileResponse(path, media_type="text/html")

    @app.get("/api/metrics")
    def metrics():
        """metrics.json: ``as_of`` (when customers were scored) and the backtest metrics, measured on ``cutoff``."""
        analysis = source.get()
        if not (analysis.directory / "metrics.json").is_file():
            raise HTTPException(404, "this analysis has no metrics.json")
        return analysis.metrics

    @app.get("/api/groups")
    def groups(limit: int = Query(50, ge=1, le=100_000)):
        """Groups ordered by expected churners, most at risk first."""
        return _records(source.get().groups.head(limit))

    @app.get("/api/scores")
    def scores(limit: int = Query(100, ge=1, le=1_000_000), community: int | None = None):
        """Customers ordered by churn risk; optionally only one community."""
        frame = source.get().scores
        if community is not None:
            if "community" not in frame.columns:
                raise HTTPException(422, "this analysis has no community column")
            frame = frame[frame["community"] == community]
        return _records(frame.head(limit))

    @app.get("/api/customers/{customer_id}")
    def customer(customer_id: str):
        """One customer's score, its group and, if it is one, its influencer role."""
        analysis = source.get()
        rows = analysis.scores[analysis.scores["customer_id"] == customer_id]
        if rows.empty:
            raise HTTPException(404, "unknown customer")  # never echo the identifier
        record = _records(rows.head(1))[0]
        group = None
        if "community" in rows.columns and "community" in analysis.groups.columns:
            match = analysis.groups[analysis.groups["community"] == rows["community"].iloc[0]]
            group = _records(match.head(1))[0] if len(match) else None
        infl = analysis.influencers
        match = infl[infl["customer_id"] == customer_id] if "customer_id" in infl.columns else infl.iloc[:0]
        record["group"] = group
        record["influencer"] = _records(match.head(1))[0] if len(match) else None
        return record

    @app.post("/api/target")
    def target(body: TargetRequest):
        """Contact list for a budget: whom to contact, by which channel, in priority order."""
        channels = (DEFAULT_CHANNELS if body.channels is None
                    else {k: (v.cost, v.effect) for k, v in body.channels.items()})
        plan = _plan(source.get(), body.budget, channels, body.default_value, body.horizon_months)
        result = _plan_summary(plan, body.budget)
        result["contacts"] = _records(plan if body.limit is None else plan.head(body.limit))
        return result

    @app.get("/api/target.csv")
    def target_csv(request: Request, budget: float = Query(ge=0, le=MAX_BUDGET, allow_inf_nan=False)):
        """The contact list as CSV. Channel overrides: ``sms_cost``, ``sms_effect``, ``email_cost``, ...
        Cells a spreadsheet would run as formulas get a leading apostrophe (docs/web.md)."""
        from graphchurn.app.web.runs import safe_csv_text

        campaign = _campaign_from_query(request.query_params)
        campaign["budget"] = budget
        plan = _plan(source.get(), **campaign)
        return Response(safe_csv_text(plan), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="contact_list.csv"'})

    return app


def serve(analysis_dir, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the dashboard and API with uvicorn until interrupted.

    Parameters
    ----------
    analysis_dir : str or Path
        Output directory of ``graphchurn analyze``.
    host : str, default "127.0.0.1"
        Interface to listen on (local only by default: the data identifies people).
    port : int, default 8000
    """
    import uvicorn

    app = create_app(analysis_dir)
    # access_log off: request paths can hold customer identifiers (phone numbers).
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
