"""Engines and raw connections, with driver errors turned into one clear line."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine

from gamesched import errors
from gamesched.settings import Settings, mask_url

CONNECT_TIMEOUT_SECONDS = 5


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """A pooled SQLAlchemy engine on psycopg 3. Connections fail fast (5 s) when unreachable."""
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(settings.sqlalchemy_url, connect_args=connect_args, **kwargs)


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A raw psycopg connection, or DatabaseUnavailable naming the (masked) URL."""
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, **kwargs)
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise errors.DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {mask_url(url)}: {detail}"
        ) from exc


def maintenance_url(url: str) -> str:
    """The same server, database ``postgres``: where CREATE/DROP DATABASE are issued."""
    base, _, rest = url.rpartition("/")
    query = ""
    if "?" in rest:
        query = "?" + rest.split("?", 1)[1]
    return f"{base}/postgres{query}"


def database_exists(settings: Settings) -> bool:
    with connect(maintenance_url(settings.libpq_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.database_name,)
        ).fetchone()
        return row is not None


def create_database(settings: Settings, *, template: str | None = None) -> bool:
    """Create the settings' database if it is missing. Returns True if it was created."""
    name = settings.database_name
    with connect(maintenance_url(settings.libpq_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
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
    with connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
