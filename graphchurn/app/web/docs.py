"""``/docs`` without a CDN: Swagger UI's files come from the ``swagger-ui-bundle`` package."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

__all__ = ["add_offline_docs"]

_PAGE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>graphchurn API</title>"
         '<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body>'
         '<div id="swagger-ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>'
         '<script src="/docs/assets/docs-init.js"></script></body></html>')


def add_offline_docs(router, app) -> None:
    """Add ``GET /docs`` and ``GET /docs/assets/{name}`` to ``router`` (the app's schema)."""

    @router.get("/docs", include_in_schema=False)
    def docs():
        return HTMLResponse(_PAGE)

    @router.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str = PathParam(max_length=100)):
        if name == "docs-init.js":
            return Response("window.ui = SwaggerUIBundle({url: '/docs/assets/openapi-ui.json', "
                            "dom_id: '#swagger-ui'});", media_type="text/javascript")
        if name == "openapi-ui.json":
            # The packaged Swagger UI (4.x) renders OpenAPI 3.0 only; FastAPI writes 3.1.0, whose
            # differences (null in anyOf) it shows well enough. Scripts read /openapi.json.
            return JSONResponse({**app.openapi(), "openapi": "3.0.3"})
        if name not in ("swagger-ui.css", "swagger-ui-bundle.js"):
            raise HTTPException(404, "no such asset")
        try:
            from swagger_ui_bundle import swagger_ui_path
        except ImportError:
            raise HTTPException(404, "install graphchurn[web] for the API page") from None
        return FileResponse(Path(swagger_ui_path) / name)
