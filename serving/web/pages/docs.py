"""Interactive API docs (/docs), only when `security.api_docs` is on: for signed-in users, Swagger UI served
from this server (the `swagger-ui-bundle` package, no CDN), started by a script file rather than an inline
script, under a CSP that allows scripts from this origin only (see `serving.web.app._DOCS_CSP`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from serving.web.pages import session

# The only asset files served, by name (nothing else from the package folder can be asked for).
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}
INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: false});
});
"""
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>upstream API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><p><strong>Decision support only: a practitioner decides.</strong> Every identifiable answer is audit-logged.</p>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>
"""

router = APIRouter(include_in_schema=False)


def assets_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(swagger_ui_path)


def _signed_in(request: Request) -> None:
    from serving.web.api.dependencies import get_state

    session.page_user(request, get_state(request).store)  # raises SignInRequired -> redirect to /signin


@router.get("/docs")
def docs(request: Request) -> Response:
    _signed_in(request)
    return HTMLResponse(PAGE)


@router.get("/docs/init.js")
def init_js(request: Request) -> Response:
    _signed_in(request)
    return PlainTextResponse(INIT_JS, media_type="text/javascript")


@router.get("/docs/assets/{name}")
def asset(name: str, request: Request) -> Response:
    _signed_in(request)
    if name not in ASSETS:
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(assets_dir() / name, media_type=ASSETS[name])


def install(app: FastAPI) -> None:
    app.include_router(router)
