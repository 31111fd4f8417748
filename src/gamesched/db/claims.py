"""The scheduler's SQL: find the next due time, claim due rows, mark them done.

The three claim queries are written out in full below, one per schedule kind, so a reviewer
reads each as PostgreSQL runs it. They share one shape, the heart of the multi-replica
guarantee:

    WITH c AS (SELECT * FROM <table>
                WHERE NOT <done> AND <due> <= now()
                ORDER BY <due> LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED)
    SELECT ... FROM c [JOIN game_sessions ...] ORDER BY <due>

Each replica locks a disjoint set of rows (rows another transaction holds are skipped, not
waited for); the locks last until the claiming transaction commits the ``done`` flag, or vanish
with its connection if the replica dies, leaving the rows pending for another replica. What is due
is decided by the database's ``now()``, so replicas with skewed host clocks agree. Rows are chosen
and locked from the schedule table alone (its partial index, LIMIT first), and only then joined:
a join before the LIMIT made PostgreSQL join and sort every due row of a large backlog (124 ms
per claim with 100,000 due). ``%(only)s``, when not NULL, narrows the claim to that one row (the
scheduler retries the rows of a failed batch one at a time).

The claims return what the scheduler needs as plain values, and the event body as JSON text
built by PostgreSQL (fields: gamesched.events.schemas): parsing UUIDs and timestamps and encoding
JSON in Python cost more than everything else per row. Sessions run in UTC, so timestamps read as
``2026-11-26T20:00:00+00:00``. Each claim's rows come back as the frozen dataclass below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from psycopg import AsyncConnection
from psycopg.rows import class_row

# -- reminders ---------------------------------------------------------------------------------

# An outer join: a reminder whose game is missing (constraints bypassed by a restore or a manual
# fix) is claimed and skipped as ``game_missing``, not claimed and lost every time.
CLAIM_REMINDERS = """
WITH c AS (
    SELECT * FROM notification_schedule
    WHERE NOT sent AND notification_time <= now()
      AND (%(only)s::uuid IS NULL OR id = %(only)s::uuid)
    ORDER BY notification_time
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
SELECT t.id::text AS id,
       g.status AS game_status,
       g.scheduled_at <= now() AS game_started,
       (extract(epoch FROM g.scheduled_at - now()) * 1000)::bigint AS ms_to_start,
       json_build_object(
           'game_id', t.game_id, 'notification_id', t.id,
           'reminder_minutes', t.reminder_minutes, 'scheduled_at', g.scheduled_at,
           'notification_time', t.notification_time
       )::text AS body
FROM c AS t
LEFT JOIN game_sessions g ON g.id = t.game_id
ORDER BY t.notification_time
"""


@dataclass(frozen=True, slots=True)
class ReminderRow:
    id: str
    game_status: str | None  # None: the game is missing
    game_started: bool | None
    ms_to_start: int | None
    body: str


# -- status transitions ------------------------------------------------------------------------

# The game rows are locked too (skipping games an API transaction holds: those rows stay pending
# and are retried), so the legality check and the status change see the same status, and the
# API's cancel never deadlocks against us. ``FOR UPDATE`` cannot lock the nullable side of an
# outer join, so the games are locked in a CTE of their own and outer-joined: a row whose game is
# locked elsewhere is left out (it stays pending), one whose game does not exist is returned with
# a NULL status (skipped as ``game_missing``).
CLAIM_STATUS = """
WITH c AS (
    SELECT * FROM game_status_schedule
    WHERE NOT executed AND transition_time <= now()
      AND (%(only)s::uuid IS NULL OR id = %(only)s::uuid)
    ORDER BY transition_time
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), g AS (
    SELECT id, status FROM game_sessions
    WHERE id IN (SELECT game_id FROM c)
    FOR UPDATE SKIP LOCKED
)
SELECT t.id::text AS id,
       t.game_id::text AS game_id,
       t.target_status,
       g.status AS game_status,
       json_build_object(
           'game_id', t.game_id, 'schedule_id', t.id,
           'target_status', t.target_status, 'transition_time', t.transition_time
       )::text AS body
FROM c AS t
LEFT JOIN g ON g.id = t.game_id
WHERE g.id IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM game_sessions x WHERE x.id = t.game_id)
ORDER BY t.transition_time
"""


@dataclass(frozen=True, slots=True)
class StatusRow:
    id: str
    game_id: str
    target_status: str
    game_status: str | None  # None: the game is missing
    body: str


# -- the outbox --------------------------------------------------------------------------------

# The event as the API wrote it, verbatim.
CLAIM_OUTBOX = """
WITH c AS (
    SELECT * FROM event_outbox
    WHERE NOT published AND available_at <= now()
      AND (%(only)s::uuid IS NULL OR id = %(only)s::uuid)
    ORDER BY available_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
SELECT t.id::text AS id, t.routing_key, t.payload::text AS body
FROM c AS t
ORDER BY t.available_at
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    routing_key: str
    body: str


# -- per table ---------------------------------------------------------------------------------

R = TypeVar("R", ReminderRow, StatusRow, OutboxRow)


@dataclass(frozen=True, slots=True)
class ScheduleTable(Generic[R]):
    """Where a schedule kind keeps its rows, its claim, and the class of the rows it claims.
    The short statements below (next due time, count, mark done) differ only by table and
    column names, so they are built from them."""

    name: str
    due: str
    done: str
    done_at: str
    channel: str
    claim_sql: str
    row: type[R]

    @property
    def next_due_sql(self) -> str:
        # Rows that this process's batches are publishing right now are excluded: they are
        # due, but asking again for them would only spin.
        return (
            f"SELECT extract(epoch FROM ("
            f"SELECT {self.due} FROM {self.name} WHERE NOT {self.done} "
            f"AND id <> ALL(%s::uuid[]) "
            f"ORDER BY {self.due} LIMIT 1) - clock_timestamp())::float8"
        )

    @property
    def due_count_sql(self) -> str:
        return f"SELECT count(*) FROM {self.name} WHERE NOT {self.done} AND {self.due} <= now()"

    @property
    def mark_skipped_sql(self) -> str:
        """Mark one row done, unpublished, without reading its due time (which may be what
        makes the usual mark-done fail)."""
        return (
            f"UPDATE {self.name} SET {self.done} = true, {self.done_at} = clock_timestamp(), "
            f"skip_reason = %s WHERE id = %s::uuid AND NOT {self.done}"
        )

    @property
    def mark_done_sql(self) -> str:
        return (
            f"UPDATE {self.name} AS t "
            f"SET {self.done} = true, {self.done_at} = clock_timestamp(), skip_reason = v.reason "
            f"FROM unnest(%s::uuid[], %s::text[]) AS v(id, reason) "
            f"WHERE t.id = v.id AND NOT t.{self.done} "
            f"RETURNING extract(epoch FROM clock_timestamp() - t.{self.due})::float8, "
            f"v.reason IS NULL"
        )


REMINDERS = ScheduleTable(
    name="notification_schedule",
    due="notification_time",
    done="sent",
    done_at="sent_at",
    channel="notification_schedule_changed",
    claim_sql=CLAIM_REMINDERS,
    row=ReminderRow,
)
STATUS = ScheduleTable(
    name="game_status_schedule",
    due="transition_time",
    done="executed",
    done_at="executed_at",
    channel="game_status_schedule_changed",
    claim_sql=CLAIM_STATUS,
    row=StatusRow,
)
OUTBOX = ScheduleTable(
    name="event_outbox",
    due="available_at",
    done="published",
    done_at="published_at",
    channel="event_outbox_changed",
    claim_sql=CLAIM_OUTBOX,
    row=OutboxRow,
)


async def seconds_until_next_due(
    conn: AsyncConnection[Any], table: ScheduleTable[Any], *, exclude: Sequence[str] = ()
) -> float | None:
    """Seconds from the database's clock to the earliest not-done row not in ``exclude``
    (<= 0: due); None: there is none."""
    cur = await conn.execute(table.next_due_sql, (list(exclude),))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def count_due(conn: AsyncConnection[Any], table: ScheduleTable[Any]) -> int:
    cur = await conn.execute(table.due_count_sql)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def claim_due(conn: AsyncConnection[Any], table: ScheduleTable[R], *, limit: int) -> list[R]:
    """Lock up to ``limit`` due rows, in due order, skipping rows locked elsewhere.

    Must run inside the transaction that later marks them done.
    """
    async with conn.cursor(row_factory=class_row(table.row)) as cur:
        await cur.execute(table.claim_sql, {"limit": limit, "only": None})
        return await cur.fetchall()


async def claim_one(conn: AsyncConnection[Any], table: ScheduleTable[R], row_id: str) -> list[R]:
    """Lock the row ``row_id`` if it is due, not done and not locked elsewhere; [] if not."""
    async with conn.cursor(row_factory=class_row(table.row)) as cur:
        await cur.execute(table.claim_sql, {"limit": 1, "only": row_id})
        return await cur.fetchall()


async def mark_skipped(
    conn: AsyncConnection[Any], table: ScheduleTable[Any], row_id: str, reason: str
) -> bool:
    """Mark one row done without publishing it; False if it was done (or gone) already."""
    cur = await conn.execute(table.mark_skipped_sql, (reason, row_id))
    return cur.rowcount == 1


async def mark_done(
    conn: AsyncConnection[Any],
    table: ScheduleTable[Any],
    *,
    done: Sequence[tuple[str, str | None]],
) -> list[float]:
    """Mark rows done in one statement (reason None = published, else why skipped).

    Returns the lateness in seconds (database clock: now minus due) of the published rows.
    """
    if not done:
        return []
    ids = [row_id for row_id, _ in done]
    reasons = [reason for _, reason in done]
    cur = await conn.execute(table.mark_done_sql, (ids, reasons))
    return [lateness for lateness, published in await cur.fetchall() if published]


async def set_game_statuses(
    conn: AsyncConnection[Any], *, statuses: Sequence[tuple[str, str]]
) -> None:
    """Set each game's status (rows already locked by the claim)."""
    if not statuses:
        return
    await conn.execute(
        "UPDATE game_sessions AS g SET status = v.status, updated_at = now() "
        "FROM unnest(%s::uuid[], %s::text[]) AS v(id, status) WHERE g.id = v.id",
        ([gid for gid, _ in statuses], [status for _, status in statuses]),
    )


async def schema_ready(conn: AsyncConnection[Any]) -> bool:
    cur = await conn.execute("SELECT to_regclass('notification_schedule') IS NOT NULL")
    row = await cur.fetchone()
    return bool(row and row[0])


async def notify_horizon_seconds(conn: AsyncConnection[Any]) -> float:
    """The NOTIFY horizon the triggers use (``gamesched.notify_horizon``, default 10 min)."""
    cur = await conn.execute(
        "SELECT extract(epoch FROM coalesce(nullif(current_setting("
        "'gamesched.notify_horizon', true), '')::interval, interval '10 minutes'))::float8"
    )
    row = await cur.fetchone()
    return float(row[0]) if row else 600.0
