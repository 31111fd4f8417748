"""The interactive API docs, served by this process alone: Swagger UI at ``/docs``, ReDoc at
``/redoc``.

FastAPI's own pages load their JavaScript and CSS from a CDN, so on a self-hosted box without
internet they stay blank. Here the pages refer only to URLs of this server: the assets are the
files the ``fastapi-offline`` package ships (its Python code is not used), mounted at
:data:`STATIC_PREFIX`, and Swagger UI's online validator badge is switched off.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PREFIX = "/docs/static"
#: The package and folder whose files are served under STATIC_PREFIX.
ASSET_PACKAGE = ("fastapi_offline", "static")

SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

#: Swagger UI settings: no request to swagger.io's validator (it would leave this host), and
#: the request's duration shown after "Execute".
SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "displayRequestDuration": True}


def _root(request: Request) -> str:
    root_path: str = request.scope.get("root_path", "")
    return root_path.rstrip("/")


def _openapi_url(request: Request) -> str:
    url = request.app.openapi_url
    assert isinstance(url, str)
    return _root(request) + url


async def swagger_ui(request: Request) -> HTMLResponse:
    assets = _root(request) + STATIC_PREFIX
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{assets}/{SWAGGER_JS}",
        swagger_css_url=f"{assets}/{SWAGGER_CSS}",
        swagger_favicon_url=f"{assets}/{FAVICON}",
        oauth2_redirect_url=None,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )


async def redoc(request: Request) -> HTMLResponse:
    assets = _root(request) + STATIC_PREFIX
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{assets}/{REDOC_JS}",
        redoc_favicon_url=f"{assets}/{FAVICON}",
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    """Add the two pages and their assets, as plain routes like FastAPI's own ``/openapi.json``
    (none of them is part of the API). The app must be created with ``docs_url=None`` and
    ``redoc_url=None`` (FastAPI's CDN pages)."""
    assert app.docs_url is None and app.redoc_url is None
    # Fails here, at start-up, if the package's folder is missing.
    app.mount(STATIC_PREFIX, StaticFiles(packages=[ASSET_PACKAGE]), name="docs-static")
    app.add_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
