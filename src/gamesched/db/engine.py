"""Engines and raw connections, with driver errors turned into one clear line."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine, event

from gamesched import errors
from gamesched.settings import Settings, mask_url

CONNECT_TIMEOUT_SECONDS = 5

#: TCP keepalive and unacknowledged-data limits (libpq parameters): a dead peer or a partition is
#: noticed within ~15 s even on an idle pooled connection.
TCP_DEADLINES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every exchange with the server (a query, a commit, a ping)
    must finish within ``deadline`` seconds.

    A server behind a stalled network never sees the query, so a server-side timeout cannot
    fire, and TCP keepalives are answered by whatever holds the socket open. Past the deadline
    the connection is closed (its state is unknown) and the wait raises ``OperationalError``;
    SQLAlchemy sees a closed connection, treats it as a disconnect and invalidates the pool, so
    the next checkout reconnects once the database answers again.
    """

    deadline: float = 5.0

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = self.deadline if timeout is None else min(timeout, self.deadline)
        started = time.monotonic()
        try:
            return super().wait(gen, interval, limit)
        except psycopg.OperationalError as exc:
            if time.monotonic() - started < limit or self.closed:
                raise
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"PostgreSQL did not answer within {limit:g} s; connection closed"
            ) from exc


def make_engine(
    settings: Settings, *, query_deadline: float | None = None, **kwargs: Any
) -> Engine:
    """A pooled SQLAlchemy engine on psycopg 3. Connections fail fast (5 s) when unreachable.

    With ``query_deadline`` every exchange on a connection (pool pings included) is bounded by
    that many seconds (see DeadlineConnection), the server cancels statements running longer
    than that, and TCP keepalives are on: a stalled or partitioned database then costs a caller
    seconds, not forever.
    """
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    if query_deadline is not None:
        connect_args.update(TCP_DEADLINES)
        # A live but slow server cancels the statement itself, keeping the connection usable.
        connect_args["options"] = f"-c statement_timeout={int(query_deadline * 1000)}"
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(settings.sqlalchemy_url, connect_args=connect_args, **kwargs)
    if query_deadline is not None:
        # The client-side bound sits a little above the server's, so a slow (not stalled)
        # server answers with its own cancellation first.
        deadline = query_deadline + 1.0

        @event.listens_for(engine, "do_connect")
        def _connect(dialect: Any, rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
            conn = DeadlineConnection.connect(*cargs, **cparams)
            conn.deadline = deadline
            return conn

    return engine


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A raw psycopg connection, or DatabaseUnavailable naming the (masked) URL."""
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, **kwargs)
    except psycopg.OperationalError as exc:
        raise errors.DatabaseUnavailable(connect_error_message(url, exc)) from exc


def connect_error_message(url: str, exc: BaseException) -> str:
    """One line for a failed connection; a missing database says what creates it."""
    text = str(exc).strip()
    detail = errors.first_line(exc)
    if "does not exist" in text and "database" in text:
        name = urlsplit(url).path.strip("/")
        detail = f"database {name} does not exist (`gamesched migrate` creates it)"
    return f"cannot connect to PostgreSQL at {mask_url(url)}: {detail}"


def database_url_for(url: str, name: str) -> str:
    """``url`` (same server, user and options) with database ``name`` instead of its own."""
    base, _, rest = url.rpartition("/")
    query = ""
    if "?" in rest:
        query = "?" + rest.split("?", 1)[1]
    return f"{base}/{name}{query}"


def maintenance_url(url: str) -> str:
    """The same server, database ``postgres``: where CREATE/DROP DATABASE are issued."""
    return database_url_for(url, "postgres")


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    )


def database_exists(settings: Settings) -> bool:
    with connect(maintenance_url(settings.libpq_url), autocommit=True) as conn:
        return _exists(conn, settings.database_name)


def create_database(settings: Settings, *, template: str | None = None) -> bool:
    """Create the settings' database if it is missing (a copy of database ``template`` if
    given). Returns True if it was created."""
    name = settings.database_name
    with connect(maintenance_url(settings.libpq_url), autocommit=True) as conn:
        if _exists(conn, name):
            return False
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        try:
            conn.execute(stmt)
        except psycopg.errors.DuplicateDatabase:
            return False  # created concurrently by another process: fine
        return True


def drop_database(url: str, name: str) -> None:
    """Drop database ``name`` (if it exists, closing its connections) on the server of ``url``,
    a libpq URL (``Settings.libpq_url``)."""
    with connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
