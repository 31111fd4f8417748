"""The one place where errors become HTTP answers.

``gamesched.errors`` classes map to 4xx; the database being unreachable (or any database error,
which validation is meant to make impossible) maps to 503 with ``Retry-After``. Every error body
is ``{"detail": [{"field", "message"}], "request_id"}``. The catch-all 500 is a last resort that
the tests show unreachable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from gamesched import errors

log = logging.getLogger("gamesched.api")

RETRY_AFTER_SECONDS = 5

_STATUS: list[tuple[type[errors.GameschedError], int]] = [
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidInput, 422),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.DatabaseUnavailable, 503),
    (errors.BrokerUnavailable, 503),
]


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    request: Request,
    status: int,
    items: list[dict[str, Any]],
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": items, "request_id": request_id(request)}, status_code=status, headers=headers
    )


def _status_of(exc: errors.GameschedError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


async def on_gamesched_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.GameschedError)
    status = _status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(
        request, status, [{"field": exc.field, "message": exc.message}], headers=headers
    )


def _field_name(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(loc[0]) if loc else None)


def _json_syntax_error(err: Mapping[str, Any], document: object) -> dict[str, Any]:
    """FastAPI reports a JSON syntax error at ``loc = ("body", <character offset>)``; say
    where it is in words instead, as line and column of the body."""
    loc = tuple(err.get("loc", ()))
    ctx = err.get("ctx") or {}
    reason = str(ctx.get("error") or "not valid JSON")
    offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if offset is None or not isinstance(document, str):
        return {"field": None, "message": f"invalid JSON: {reason}"}
    where = json.JSONDecodeError(reason, document, offset)  # computes line and column
    return {
        "field": None,
        "message": f"invalid JSON at line {where.lineno}, column {where.colno}: {reason}",
    }


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [
        _json_syntax_error(err, exc.body)
        if err.get("type") == "json_invalid"
        else {"field": _field_name(tuple(err.get("loc", ()))), "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return error_response(request, 422, items)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(
        request, exc.status_code, [{"field": None, "message": str(exc.detail)}], exc.headers
    )


async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning(
        "database error: %s",
        type(exc).__name__,
        extra={"action": "api.database_error", "request_id": request_id(request)},
        exc_info=not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError),
    )
    return error_response(
        request,
        503,
        [{"field": None, "message": "the database is unavailable; try again shortly"}],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unexpected error",
        extra={"action": "api.unexpected_error", "request_id": request_id(request)},
        exc_info=exc,
    )
    return error_response(request, 500, [{"field": None, "message": "internal error"}])


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.GameschedError, on_gamesched_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
