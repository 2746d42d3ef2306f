"""Web dashboard and REST API for retention teams (FastAPI); see :mod:`graphchurn.app.web.app`."""

from graphchurn.app.web.app import create_app, load_analysis, serve

__all__ = ["create_app", "load_analysis", "serve"]
