"""The interactive API docs (`/docs`, Swagger UI; `/redoc`, ReDoc) served with their
JavaScript and CSS from the server itself, so they work offline.

The assets come from the fastapi-offline package (MIT; it ships swagger-ui-dist,
Apache-2.0, and redoc, MIT, whose licence headers stay in the files).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "add_api_docs"]

#: where the assets are served (not under /static, which the call page owns)
ASSETS_URL = "/api-docs-assets"
_ASSETS = Path(fastapi_offline.__file__).parent / "static"
_FAVICON = "/static/favicon.svg"


def add_api_docs(app: FastAPI) -> None:
    """`/docs` and `/redoc` with local assets; the app must be made with
    `docs_url=None, redoc_url=None` (FastAPI's own pages load them from a CDN)."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="api-docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=_FAVICON,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=_FAVICON,
            with_google_fonts=False,
        )
