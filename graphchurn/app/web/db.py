"""The workspace database: teams, users, API tokens, uploads and runs (SQLAlchemy 2).

SQLite at ``DIR/graphchurn.db`` by default; any SQLAlchemy URL (``postgresql+psycopg://...``)
by setting (``serve --database-url`` or ``GRAPHCHURN_DATABASE_URL``). The schema is created and
upgraded by Alembic (``graphchurn/app/web/migrations``): :func:`open_database` runs
``alembic upgrade head`` before it returns, so a new directory and an old database both end at
the current schema.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = [
    "RUN_STATUSES",
    "ApiToken",
    "Base",
    "Run",
    "Team",
    "Upload",
    "User",
    "database_url",
    "open_database",
    "utcnow",
]

RUN_STATUSES = ("queued", "running", "done", "failed")
DATABASE_ENV = "GRAPHCHURN_DATABASE_URL"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex, never the token
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stage_started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs: Mapped[list] = mapped_column(JSON, default=list)    # [{role, name, sha256, size}]
    params: Mapped[dict] = mapped_column(JSON, default=dict)    # analyze options + column maps
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    outputs: Mapped[list] = mapped_column(JSON, default=list)   # file names in the run folder


def database_url(data_dir, url: str | None = None) -> str:
    """``url``, else ``$GRAPHCHURN_DATABASE_URL``, else SQLite at ``DIR/graphchurn.db``."""
    url = url or os.environ.get(DATABASE_ENV)
    if url:
        return url
    return "sqlite:///" + str((Path(data_dir) / "graphchurn.db").resolve())


def _engine(url: str):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # WAL: readers never wait for the worker
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(url: str) -> None:
    """``alembic upgrade head`` on ``url`` (idempotent)."""
    import logging

    from alembic import command
    from alembic.config import Config

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # its INFO lines say nothing a user needs
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    try:
        command.upgrade(cfg, "head")
    finally:
        alembic_log.setLevel(level)


def open_database(data_dir, url: str | None = None, *, upgrade: bool = True):
    """Create DIR if needed, bring the schema to head and return a ``sessionmaker``."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    url = database_url(data_dir, url)
    if upgrade:
        migrate(url)
    return sessionmaker(_engine(url), expire_on_commit=False)
