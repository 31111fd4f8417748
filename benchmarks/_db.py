"""Benchmark databases: create (migrated to head), fill with reminder rows, read back, drop.

Rows are generated server-side with ``generate_series`` in one statement. Each game holds up to
``PER_GAME`` rows with distinct ``reminder_minutes`` (``(game_id, reminder_minutes)`` is unique);
``notification_time`` is set independently of ``reminder_minutes``, and every game starts far
after its rows are due, so the daemon never skips a benchmark reminder as "game started".
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any, LiteralString, NamedTuple

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from gamesched.db import engine, migrate
from gamesched.settings import Settings

PER_GAME = 1000
MINUTES_BASE = 100_000  # far from real reminder values; only uniqueness matters here


def create(base_url: str, prefix: str = "bench") -> tuple[str, str]:
    """Create and migrate a fresh database named ``<prefix>_<random>`` on the server of
    ``base_url`` (what ``gamesched migrate`` does); return (url, name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = engine.database_url_for(base_url, name)
    migrate.upgrade(Settings(database_url=url))
    return url, name


def drop(url: str, name: str) -> None:
    """Drop database ``name``; ``url`` is any URL of its server, as the user gave it."""
    engine.drop_database(Settings(database_url=url).libpq_url, name)


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(Settings(database_url=url).libpq_url, **kwargs)


async def aconnect(url: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(Settings(database_url=url).libpq_url, **kwargs)


def scalar(conn: psycopg.Connection[Any], query: LiteralString, params: Any = None) -> Any:
    """The first column of the first row of ``query``, which must return a row."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"no row from {query!r}")
    return row[0]


def ensure_guild_channel(conn: psycopg.Connection[Any]) -> tuple[uuid.UUID, uuid.UUID]:
    """One guild and one channel that every benchmark game belongs to."""
    row = conn.execute(
        "SELECT g.id, c.id FROM guilds g JOIN channels c ON c.guild_id = g.id "
        "WHERE g.discord_guild_id = '1'"
    ).fetchone()
    if row:
        return row[0], row[1]
    guild = scalar(
        conn, "INSERT INTO guilds (discord_guild_id, name) VALUES ('1', 'bench') RETURNING id"
    )
    channel = scalar(
        conn,
        "INSERT INTO channels (guild_id, discord_channel_id, name) "
        "VALUES (%s, '2', 'bench') RETURNING id",
        (guild,),
    )
    conn.commit()
    return guild, channel


def create_games(conn: psycopg.Connection[Any], tag: str, count: int, starts_in: str) -> None:
    """``count`` games titled ``tag`` starting ``starts_in`` (an SQL interval) from now."""
    guild, channel = ensure_guild_channel(conn)
    conn.execute(
        "INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, host_discord_id) "
        "SELECT %s, %s, %s, now() + %s::interval, '3' FROM generate_series(1, %s)",
        (guild, channel, tag, starts_in, count),
    )
    conn.commit()


# Row i of n (0-based) goes to game i // PER_GAME with reminder_minutes MINUTES_BASE + i % PER_GAME.
_INSERT_ROWS = """
WITH games AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM game_sessions WHERE title = %(tag)s
)
INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time)
SELECT games.id, %(base)s + i %% %(per)s, {due}
  FROM generate_series(0, %(n)s - 1) AS i
  JOIN games ON games.k = i / %(per)s
"""

DUE_AT = "%(due)s::timestamptz"
DUE_SPREAD = "%(due)s::timestamptz + (i * %(span)s / %(n)s) * interval '1 second'"
DUE_MONTHS_AHEAD = "now() + interval '60 days' + (i::float8 / %(n)s) * interval '120 days'"


def insert_rows_only(
    conn: psycopg.Connection[Any], tag: str, n: int, due_sql: LiteralString, **params: Any
) -> float:
    """Insert ``n`` rows for ``tag``'s games (already created) in one statement and commit.

    Returns the wall-clock time (epoch seconds) at which the COMMIT returned.
    """
    conn.execute(
        sql.SQL(_INSERT_ROWS).format(due=sql.SQL(due_sql)),
        {"tag": tag, "base": MINUTES_BASE, "per": PER_GAME, "n": n, **params},
    )
    conn.commit()
    return time.time()


def insert_rows(
    conn: psycopg.Connection[Any],
    tag: str,
    n: int,
    due_sql: LiteralString,
    *,
    starts_in: str = "30 days",
    **params: Any,
) -> float:
    """Create the games for ``n`` rows, then insert the rows (see :func:`insert_rows_only`)."""
    create_games(conn, tag, -(-n // PER_GAME), starts_in)
    return insert_rows_only(conn, tag, n, due_sql, **params)


class ScheduleRow(NamedTuple):
    id: str
    notification_time: datetime
    sent_at: datetime | None
    sent: bool
    skip_reason: str | None


def rows_of(conn: psycopg.Connection[Any], tag: str) -> list[ScheduleRow]:
    """Every ``notification_schedule`` row of ``tag``'s games."""
    cur = conn.cursor(row_factory=class_row(ScheduleRow)).execute(
        "SELECT n.id::text, n.notification_time, n.sent_at, n.sent, n.skip_reason "
        "FROM notification_schedule n JOIN game_sessions g ON g.id = n.game_id "
        "WHERE g.title = %s",
        (tag,),
    )
    return cur.fetchall()


def server_version(url: str) -> str:
    """The version of the server of ``url`` (asked in its ``postgres`` database)."""
    with connect(engine.maintenance_url(url)) as conn:
        return str(scalar(conn, "SHOW server_version"))
