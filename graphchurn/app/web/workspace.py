"""The retention workspace: accounts, uploads, runs in a worker process, explore and decide.

``graphchurn serve --data DIR`` serves :func:`create_workspace` over DIR, which holds the
database (SQLite ``graphchurn.db`` unless a URL is set), ``secret.key``, ``uploads/`` and
``runs/<id>/`` (``out/`` = the files of ``graphchurn analyze``, ``graph/`` = the graph at as-of
for the group pictures). Every page and API route needs a login: a session cookie for pages
(redirect to ``/login`` otherwise), ``Authorization: Bearer TOKEN`` for scripts (401
otherwise). Runs and uploads are visible to their owner's team only. See docs/web.md.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import os
import re
import uuid
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from graphchurn.app.report import (
    PAGE_CSS,
    backtest_items,
    cards_html,
    format_number,
    html_table,
    scoring_items,
)
from graphchurn.app.web.app import (
    ChannelSpec,
    _campaign_form,
    _campaign_from_query,
    _campaign_query_string,
    _plan_summary,
    load_analysis,
    validation_detail,
)
from graphchurn.app.web.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    SessionSigner,
    add_user,
    secret_key,
    user_for_token,
    verify_password,
)
from graphchurn.app.web.db import (
    Run,
    Team,
    Upload,
    User,
    database_url,
    open_database,
    utcnow,
)
from graphchurn.app.web.docs import add_offline_docs
from graphchurn.app.web.runs import (
    OUTPUT_FILES,
    RunParams,
    execute_run,
    guess_mapping,
    preview_table,
    run_dir,
    safe_csv_file,
    safe_csv_text,
    whatif_job,
)
from graphchurn.app.web.svg import group_svg
from graphchurn.errors import InputError
from graphchurn.targeting.contact_list import (
    DEFAULT_CHANNELS,
    DEFAULT_HORIZON_MONTHS,
    contact_list,
)

__all__ = ["Settings", "create_workspace", "is_loopback", "serve_workspace"]

INTERACTION_KEYS = ("src", "dst", "timestamp", "duration", "kind")
CUSTOMER_KEYS = ("customer_id", "churn_date", "value", "start_date")
MAX_UPLOAD_ENV = "GRAPHCHURN_MAX_UPLOAD_MB"
_bearer = HTTPBearer(auto_error=False, description="API token from `graphchurn users token NAME --data DIR`")


class Settings:
    """Workspace settings: data directory, database URL, upload limit, worker processes."""

    def __init__(self, data_dir, database_url: str | None = None, max_upload_bytes: int | None = None,
                 workers: int | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.database_url = database_url
        if max_upload_bytes is None:
            max_upload_bytes = int(float(os.environ.get(MAX_UPLOAD_ENV, "1024")) * 2**20)
        self.max_upload_bytes = max_upload_bytes
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------------------- request models


class TargetBody(BaseModel):
    """Body of ``POST /api/runs/{id}/target``: every number bounded (422 otherwise)."""

    budget: float = Field(ge=0, le=1e12, allow_inf_nan=False)
    channels: dict[str, ChannelSpec] | None = Field(None, max_length=20)
    default_value: float | None = Field(None, ge=0, le=1e9, allow_inf_nan=False)
    horizon_months: float = Field(DEFAULT_HORIZON_MONTHS, gt=0, le=600, allow_inf_nan=False)
    limit: int | None = Field(None, ge=1, le=1_000_000)


class WhatIfBody(BaseModel):
    leavers: list[str] = Field(min_length=1, max_length=1000)


class UserBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=1000)
    team: str | None = Field(None, min_length=1, max_length=100)
    admin: bool = False


class LoginRequired(Exception):
    pass


# ----------------------------------------------------------------------------- streaming upload

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_filename(name: str | None) -> str:
    base = _SAFE_NAME.sub("_", Path(name or "upload").name).strip("._")[-100:]
    return base or "upload"


async def receive_multipart(request: Request, dest: Path, max_bytes: int, file_fields: tuple[str, ...]):
    """Stream a multipart body to ``dest`` (files of ``file_fields``) within ``max_bytes`` in all.

    Returns ``(files, values)``: ``{field: {"name", "path", "sha256", "size"}}`` and
    ``{field: text}``. 413 when the body is larger than the limit (partial files removed),
    422 when it is not multipart/form-data."""
    import hashlib

    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not opts.get(b"boundary"):
        raise HTTPException(422, "send multipart/form-data (fields: interactions, customers, params)")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise HTTPException(413, f"the upload is larger than the limit of {max_bytes:,} bytes")
    dest.mkdir(parents=True, exist_ok=True)
    files, values, created = {}, {}, []
    part = {}

    def on_part_begin():
        part.clear()
        part.update(headers={}, field=b"", value=b"", data=bytearray(), fh=None)

    def on_header_field(data, start, end):
        part["field"] += data[start:end]

    def on_header_value(data, start, end):
        part["value"] += data[start:end]

    def on_header_end():
        part["headers"][part["field"].lower()] = part["value"]
        part["field"], part["value"] = b"", b""

    def on_headers_finished():
        _, disp = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        filename = disp.get(b"filename")
        part["name"] = name
        # A file input left empty in a browser form arrives with filename="": no file.
        if name in file_fields and filename and name not in files:
            display = filename.decode("utf-8", "replace")[:300] or name
            path = dest / f"{name}-{_safe_filename(display)}"
            part["fh"] = open(path, "wb")
            created.append(path)
            part["file"] = {"name": display, "path": str(path), "size": 0}
            part["hash"] = hashlib.sha256()

    def on_part_data(data, start, end):
        chunk = data[start:end]
        if part.get("fh") is not None:
            part["fh"].write(chunk)
            part["hash"].update(chunk)
            part["file"]["size"] += len(chunk)
        elif len(part["data"]) < 65536:
            part["data"] += chunk[: 65536 - len(part["data"])]

    def on_part_end():
        if part.get("fh") is not None:
            part["fh"].close()
            part["fh"] = None
            part["file"]["sha256"] = part["hash"].hexdigest()
            files[part["name"]] = part["file"]
        elif part.get("name"):
            values[part["name"]] = bytes(part["data"]).decode("utf-8", "replace")

    parser = MultipartParser(opts[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise HTTPException(413, f"the upload is larger than the limit of {max_bytes:,} bytes")
            parser.write(chunk)
        parser.finalize()
    except Exception as exc:
        if part.get("fh") is not None:
            part["fh"].close()
        for path in created:
            path.unlink(missing_ok=True)
        if isinstance(exc, HTTPException):
            raise
        raise HTTPException(422, "the multipart body could not be read") from None
    return files, values


# ----------------------------------------------------------------------------- HTML helpers

_EXTRA_CSS = """
nav { display: flex; gap: 1.2em; align-items: center; border-bottom: 1px solid #e3e8ee;
      padding-bottom: 0.5em; } nav .me { margin-left: auto; color: #5b6b7c; }
nav form { display: inline; } .status-failed { color: #a61b1b; } .status-done { color: #1a7f37; }
.cols { display: flex; gap: 2em; flex-wrap: wrap; } .cols > div { flex: 1; min-width: 300px; }
select, input[type=text], input[type=password], input[type=date], textarea { padding: 0.2em; }
.help { color: #5b6b7c; font-size: 0.9em; }
.legend span { display: inline-block; width: 1em; height: 1em; border-radius: 50%; vertical-align: middle; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str, user: User | None = None, *, refresh: int | None = None,
          status_code: int = 200) -> HTMLResponse:
    nav = ""
    if user is not None:
        nav = ('<nav><a href="/">Runs</a><a href="/upload">New run</a><a href="/docs">API</a>'
               f'<span class="me">{_e(user.name)}</span>'
               '<form method="post" action="/logout"><button type="submit">Log out</button></form></nav>')
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return HTMLResponse(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{meta}"
        f"<title>{_e(title)} · graphchurn</title><style>{PAGE_CSS}{_EXTRA_CSS}</style></head><body>"
        f"{nav}<h1>{_e(title)}</h1>{body}</body></html>\n", status_code=status_code)


def _link_table(frame: pd.DataFrame, columns, links: dict, caption: str | None = None,
                max_rows: int = 50) -> str:
    """An escaped table whose cells in ``links`` (column -> function(row) -> href) are links."""
    columns = [c for c in columns if c in frame.columns]
    if frame.empty:
        return '<p class="empty">nothing to show</p>'
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    rows = []
    for _, row in frame.head(max_rows).iterrows():
        cells = []
        for c in columns:
            v = row[c]
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            text = _e(format_number(v) if num else ("" if pd.isna(v) else v))
            if c in links:
                text = f'<a href="{_e(links[c](row))}">{text}</a>'
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _elapsed(run: Run) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or utcnow()
    return round((end - run.started_at).total_seconds(), 1)


def params_text(params: dict) -> str:
    """The settings of a run that differ from the defaults, e.g. "horizon_days=60, seed=3"."""
    defaults = RunParams().model_dump(mode="json")
    changed = [f"{k}={json.dumps(v) if isinstance(v, dict) else v}" for k, v in params.items()
               if defaults.get(k) != v]
    return ", ".join(changed) or "defaults"


def run_json(run: Run, names: dict[int, str] | None = None) -> dict:
    stage_elapsed = None
    if run.status == "running" and run.stage_started_at is not None:
        stage_elapsed = round((utcnow() - run.stage_started_at).total_seconds(), 1)
    return {
        "id": run.id, "status": run.status,
        "owner": (names or {}).get(run.user_id),
        "created_at": run.created_at.isoformat() + "Z",
        "started_at": None if run.started_at is None else run.started_at.isoformat() + "Z",
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat() + "Z",
        "progress": {"stage": run.stage, "elapsed_s": _elapsed(run), "stage_elapsed_s": stage_elapsed},
        "error": run.error,
        "inputs": [{k: v for k, v in item.items() if k != "path"} for item in run.inputs],
        "params": run.params, "metrics": run.metrics,
        "outputs": [f"/api/runs/{run.id}/{name}" for name in run.outputs],
    }


# ----------------------------------------------------------------------------- the app


def create_workspace(settings: Settings | str | os.PathLike) -> FastAPI:
    """The workspace app over ``settings.data_dir`` (a path is accepted for the defaults)."""
    if not isinstance(settings, Settings):
        settings = Settings(settings)
    data = settings.data_dir
    db_url = database_url(data, settings.database_url)
    Session = open_database(data, db_url)
    signer = SessionSigner(secret_key(data))
    state = {"pool": None, "futures": {}}

    def pool() -> ProcessPoolExecutor:
        if state["pool"] is None:
            state["pool"] = ProcessPoolExecutor(settings.workers, mp_context=get_context("spawn"))
        return state["pool"]

    def submit(run_id: str):
        future = pool().submit(execute_run, db_url, str(data), run_id)
        state["futures"][run_id] = future

        def done(f):
            state["futures"].pop(run_id, None)
            if f.cancelled():  # the server stopped first: still queued, resubmitted at the next start
                return
            if f.exception() is not None:  # the worker died: record it, one line
                with Session() as s:
                    run = s.get(Run, run_id)
                    if run is not None and run.status in ("queued", "running"):
                        run.status, run.finished_at = "failed", utcnow()
                        run.error = f"the worker process stopped ({type(f.exception()).__name__})"
                        s.commit()
        future.add_done_callback(done)

    def recover():
        """After a restart: runs left running are failed, queued ones go to the pool again."""
        with Session() as s:
            for run in s.scalars(select(Run).where(Run.status.in_(("queued", "running")))):
                if run.status == "running":
                    run.status, run.finished_at = "failed", utcnow()
                    run.error = "interrupted: the server stopped while it ran"
                else:
                    submit(run.id)
            s.commit()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        recover()
        yield
        if state["pool"] is not None:
            state["pool"].shutdown(wait=False, cancel_futures=True)
            state["pool"] = None

    app = FastAPI(title="graphchurn workspace", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan,
                  summary="Upload call logs, run churn analyses, explore groups and plan retention")
    app.state.settings, app.state.sessionmaker, app.state.submit = settings, Session, submit

    # ------------------------------------------------------------------ auth plumbing
    def current_user(request: Request,
                     credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> User:
        with Session() as s:
            if credentials is not None:
                user = user_for_token(s, credentials.credentials)
            else:
                user = signer.user(s, request.cookies.get(SESSION_COOKIE))
        if user is None:
            raise LoginRequired()
        request.state.user = user
        return user

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        path = request.url.path
        if path.startswith("/api/") or path == "/openapi.json":
            return JSONResponse({"detail": "log in: Authorization: Bearer TOKEN"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        detail = validation_detail(exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=422)
        msg = "; ".join(f"{'.'.join(str(p) for p in d['loc'][1:])}: {d['msg']}" for d in detail)
        return _page("Invalid input", f'<p class="error">{_e(msg)}</p>', status_code=422)

    public = APIRouter()
    pages = APIRouter(dependencies=[Depends(current_user)], include_in_schema=False)
    api = APIRouter(prefix="/api", dependencies=[Depends(current_user)])

    def user_of(request: Request) -> User:
        return request.state.user  # set by the router's current_user dependency

    def names_of(s) -> dict[int, str]:
        return {u.id: u.name for u in s.scalars(select(User))}

    def get_run(s, user: User, run_id: str) -> Run:
        run = s.get(Run, run_id)
        if run is None or run.team_id != user.team_id:
            raise HTTPException(404, "no such run")
        return run

    def done_run(s, user: User, run_id: str) -> Run:
        run = get_run(s, user, run_id)
        if run.status != "done":
            raise HTTPException(409, f"the run is {run.status}, not done")
        return run

    @lru_cache(maxsize=16)
    def analysis_of(run_id: str):
        return load_analysis(run_dir(data, run_id) / "out")

    @lru_cache(maxsize=8)
    def graph_of(run_id: str):
        folder = run_dir(data, run_id) / "graph"
        nodes = pd.read_parquet(folder / "nodes.parquet")
        edges = pd.read_parquet(folder / "edges.parquet")
        names = nodes["name"].to_numpy()
        return nodes, pd.DataFrame({"src": names[edges["a"].to_numpy()], "dst": names[edges["b"].to_numpy()],
                                    "weight": edges["weight"].to_numpy()})

    def new_run(s, user: User, inputs: list[dict], params: RunParams) -> Run:
        run = Run(id=uuid.uuid4().hex[:16], team_id=user.team_id, user_id=user.id, status="queued",
                  stage="queued", inputs=inputs, params=params.model_dump(mode="json"), outputs=[])
        s.add(run)
        s.commit()
        submit(run.id)
        return run

    def store_upload(s, user: User, info: dict, role: str) -> dict:
        upload = Upload(id=uuid.uuid4().hex, team_id=user.team_id, user_id=user.id, filename=info["name"],
                        sha256=info["sha256"], size=info["size"], path=info["path"])
        s.add(upload)
        s.commit()
        return {"role": role, "name": info["name"], "sha256": info["sha256"], "size": info["size"],
                "path": info["path"], "upload_id": upload.id}

    # ------------------------------------------------------------------ public pages
    @public.get("/login", include_in_schema=False)
    def login_form(next: str = Query("/", max_length=2000), failed: int = Query(0, ge=0, le=1)):
        error = '<p class="error">Wrong name or password.</p>' if failed else ""
        return _page("Log in", error + '<form method="post" action="/login">'
                     f'<input type="hidden" name="next" value="{_e(next)}">'
                     '<p><label>Name <input type="text" name="name" autocomplete="username" required></label></p>'
                     '<p><label>Password <input type="password" name="password" autocomplete="current-password" '
                     'required></label></p><p><button type="submit">Log in</button></p></form>')

    @public.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        target = str(form.get("next", "/"))
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = "/"
        with Session() as s:
            user = s.scalar(select(User).where(User.name == name))
            ok = user is not None and verify_password(password, user.password_hash)
        if not ok:
            return RedirectResponse("/login?" + urlencode({"next": target, "failed": 1}), status_code=303)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, signer.dumps(user), max_age=SESSION_MAX_AGE, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response

    @public.post("/logout", include_in_schema=False)
    def logout():
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # ------------------------------------------------------------------ docs, offline
    @pages.get("/openapi.json")
    def openapi_json():
        return JSONResponse(app.openapi())

    add_offline_docs(pages, app)

    # ------------------------------------------------------------------ API: accounts
    @api.get("/me")
    def me(request: Request):
        """The caller: name, team, admin."""
        user = user_of(request)
        with Session() as s:
            team = s.get(Team, user.team_id)
        return {"name": user.name, "team": team.name, "admin": user.is_admin}

    @api.post("/users", status_code=201)
    def create_user(request: Request, body: UserBody):
        """Add a user (admins only); the team defaults to the admin's own."""
        user = user_of(request)
        if not user.is_admin:
            raise HTTPException(403, "only an admin can add users")
        with Session() as s:
            team = body.team or s.get(Team, user.team_id).name
            try:
                new = add_user(s, body.name, body.password, team=team, admin=body.admin)
            except ValueError as exc:
                raise HTTPException(409, str(exc)) from None
        return {"name": new.name, "team": team, "admin": new.is_admin}

    # ------------------------------------------------------------------ API: runs
    @api.post("/runs", status_code=202, openapi_extra={"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["interactions"], "properties": {
            "interactions": {"type": "string", "format": "binary",
                             "description": "interaction log: CSV, CSV.gz or Parquet"},
            "customers": {"type": "string", "format": "binary", "description": "customer table (optional)"},
            "params": {"type": "string", "description": "JSON object of analyze options (RunParams)"}}}}}}})
    async def post_run(request: Request):
        """Upload inputs and start an analysis in a worker process: 202 with ``{"id": ...}``."""
        user = user_of(request)
        upload_id = uuid.uuid4().hex
        dest = data / "uploads" / upload_id
        files, values = await receive_multipart(request, dest, settings.max_upload_bytes,
                                                ("interactions", "customers"))
        try:
            if "interactions" not in files:
                raise HTTPException(422, "the interactions file is missing")
            try:
                raw = json.loads(values.get("params") or "{}")
                if not isinstance(raw, dict):
                    raise ValueError
                params = RunParams(**raw)
            except ValueError as exc:
                # validation_detail: never the input (a date layout or column name is the user's)
                detail = validation_detail(exc) if isinstance(
                    exc, ValidationError) else "params must be a JSON object of analyze options"
                raise HTTPException(422, detail) from None
        except HTTPException:
            for item in files.values():
                Path(item["path"]).unlink(missing_ok=True)
            raise
        with Session() as s:
            inputs = [store_upload(s, user, files[role], role) for role in ("interactions", "customers")
                      if role in files]
            run = new_run(s, user, inputs, params)
        return JSONResponse({"id": run.id, "status": run.status, "url": f"/api/runs/{run.id}"}, status_code=202)

    @api.get("/runs")
    def list_runs(request: Request, limit: int = Query(100, ge=1, le=1000)):
        """The runs of the caller's team, newest first."""
        user = user_of(request)
        with Session() as s:
            names = names_of(s)
            rows = s.scalars(select(Run).where(Run.team_id == user.team_id)
                             .order_by(Run.created_at.desc()).limit(limit))
            return [run_json(r, names) for r in rows]

    @api.get("/runs/{run_id}")
    def get_run_api(request: Request, run_id: str = PathParam(max_length=32)):
        """Status (queued, running, done, failed), progress (stage, elapsed), error, metrics."""
        user = user_of(request)
        with Session() as s:
            return run_json(get_run(s, user, run_id), names_of(s))

    @api.get("/runs/{run_id}/groups/{community}")
    def group_api(request: Request, run_id: str = PathParam(max_length=32),
                  community: int = PathParam(ge=-1, le=10**9)):
        """A group: its row of groups.csv and its members' risk, role and reasons."""
        user = user_of(request)
        with Session() as s:
            done_run(s, user, run_id)
        group, members = group_members(run_id, community)
        return {"group": group, "members": json.loads(members.to_json(orient="records", double_precision=6))}

    @api.get("/runs/{run_id}/customers/{customer_id}")
    def customer_api(request: Request, run_id: str = PathParam(max_length=32),
                     customer_id: str = PathParam(max_length=300)):
        """One customer's score, reasons and group."""
        user = user_of(request)
        with Session() as s:
            done_run(s, user, run_id)
        return customer_record(run_id, customer_id)

    @api.post("/runs/{run_id}/target")
    def target_api(request: Request, body: TargetBody, run_id: str = PathParam(max_length=32)):
        """Contact list for a budget (bounded numbers; 422 otherwise)."""
        user = user_of(request)
        with Session() as s:
            done_run(s, user, run_id)
        channels = (DEFAULT_CHANNELS if body.channels is None
                    else {k: (v.cost, v.effect) for k, v in body.channels.items()})
        plan = contact_list(analysis_of(run_id).scores, body.budget, channels=channels,
                            default_value=body.default_value, horizon_months=body.horizon_months)
        result = _plan_summary(plan, body.budget)
        shown = plan if body.limit is None else plan.head(body.limit)
        result["contacts"] = json.loads(shown.to_json(orient="records", double_precision=10))
        return result

    @api.get("/runs/{run_id}/contacts.csv")
    def contacts_csv(request: Request, run_id: str = PathParam(max_length=32),
                     budget: float = Query(ge=0, le=1e12, allow_inf_nan=False)):
        """The contact list as CSV (formula cells neutralised). Channel overrides as query
        parameters: ``sms_cost``, ``sms_effect``, ``email_cost``, ..., ``horizon_months``."""
        user = user_of(request)
        with Session() as s:
            done_run(s, user, run_id)
        campaign = _campaign_from_query(request.query_params)
        campaign["budget"] = budget
        plan = contact_list(analysis_of(run_id).scores, **campaign)
        return Response(safe_csv_text(plan), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="contact_list.csv"'})

    @api.post("/runs/{run_id}/whatif")
    async def whatif_api(request: Request, body: WhatIfBody, run_id: str = PathParam(max_length=32)):
        """Groups and customers at risk if the given customers leave now."""
        user = user_of(request)
        with Session() as s:
            run = done_run(s, user, run_id)
        return await run_whatif(run, body.leavers)

    @api.get("/runs/{run_id}/{file}")
    def run_file(request: Request, run_id: str = PathParam(max_length=32),
                 file: str = PathParam(max_length=40)):
        """An output of a finished run: scores.csv, groups.csv, influencers.csv, metrics.json,
        report.html (CSV cells that a spreadsheet would run as formulas are neutralised)."""
        user = user_of(request)
        with Session() as s:
            run = done_run(s, user, run_id)
        if file not in OUTPUT_FILES:
            raise HTTPException(404, "no such output")
        path = run_dir(data, run.id) / "out" / file
        if file.endswith(".csv"):
            return Response(safe_csv_file(path), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{file}"'})
        return FileResponse(path, media_type="application/json" if file.endswith(".json") else "text/html")

    # ------------------------------------------------------------------ shared lookups
    def group_members(run_id: str, community: int):
        analysis = analysis_of(run_id)
        groups = analysis.groups
        row = groups[groups["community"] == community] if "community" in groups.columns else groups.iloc[:0]
        if row.empty:
            raise HTTPException(404, "no such group")
        group = json.loads(row.head(1).to_json(orient="records", double_precision=6))[0]
        scores = analysis.scores
        members = scores[scores["community"] == community].copy()
        infl = analysis.influencers
        ids = set(infl.loc[infl["community"] == community, "customer_id"].astype(str)) if len(infl) else set()
        members["influencer"] = members["customer_id"].astype(str).isin(ids)
        return group, members

    def customer_record(run_id: str, customer_id: str) -> dict:
        analysis = analysis_of(run_id)
        rows = analysis.scores[analysis.scores["customer_id"] == customer_id]
        if rows.empty:
            raise HTTPException(404, "unknown customer")  # never echo the identifier
        record = json.loads(rows.head(1).to_json(orient="records", double_precision=6))[0]
        infl = analysis.influencers
        match = infl[infl["customer_id"] == customer_id] if "customer_id" in infl.columns else infl.iloc[:0]
        record["influencer"] = json.loads(match.head(1).to_json(orient="records"))[0] if len(match) else None
        return record

    async def run_whatif(run: Run, leavers: list[str]) -> dict:
        leavers = [x.strip() for x in leavers if x.strip()]
        if not leavers:
            raise HTTPException(422, "name at least one customer who leaves")
        future = pool().submit(whatif_job, str(data), run.id, run.inputs, run.params, leavers)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout=600)
        except asyncio.TimeoutError:
            raise HTTPException(504, "the what-if took too long") from None
        if "error" in result:
            raise InputError(result["error"])
        return result

    # ------------------------------------------------------------------ pages
    @pages.get("/")
    def home(request: Request):
        user = user_of(request)
        with Session() as s:
            names = names_of(s)
            runs = list(s.scalars(select(Run).where(Run.team_id == user.team_id).order_by(Run.created_at.desc())))
        rows = []
        for r in runs:
            m = r.metrics or {}
            inputs = ", ".join(f"{i['name']} ({i['sha256'][:10]})" for i in r.inputs)
            auc = format_number(m.get("roc_auc")) if m.get("roc_auc") is not None else ""
            rows.append(f'<tr><td><a href="/runs/{_e(r.id)}">{_e(r.id[:8])}</a></td><td>{_e(names.get(r.user_id))}</td>'
                        f"<td>{_e(r.created_at.strftime('%Y-%m-%d %H:%M'))}</td><td>{_e(inputs)}</td>"
                        f"<td>{_e(params_text(r.params))}</td>"
                        f'<td class="status-{_e(r.status)}">{_e(r.status)}</td><td class="num">{_e(auc)}</td>'
                        f"<td>{_e(m.get('as_of', ''))}</td></tr>")
        table = ("<table><thead><tr><th>run</th><th>who</th><th>when (UTC)</th><th>inputs (sha256)</th>"
                 "<th>settings</th><th>status</th><th>ROC AUC</th><th>as-of</th></tr></thead><tbody>" + "".join(rows)
                 + "</tbody></table>") if rows else '<p class="empty">No runs yet: start one.</p>'
        done = [r for r in runs if r.status == "done"]
        compare = ""
        if len(done) >= 2:
            opts = "".join(f'<option value="{_e(r.id)}">{_e(r.id[:8])} · {_e(r.created_at.strftime("%Y-%m-%d %H:%M"))}'
                           "</option>" for r in done)
            compare = ('<h2>Compare two runs</h2><form method="get" action="/compare">'
                       f'<label>A <select name="a">{opts}</select></label>'
                       f'<label>B <select name="b">{opts.replace("<option ", "<option ", 1)}</select></label>'
                       '<button type="submit">Compare</button></form>')
        return _page("Runs", '<p><a href="/upload">Start a new run</a></p>' + table + compare, user)

    @pages.get("/upload")
    def upload_form(request: Request):
        user = user_of(request)
        return _page("New run: upload", (
            f"<p>Interaction log (CSV, CSV.gz or Parquet; at most {settings.max_upload_bytes / 2**20:,.0f} MB "
            "in all) and, optionally, the customer table. The next page shows the first rows and the "
            "columns found, to check before the run starts.</p>"
            '<form method="post" action="/upload" enctype="multipart/form-data">'
            '<p><label>Interactions <input type="file" name="interactions" required></label></p>'
            '<p><label>Customers (optional) <input type="file" name="customers"></label></p>'
            '<p><button type="submit" id="upload">Upload and preview</button></p></form>'), user)

    @pages.post("/upload")
    async def upload(request: Request):
        user = user_of(request)
        upload_id = uuid.uuid4().hex
        files, _ = await receive_multipart(request, data / "uploads" / upload_id, settings.max_upload_bytes,
                                           ("interactions", "customers"))
        files = {k: v for k, v in files.items() if v["size"] > 0}
        if "interactions" not in files:
            raise HTTPException(422, "choose an interactions file")
        with Session() as s:
            ids = {role: store_upload(s, user, files[role], role)["upload_id"] for role in files}
        return RedirectResponse("/prepare?" + urlencode(ids), status_code=303)

    def _mapping_select(field: str, columns: list[str], chosen: str | None, required: bool) -> str:
        opts = [] if required else [f'<option value=""{" selected" if chosen is None else ""}>(none)</option>']
        for c in columns:
            opts.append(f'<option value="{_e(c)}"{" selected" if c == chosen else ""}>{_e(c)}</option>')
        return f'<select name="{_e(field)}">{"".join(opts)}</select>'

    def _preview_block(role: str, info: Upload, keys, required, encoding: str | None = None) -> str:
        try:
            columns, rows = preview_table(info.path, encoding=encoding)
        except UnicodeDecodeError:
            # Without a preview there is no mapping to choose: say how to get one.
            return (f'<p class="error">{_e(info.filename)}: cannot preview, the text is not '
                    f'{_e(encoding or "UTF-8")}; give its text encoding under "How the files are written" '
                    'below (e.g. cp1252 or utf-16) and press "Re-read the preview"</p>')
        except Exception as exc:  # noqa: BLE001 - shown, the run would say the same
            return f'<p class="error">{_e(info.filename)}: cannot preview ({_e(type(exc).__name__)})</p>'
        guess = guess_mapping(columns, keys)
        head = "".join(f"<th>{_e(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
        mapping = "".join(f"<tr><td>{_e(k)}</td><td>{_mapping_select(f'{role}.{k}', columns, guess[k], k in required)}"
                          "</td></tr>" for k in keys)
        return (f"<h2>{_e(role.capitalize())}: {_e(info.filename)}</h2>"
                f"<p class=\"sub\">{info.size:,} bytes · sha256 {_e(info.sha256)}</p>"
                f'<table class="preview"><caption>First rows</caption><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>"
                f'<table class="mapping"><caption>Column mapping (detected; change it if wrong)</caption>'
                f"<thead><tr><th>field</th><th>column of the file</th></tr></thead><tbody>{mapping}</tbody></table>")

    def uploads_of(s, user: User, interactions: str, customers: str | None) -> dict[str, Upload]:
        found = {}
        for role, upload_id in (("interactions", interactions), ("customers", customers)):
            if upload_id:
                row = s.get(Upload, upload_id)
                if row is None or row.team_id != user.team_id:
                    raise HTTPException(404, "no such upload")
                found[role] = row
        return found

    def _format_fields(values) -> dict:
        """The format options of the prepare form (or of its re-read query) for RunParams;
        an empty field is the default, as an option left off the command line."""
        raw = {key: str(values.get(key)) for key in ("decimal", "epoch_unit") if values.get(key)}
        raw["dayfirst"] = values.get("dayfirst") == "1"
        if str(values.get("date_format") or "").strip():
            raw["date_format"] = str(values.get("date_format"))
        if str(values.get("encoding") or "").strip():
            raw["encoding"] = str(values.get("encoding")).strip()
        return raw

    def _invalid_settings(exc: ValidationError, user: User) -> HTMLResponse:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _page("Invalid settings", f'<p class="error">{_e(msg)}</p>', user, status_code=422)

    def _format_form(params: RunParams) -> str:
        """The format options (docs/input.md), filled with ``params``' values."""
        def select(field, choices):
            chosen = getattr(params, field)
            opts = "".join(f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(text)}</option>'
                           for v, text in choices)
            return f'<select name="{field}">{opts}</select>'

        def text(field, size, example):
            return (f'<input type="text" name="{field}" maxlength="{size}" placeholder="{_e(example)}" '
                    f'value="{_e(getattr(params, field))}">')

        def line(control, help_text):
            return f'<p><label>{control}</label> <span class="help">{_e(help_text)}</span></p>'

        checked = " checked" if params.dayfirst else ""
        return ('<h2>How the files are written</h2><p class="sub">Only for exports that are not plain CSV '
                "with ISO 8601 dates, decimal points and UTF-8 text. Each option applies to both files.</p>"
                + line("Decimal mark " + select("decimal", ((".", "point: 1234.5"), (",", "comma: 1.234,5"))),
                       "comma for exports with decimal commas (their semicolons are recognised anyway)")
                + line(f'<input type="checkbox" name="dayfirst" value="1"{checked}> dates are day first',
                       "31/01/2025 14:05 or 31.01.2025 is 31 January; ISO dates are still read as ISO")
                + line("Date layout " + text("date_format", 100, "%d/%m/%Y %H:%M"),
                       "strptime layout of every date that is not an epoch number; "
                       "empty: ISO 8601 (or day first, above)")
                + line("Epoch timestamps in " + select("epoch_unit", (("s", "seconds"), ("ms", "milliseconds"),
                                                                      ("us", "microseconds"))),
                       "unit of numeric timestamps: 1738332300000 is in milliseconds")
                + line("Text encoding " + text("encoding", 64, "utf-8"),
                       "a Python codec name such as cp1252 (Windows), latin-1 or utf-16; empty: UTF-8, or "
                       'UTF-16 by its byte order mark. "Re-read the preview" shows the files read with it.'))

    @pages.get("/prepare")
    def prepare(request: Request, interactions: str = Query(max_length=32),
                customers: str | None = Query(None, max_length=32)):
        user = user_of(request)
        with Session() as s:
            ups = uploads_of(s, user, interactions, customers)
        # "Re-read the preview" sends the form here: its format options fill the form again and
        # the preview reads the text with its encoding, the one the run will use.
        try:
            chosen = RunParams(**_format_fields(request.query_params))
        except ValidationError as exc:
            return _invalid_settings(exc, user)
        blocks = _preview_block("interactions", ups["interactions"], INTERACTION_KEYS, ("src", "dst", "timestamp"),
                                chosen.encoding)
        if "customers" in ups:
            blocks += _preview_block("customers", ups["customers"], CUSTOMER_KEYS, ("customer_id",),
                                     chosen.encoding)
        params = ('<h2>Settings</h2><p>'
                  '<label>As-of (empty = day after the last record) <input type="date" name="as_of"></label>'
                  '<label>Horizon (days) <input type="number" name="horizon_days" value="30" min="1" max="3650"></label>'
                  '<label>Churn definition <select name="definition"><option value="">automatic</option>'
                  '<option value="contract">contract (churn_date)</option><option value="inactivity">inactivity'
                  '</option></select></label></p><p>'
                  '<label>Training cut-offs <input type="number" name="n_train_cutoffs" value="4" min="1" max="24"></label>'
                  '<label>Model <select name="estimator"><option>ensemble</option><option>gbm</option>'
                  '<option>logistic</option><option>auto</option></select></label>'
                  '<label><input type="checkbox" name="embeddings" value="1"> graph embeddings (slower)</label>'
                  '<label>Seed <input type="number" name="seed" value="0" min="0" max="4294967295"></label></p>')
        action = "/prepare?" + urlencode({k: v.id for k, v in ups.items()})
        # Start comes first, so Enter in a field starts the run; the re-read button sends the
        # form to GET /prepare, whose query needs the upload ids.
        hidden = "".join(f'<input type="hidden" name="{_e(k)}" value="{_e(v.id)}">' for k, v in ups.items())
        buttons = ('<p><button type="submit" id="start">Start the analysis</button> '
                   '<button type="submit" id="reread" formmethod="get" formaction="/prepare">'
                   "Re-read the preview</button></p>")
        return _page("New run: check and start", f'<form method="post" action="{_e(action)}">' + hidden + blocks
                     + params + _format_form(chosen) + buttons + "</form>", user)

    @pages.post("/prepare")
    async def start(request: Request, interactions: str = Query(max_length=32),
                    customers: str | None = Query(None, max_length=32)):
        user = user_of(request)
        form = await request.form(max_files=0, max_fields=50, max_part_size=4096)
        with Session() as s:
            ups = uploads_of(s, user, interactions, customers)
        raw: dict = {}
        for key in ("as_of", "definition", "estimator"):
            if form.get(key):
                raw[key] = form.get(key)
        for key in ("horizon_days", "n_train_cutoffs", "seed"):
            if form.get(key):
                raw[key] = form.get(key)
        raw["embeddings"] = form.get("embeddings") == "1"
        raw.update(_format_fields(form))
        for role, keys, field in (("interactions", INTERACTION_KEYS, "columns"),
                                  ("customers", CUSTOMER_KEYS, "customer_columns")):
            if role in ups:
                mapping = {k: str(form.get(f"{role}.{k}")) for k in keys if form.get(f"{role}.{k}")}
                raw[field] = {k: v for k, v in mapping.items() if v != k} or None
        try:
            params = RunParams(**raw)
        except ValidationError as exc:
            return _invalid_settings(exc, user)
        with Session() as s:
            inputs = []
            for role in ("interactions", "customers"):
                if role in ups:
                    u = ups[role]
                    inputs.append({"role": role, "name": u.filename, "sha256": u.sha256, "size": u.size,
                                   "path": u.path, "upload_id": u.id})
            run = new_run(s, user, inputs, params)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    @pages.get("/runs/{run_id}")
    def run_page(request: Request, run_id: str = PathParam(max_length=32)):
        user = user_of(request)
        with Session() as s:
            run = get_run(s, user, run_id)
            info = run_json(run, names_of(s))
        p = info["progress"]
        head = (f'<p class="sub">by {_e(info["owner"])} · {_e(run.created_at.strftime("%Y-%m-%d %H:%M"))} UTC · '
                + " · ".join(f"{_e(i['role'])}: {_e(i['name'])} (sha256 {_e(i['sha256'][:12])})" for i in run.inputs)
                + f" · settings: {_e(params_text(run.params))}</p>")
        if run.status in ("queued", "running"):
            elapsed = "" if p["elapsed_s"] is None else f" · {p['elapsed_s']:.0f} s elapsed"
            return _page(f"Run {run.id[:8]}", head + f'<p id="status">Status: <b>{_e(run.status)}</b> · stage: '
                         f'<b>{_e(p["stage"])}</b>{elapsed}</p><p>This page refreshes itself.</p>', user, refresh=2)
        if run.status == "failed":
            return _page(f"Run {run.id[:8]}", head + f'<p id="status" class="status-failed">Failed: {_e(run.error)}</p>',
                         user)
        analysis = analysis_of(run.id)
        m = analysis.metrics
        groups = analysis.groups.copy()
        if "community" in groups.columns:
            groups["community"] = groups["community"].astype(int)
        base = f"/runs/{run.id}"
        downloads = " · ".join(f'<a href="/api/runs/{_e(run.id)}/{n}">{n}</a>' for n in OUTPUT_FILES)
        top_infl = ""
        infl = analysis.influencers
        if len(infl):
            top_infl = str(infl.sort_values("influencer_score", ascending=False)["customer_id"].iloc[0])
        body = [head, f'<p id="status" class="status-done">Done in {p["elapsed_s"]:.0f} s · as-of {_e(m.get("as_of"))}'
                f' · horizon {_e(m.get("horizon_days"))} days · {_e(m.get("definition"))} churn</p>',
                f"<p>Downloads: {downloads}</p>",
                cards_html(scoring_items(analysis.scores)),
                "<h2>Backtest</h2>" + cards_html(backtest_items(m)),
                f'<h2>Decide</h2><p><a id="contacts-link" href="{base}/contacts?budget=500">Contact list for a budget</a>'
                f' · <a id="whatif-link" href="{base}/whatif?leavers={quote(top_infl)}">What if a customer leaves?</a></p>',
                "<h2>Groups at risk</h2>",
                _link_table(groups, ["community", "size", "expected_churners", "value_at_risk", "top_influencers"],
                            {"community": lambda r: f"{base}/groups/{int(r['community'])}"},
                            caption="Top 20 groups by expected churners", max_rows=20),
                "<h2>Customers most at risk</h2>",
                _link_table(analysis.scores, ["risk_rank", "customer_id", "churn_probability", "community",
                                              "influencer_score", "reasons"],
                            {"customer_id": lambda r: f"{base}/customers/{quote(str(r['customer_id']), safe='')}"},
                            max_rows=20)]
        return _page(f"Run {run.id[:8]}", "".join(body), user)

    @pages.get("/runs/{run_id}/groups/{community}")
    def group_page(request: Request, run_id: str = PathParam(max_length=32),
                   community: int = PathParam(ge=-1, le=10**9)):
        user = user_of(request)
        with Session() as s:
            run = done_run(s, user, run_id)
        group, members = group_members(run.id, community)
        nodes, edges = graph_of(run.id)
        in_group = nodes.loc[nodes["community"] == community, "name"].astype(str)
        prob = members.set_index(members["customer_id"].astype(str))["churn_probability"]
        leaders = set(members.loc[members["influencer"], "customer_id"].astype(str))
        picture = pd.DataFrame({"name": in_group.to_numpy()})
        picture["churn_probability"] = picture["name"].map(prob).astype(float)
        picture["influencer"] = picture["name"].isin(leaders)
        svg = group_svg(picture, edges, link_prefix=f"/runs/{run.id}/customers/")
        legend = ('<p class="legend">risk: <span style="background:#2ea043"></span> low '
                  '<span style="background:#f0b429"></span> medium <span style="background:#cf222e"></span> high '
                  '<span style="background:#b0b0b0"></span> not scored · large dark ring = influencer</p>')
        base = f"/runs/{run.id}"
        body = (f'<p><a href="{base}">back to the run</a></p>'
                + cards_html([(k, group[k]) for k in ("size", "expected_churners", "value_at_risk") if k in group])
                + f"<h2>Graph of the group</h2>{legend}<figure>{svg}</figure>"
                + "<h2>Members</h2>"
                + _link_table(members, ["risk_rank", "customer_id", "churn_probability", "influencer",
                                        "influencer_score", "susceptibility", "reasons"],
                              {"customer_id": lambda r: f"{base}/customers/{quote(str(r['customer_id']), safe='')}"},
                              max_rows=500))
        return _page(f"Group {community}", body, user)

    @pages.get("/runs/{run_id}/customers/{customer_id}")
    def customer_page(request: Request, run_id: str = PathParam(max_length=32),
                      customer_id: str = PathParam(max_length=300)):
        user = user_of(request)
        with Session() as s:
            run = done_run(s, user, run_id)
        rec = customer_record(run.id, customer_id)
        base = f"/runs/{run.id}"
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(format_number(v) if isinstance(v, float) else v)}</td></tr>"
                       for k, v in rec.items() if k not in ("influencer",))
        group = rec.get("community")
        links = f'<p><a href="{base}">back to the run</a>'
        if group is not None:
            links += f' · <a href="{base}/groups/{int(group)}">its group</a>'
        links += f' · <a href="{base}/whatif?leavers={quote(customer_id)}">what if this customer leaves?</a></p>'
        role = "" if rec["influencer"] is None else "<p>Influencer in its group (" + _e(
            rec["influencer"].get("role", "")) + ").</p>"
        return _page(f"Customer {customer_id}", links + role + f"<table><tbody>{rows}</tbody></table>", user)

    @pages.get("/runs/{run_id}/contacts")
    def contacts_page(request: Request, run_id: str = PathParam(max_length=32)):
        user = user_of(request)
        with Session() as s:
            run = done_run(s, user, run_id)
        base = f"/runs/{run.id}"
        try:
            campaign = _campaign_from_query(request.query_params)
        except HTTPException as exc:
            return _page("Contact list", f'<p class="error">{_e(exc.detail)}</p>'
                         + _campaign_form(_campaign_from_query({})), user, status_code=422)
        body = f'<p><a href="{base}">back to the run</a></p>' + _campaign_form(campaign)
        if campaign["budget"] is not None:
            plan = contact_list(analysis_of(run.id).scores, **campaign)
            smry = _plan_summary(plan, campaign["budget"])
            csv = f"/api/runs/{run.id}/contacts.csv?" + _campaign_query_string(campaign)
            body += (f'<p id="plan-summary"><b>{smry["n_contacts"]:,}</b> contacts · cost '
                     f'{_e(format_number(smry["total_cost"], 2))} · expected saving '
                     f'{_e(format_number(smry["total_expected_saving"], 2))} · '
                     f'<a id="download-csv" href="{_e(csv)}" download>Download the contact list (CSV)</a></p>'
                     + html_table(plan, max_rows=200, empty_text="nobody is worth contacting within this budget"))
        return _page("Contact list", body, user)

    @pages.get("/runs/{run_id}/whatif")
    async def whatif_page(request: Request, run_id: str = PathParam(max_length=32),
                          leavers: str = Query("", max_length=20000)):
        user = user_of(request)
        with Session() as s:
            run = done_run(s, user, run_id)
        base = f"/runs/{run.id}"
        form = (f'<p><a href="{base}">back to the run</a></p><form method="get" action="{base}/whatif">'
                f'<p><label>Customers who leave (comma-separated ids) <input type="text" size="60" name="leavers" '
                f'value="{_e(leavers)}"></label> <button type="submit" id="run-whatif">Show who is at risk</button></p></form>')
        ids = [x.strip() for x in leavers.split(",") if x.strip()][:1000]
        if not ids:
            return _page("What if customers leave", form, user)
        try:
            result = await run_whatif(run, ids)
        except InputError as exc:
            return _page("What if customers leave", form + f'<p class="error">{_e(exc)}</p>', user, status_code=422)
        alerts = pd.DataFrame(result["alerts"])
        at_risk = pd.DataFrame(result["at_risk"])
        note = f'<p class="sub">{_e(result["source"])}</p>'
        if result["leavers_not_current"]:
            note += f'<p>{result["leavers_not_current"]} of them are not current customers.</p>'
        body = (form + note + '<h2 id="alerts">Groups at risk</h2>' + html_table(alerts, max_rows=50,
                empty_text="no group is affected") + "<h2>Customers at risk</h2>"
                + html_table(at_risk, max_rows=50, empty_text="nobody's risk rises"))
        return _page("What if customers leave", body, user)

    @pages.get("/compare")
    def compare(request: Request, a: str = Query(max_length=32), b: str = Query(max_length=32)):
        user = user_of(request)
        with Session() as s:
            runs = [done_run(s, user, a), done_run(s, user, b)]
        keys = ["as_of", "horizon_days", "definition", "n_scored", "roc_auc", "pr_auc", "lift_top_decile", "emp",
                "base_rate"]
        head = "".join(f'<th><a href="/runs/{_e(r.id)}">{_e(r.id[:8])}</a></th>' for r in runs)
        rows = "".join(f"<tr><th>{_e(k)}</th>" + "".join(
            f'<td class="num">{_e(format_number((r.metrics or {}).get(k)) if isinstance((r.metrics or {}).get(k), (int, float)) else (r.metrics or {}).get(k, ""))}</td>'
            for r in runs) + "</tr>" for k in keys)
        cols = "".join(f"<div><h3>{_e(r.id[:8])}</h3>" + html_table(
            analysis_of(r.id).groups.head(10), ["community", "size", "expected_churners", "value_at_risk",
                                                 "top_influencers"]) + "</div>" for r in runs)
        return _page("Compare runs", f"<h2>Backtest metrics</h2><table><thead><tr><th></th>{head}</tr></thead>"
                     f"<tbody>{rows}</tbody></table><h2>Top groups</h2><div class=\"cols\">{cols}</div>", user)

    app.include_router(public)
    app.include_router(pages)
    app.include_router(api)
    return app


def serve_workspace(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the workspace with uvicorn; refuses a non-loopback ``host`` while no user exists."""
    import uvicorn

    from graphchurn.app.web.auth import has_users

    Session = open_database(settings.data_dir, settings.database_url)
    with Session() as s:
        users = has_users(s)
    if not is_loopback(host) and not users:
        raise InputError(f"refusing to listen on {host} with no users: add one with "
                         f"`graphchurn users add NAME --data {settings.data_dir}`", file="--host")
    app = create_workspace(settings)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
