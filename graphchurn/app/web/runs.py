"""Runs of the workspace: parameters, input preview, the worker-process job, exports.

A run is executed by :func:`execute_run` in a worker process (a ``ProcessPoolExecutor`` of the
web app, ``spawn`` start method), never in a request. The job reads the uploaded inputs with
:mod:`graphchurn.io.readers`, calls :func:`graphchurn.pipeline.analyze`, writes the contract's
outputs with :func:`graphchurn.app.outputs.write_outputs` and records status, stage and
metrics in the database. The stage shown while it runs is the pipeline's own stage log
("build features ...", "backtest ...") caught by a logging handler: no pipeline logic is
repeated here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import traceback
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "FORMAT_FIELDS",
    "OUTPUT_FILES",
    "RunParams",
    "execute_run",
    "guess_mapping",
    "neutralise_cell",
    "preview_table",
    "run_dir",
    "safe_csv_text",
    "whatif_job",
]

OUTPUT_FILES = ("scores.csv", "groups.csv", "influencers.csv", "metrics.json", "report.html")
#: How foreign files write numbers, dates and text: keywords of both loaders, applied to both
#: files as the command line's --decimal, --dayfirst, --date-format, --epoch-unit, --encoding.
FORMAT_FIELDS = ("decimal", "dayfirst", "date_format", "epoch_unit", "encoding")
_DAYS = dict(ge=1, le=3650)


class RunParams(BaseModel):
    """Options of a run: the names of :class:`graphchurn.pipeline.AnalyzeConfig`'s fields, plus
    ``columns`` / ``customer_columns`` (contract key -> column of the file) and the loaders'
    format options (:data:`FORMAT_FIELDS`). Every number and text is bounded; anything else
    is a 422."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = None
    horizon_days: int = Field(30, **_DAYS)
    definition: Literal["contract", "inactivity"] | None = None
    active_window_days: int | None = Field(None, **_DAYS)
    n_train_cutoffs: int = Field(4, ge=1, le=24)
    train_cutoff_step_days: int | None = Field(None, **_DAYS)
    window_days: int = Field(90, **_DAYS)
    estimator: Literal["ensemble", "gbm", "logistic", "auto"] = "ensemble"
    embeddings: bool = True
    community_method: Literal["leiden", "louvain", "infomap", "label_propagation"] = "leiden"
    resolution: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
    max_degree: int | None = Field(None, ge=1, le=10_000_000)
    recent_departure_days: int = Field(30, **_DAYS)
    pooled_churn_rate: bool = False
    seed: int = Field(0, ge=0, le=2**32 - 1)
    columns: dict[str, str] | None = Field(None, max_length=10)
    customer_columns: dict[str, str] | None = Field(None, max_length=10)
    # Foreign formats (docs/input.md). Plain str, not Literal: the loaders' read_format is the
    # one rule for what each accepts (the command line meets it too); the lengths only bound
    # what a request may send.
    decimal: str = Field(".", max_length=8, description='decimal mark, "." or ","')
    dayfirst: bool = Field(False, description="dates that are not ISO 8601 are day first")
    date_format: str | None = Field(None, min_length=1, max_length=100,
                                    description="strptime layout of every non-epoch date")
    epoch_unit: str = Field("s", max_length=8, description='numeric timestamps: "s", "ms" or "us"')
    encoding: str | None = Field(None, min_length=1, max_length=64,
                                 description="text encoding of CSV inputs (a Python codec name)")

    @field_validator("columns", "customer_columns")
    @classmethod
    def _short(cls, value):
        if value is not None:
            for k, v in value.items():
                if len(k) > 100 or len(v) > 300:
                    raise ValueError("column names are at most 300 characters")
        return value

    @field_validator("decimal", "date_format", "epoch_unit", "encoding")
    @classmethod
    def _readable(cls, value, info):
        # Checked when the run is asked for (a 422 naming the field), not when the worker
        # reads the files, and by the loaders' own check rather than a copy of it.
        from graphchurn.errors import InputError
        from graphchurn.io.readers import read_format

        try:
            read_format(**{info.field_name: value})
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    def formats(self) -> dict:
        """The loaders' format keywords (:func:`graphchurn.io.readers.load_interactions`)."""
        return {name: getattr(self, name) for name in FORMAT_FIELDS}


def run_dir(data_dir, run_id: str) -> Path:
    return Path(data_dir) / "runs" / run_id


# ----------------------------------------------------------------------------- preview

_SYNONYMS = {
    "src": ("src", "source", "from", "caller", "a_number", "calling", "origin", "sender"),
    "dst": ("dst", "target", "to", "callee", "b_number", "called", "destination", "receiver"),
    "timestamp": ("timestamp", "time", "datetime", "date", "ts", "start_time", "start", "when"),
    "duration": ("duration", "seconds", "secs", "length", "call_duration"),
    "kind": ("kind", "type", "channel", "event_type"),
    "customer_id": ("customer_id", "customer", "id", "msisdn", "subscriber", "phone"),
    "churn_date": ("churn_date", "churned", "churn", "end_date", "left"),
    "value": ("value", "revenue", "arpu", "monthly_value"),
    "start_date": ("start_date", "joined", "activation_date"),
}


def preview_table(path, nrows: int = 8, encoding: str | None = None
                  ) -> tuple[list[str], list[list[str]]]:
    """Column names and the first ``nrows`` rows (as text) of a CSV, CSV.gz or Parquet file;
    CSV text is decoded with ``encoding`` (a Python codec name; None = UTF-8), so the preview
    shows what the run's loaders will read with the same option."""
    path = Path(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        frame = next(pf.iter_batches(batch_size=nrows)).to_pandas() if pf.metadata.num_rows else \
            pf.schema_arrow.empty_table().to_pandas()
    else:
        compression = "gzip" if magic[:2] == b"\x1f\x8b" else None
        frame = pd.read_csv(path, nrows=nrows, dtype=str, keep_default_na=False,
                            compression=compression, sep=None, engine="python",
                            encoding=encoding)
    frame = frame.head(nrows).astype(str)
    return [str(c) for c in frame.columns], frame.values.tolist()


def guess_mapping(columns: list[str], keys) -> dict[str, str | None]:
    """Contract key -> the file's column that looks like it (exact name first, then synonyms)."""
    norm = {re.sub(r"[^a-z0-9]+", "_", c.strip().lower()).strip("_"): c for c in columns}
    mapping = {}
    for key in keys:
        found = None
        for name in _SYNONYMS.get(key, (key,)):
            if name in norm and norm[name] not in mapping.values():
                found = norm[name]
                break
        mapping[key] = found
    return mapping


# ----------------------------------------------------------------------------- CSV safety

def neutralise_cell(value):
    """A cell a spreadsheet would run as a formula gets a leading apostrophe: the shared rule
    of every CSV export (:func:`graphchurn.io.atomic.spreadsheet_safe_cell`; plain numbers and
    phone numbers such as ``+447700900123`` stay as they are)."""
    from graphchurn.io.atomic import spreadsheet_safe_cell

    return spreadsheet_safe_cell(value)


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`graphchurn.io.atomic.spreadsheet_safe` (kept under this name for callers)."""
    from graphchurn.io.atomic import spreadsheet_safe

    return spreadsheet_safe(frame)


def safe_csv_text(frame: pd.DataFrame) -> str:
    from graphchurn.io.atomic import csv_text

    return csv_text(safe_frame(frame))


def safe_csv_file(path) -> str:
    """A CSV output file re-written with formula cells neutralised (every cell read as text)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return safe_frame(frame).to_csv(index=False)


# ----------------------------------------------------------------------------- the job


class _StageHandler(logging.Handler):
    """Turns the pipeline's "<stage> ..." log lines into the run's stage."""

    def __init__(self, update):
        super().__init__(logging.INFO)
        self._update = update

    def emit(self, record):
        if record.msg == "%s ..." and record.args:
            try:
                self._update(str(record.args[0]))
            except Exception:  # progress is best effort; the run goes on
                pass


def _one_line(exc: BaseException) -> str:
    from graphchurn.errors import InputError

    text = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text[:500] or type(exc).__name__


def _load_inputs(inputs: list[dict], params: RunParams):
    from graphchurn.io.readers import (
        check_customers_match,
        load_customers,
        load_interactions,
    )

    paths = {item["role"]: item["path"] for item in inputs}
    # The same format options for both files, as the command line applies them.
    interactions = load_interactions(paths["interactions"], params.columns or None,
                                     **params.formats())
    customers = None
    if "customers" in paths:
        customers = load_customers(paths["customers"], params.customer_columns or None,
                                   **params.formats())
        check_customers_match(interactions, customers, paths["customers"])
    return interactions, customers


def _config(params: RunParams):
    from graphchurn.pipeline import AnalyzeConfig

    fields = params.model_dump(exclude={"columns", "customer_columns", *FORMAT_FIELDS})
    if fields["as_of"] is not None:
        fields["as_of"] = pd.Timestamp(fields["as_of"])
    return AnalyzeConfig(**fields)


def _write_graph(analysis, out: Path) -> None:
    """The graph at as-of (vertices with their group, weighted edges) for the group pictures."""
    fs = analysis.features
    g = fs.graph.graph
    names = pd.Series(fs.graph.names).astype(str)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"name": names, "community": fs.membership}).to_parquet(out / "nodes.parquet")
    edges = pd.DataFrame(g.get_edgelist(), columns=["a", "b"])
    edges["weight"] = g.es["weight"] if "weight" in g.es.attributes() else 1.0
    edges.to_parquet(out / "edges.parquet")


def execute_run(db_url: str, data_dir: str, run_id: str) -> str:
    """Run one analysis (in a worker process) and record its outcome; returns the status."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from graphchurn.app.web.db import Run, utcnow

    engine = create_engine(db_url, connect_args={"timeout": 30} if db_url.startswith("sqlite") else {})
    folder = run_dir(data_dir, run_id)
    folder.mkdir(parents=True, exist_ok=True)

    def update(**values):
        with Session(engine) as s:
            run = s.get(Run, run_id)
            for k, v in values.items():
                setattr(run, k, v)
            s.commit()

    def stage(name):
        update(stage=name, stage_started_at=utcnow())

    logger = logging.getLogger("graphchurn")
    handler = _StageHandler(stage)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with Session(engine) as s:
            run = s.get(Run, run_id)
            inputs, params = list(run.inputs), RunParams(**run.params)
        update(status="running", started_at=utcnow(), stage="read inputs", stage_started_at=utcnow())
        from graphchurn.app.outputs import write_outputs
        from graphchurn.pipeline import analyze

        interactions, customers = _load_inputs(inputs, params)
        analysis = analyze(interactions, customers, _config(params))
        stage("write outputs")
        write_outputs(analysis, folder / "out")
        _write_graph(analysis, folder / "graph")
        metrics = json.loads((folder / "out" / "metrics.json").read_text(encoding="utf-8"))
        update(status="done", finished_at=utcnow(), stage="done", metrics=metrics,
               outputs=list(OUTPUT_FILES))
        return "done"
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, one line
        (folder / "error.log").write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        error = _one_line(exc)
        for item in inputs if "inputs" in locals() else []:  # the upload's name, not a server path
            error = error.replace(item["path"], item["name"])
        update(status="failed", finished_at=utcnow(), error=error)
        return "failed"
    finally:
        logger.removeHandler(handler)
        engine.dispose()


def whatif_job(data_dir: str, run_id: str, inputs: list[dict], params: dict, leavers: list[str]):
    """Groups and customers at risk if ``leavers`` leave (in a worker process).

    The what-if basis (:func:`graphchurn.pipeline.whatif_basis`) is built on the first what-if
    of a run and kept beside its outputs (``whatif_basis.pkl``)."""
    from graphchurn.errors import InputError

    try:
        return _whatif(data_dir, run_id, inputs, params, leavers)
    except InputError as exc:
        return {"error": _one_line(exc)}


def _whatif(data_dir, run_id, inputs, params, leavers):
    from graphchurn.pipeline import leavers_not_current, what_if, whatif_basis

    cache = run_dir(data_dir, run_id) / "whatif_basis.pkl"
    basis = None
    if cache.is_file():
        try:
            basis = pickle.loads(cache.read_bytes())
        except Exception:
            basis = None
    if basis is None:
        p = RunParams(**params)
        interactions, customers = _load_inputs(inputs, p)
        basis = whatif_basis(interactions, customers, _config(p))
        try:
            tmp = cache.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(basis))
            tmp.replace(cache)
        except Exception:
            pass
    alerts, at_risk = what_if(basis, leavers)
    return {"source": basis.source, "method": alerts.attrs.get("method"),
            "leavers_not_current": leavers_not_current(basis, leavers),
            "alerts": json.loads(alerts.to_json(orient="records", double_precision=6)),
            "at_risk": json.loads(at_risk.head(200).to_json(orient="records", double_precision=6))}


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
