"""Every FastAPI dependency of the API, as ``Annotated`` aliases.

One database session per request; it commits after the route function returns and before the
response is sent (``scope="function"``), so a failed commit becomes an error answer rather than
a success the database never saw.

Two plain ASGI middlewares run before any route reads a body: ``BearerGate`` (checks the token:
401) and ``BodyLimit`` (413 past the cap).
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import orm
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gamesched import errors
from gamesched.api import errors as api_errors
from gamesched.api import schemas
from gamesched.db import tokens


def get_session(request: Request) -> Iterator[orm.Session]:
    factory: orm.sessionmaker[orm.Session] = request.app.state.sessionmaker
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


DbSession = Annotated[orm.Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="an API token from `gamesched token create`")


def get_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tokens.Principal:
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, tokens.Principal):
        return principal  # checked by BearerGate before the body was read
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise errors.Unauthorized("an Authorization: Bearer <token> header is required")
    return tokens.authenticate(session, token=credentials.credentials)


Caller = Annotated[tokens.Principal, Depends(get_principal)]


def get_admin(principal: Caller) -> tokens.Principal:
    if not principal.is_admin:
        raise errors.Forbidden("only an admin token may do this")
    return principal


Admin = Annotated[tokens.Principal, Depends(get_admin)]


def get_now() -> datetime:
    """The request's one "now", passed to every schedule rule."""
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(get_now)]

GuildIdPath = Annotated[
    str, Path(pattern=schemas.SNOWFLAKE_PATTERN, description="Discord guild id (digits)")
]
ChannelIdPath = Annotated[
    str, Path(pattern=schemas.SNOWFLAKE_PATTERN, description="Discord channel id (digits)")
]
UserIdPath = Annotated[
    str, Path(pattern=schemas.SNOWFLAKE_PATTERN, description="Discord user id (digits)")
]
GameIdPath = Annotated[uuid.UUID, Path(description="the game's id")]


async def get_raw_body(request: Request) -> bytes:
    """The exact bytes received (a signature covers them, so they must not be re-encoded)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(get_raw_body)]


class BearerGate:
    """Checks the bearer token of every request under ``prefix`` before the route reads or
    parses its body: a missing, unknown or revoked token is 401 at once, whatever the body.
    The principal is left in ``request.state`` for ``get_principal``."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            request = Request(scope)
            response: Response | None = None
            try:
                request.state.principal = await run_in_threadpool(_authenticate, request)
            except errors.GameschedError as exc:
                response = await api_errors.on_gamesched_error(request, exc)
            except SQLAlchemyError as exc:
                response = await api_errors.on_database_error(request, exc)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _authenticate(request: Request) -> tokens.Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("an Authorization: Bearer <token> header is required")
    with _request_session(request) as session:
        return tokens.authenticate(session, token=token.strip())


@contextlib.contextmanager
def _request_session(request: Request) -> Iterator[orm.Session]:
    """``get_session`` outside FastAPI's injection, honouring an override of it (the API tests
    run each request inside the test's own transaction)."""
    provider = request.app.dependency_overrides.get(get_session, get_session)
    yield from provider(*((request,) if inspect.signature(provider).parameters else ()))


class BodyLimit:
    """413 for a request body over its path's cap, before more of it is read: at once when
    ``Content-Length`` announces it, else as soon as the streamed bytes pass the cap (so at
    most one more chunk than the cap is ever held)."""

    def __init__(self, app: ASGIApp, default: int, caps: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps.get(scope["path"], self.default)
        too_large = HTTPException(413, f"the request body is over {cap} bytes")
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > cap:
            response = await api_errors.on_http_error(Request(scope), too_large)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise too_large  # the app's error handler answers 413
            return message

        await self.app(scope, limited, send)
