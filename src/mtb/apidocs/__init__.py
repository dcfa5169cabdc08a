"""The API's documentation page, /docs (Swagger UI), served offline under MTB's own CSP.

FastAPI's own pages load Swagger UI from a CDN and start it with an inline script: MTB's
Content-Security-Policy (`script-src 'self'`, edge.py) blocks both, and an agency's network may not
reach the CDN at all. Here the assets come from the `fastapi-offline` package (the Swagger UI bundle
shipped in its wheel, installed with MTB), served under /docs/assets, and the page is started by
/static/apidocs.js, a file of MTB's own: nothing inline, nothing from another origin, the same CSP as
every other answer.

ReDoc (in the same package) is not served: its styles are injected as inline <style> elements, which
the CSP refuses, and its sidebar loads a logo from its vendor's CDN (docs/api.md).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs/assets"
ASSET_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon.png")

_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" href="{assets}/favicon.png">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <script src="{assets}/swagger-ui-bundle.js" defer></script>
  <script src="/static/apidocs.js" defer></script>
</head>
<body data-openapi="{openapi}">
  <noscript>API 文档需要启用 JavaScript；接口定义见 <a href="{openapi}">{openapi}</a>。</noscript>
  <div id="api-docs"></div>
</body>
</html>
"""


def docs_page(title: str, openapi_url: str) -> str:
    return _PAGE.format(title=escape(f"{title} · API"), assets=ASSETS_URL, openapi=escape(openapi_url))


def install_api_docs(app: FastAPI) -> None:
    """Mount the assets and add /docs (not in the schema). The app is made with `docs_url=None,
    redoc_url=None`, so that FastAPI's CDN pages are not there."""
    page = docs_page(app.title, app.openapi_url or "/openapi.json")
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="apidocs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)
