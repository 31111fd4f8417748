"""Every FastAPI dependency of the API, as ``Annotated`` aliases.

One database session per request; it commits after the route function returns and before the
response is sent (``scope="function"``), so a failed commit becomes an error answer rather than
a success the database never saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import orm

from gamesched import errors
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
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tokens.Principal:
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
