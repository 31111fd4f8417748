"""The scheduler's SQL: find the next due time, claim due rows, mark them done.

Written once for every schedule table. The claim is the heart of the multi-replica guarantee:

    WITH c AS (SELECT * FROM <table>
                WHERE NOT <done> AND <due> <= now()
                ORDER BY <due> LIMIT <batch>
                FOR UPDATE SKIP LOCKED)
    SELECT ... FROM c [JOIN game_sessions ...] ORDER BY <due>

Each replica locks a disjoint set of rows (rows another transaction holds are skipped, not
waited for); the locks last until the claiming transaction commits the ``done`` flag, or vanish
with its connection if the replica dies, leaving the rows pending for another replica. What is due
is decided by the database's ``now()``, so replicas with skewed host clocks agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


@dataclass(frozen=True, slots=True)
class ScheduleTable:
    """Where a schedule kind keeps its rows and what it reads when claiming them."""

    name: str
    due: str
    done: str
    done_at: str
    channel: str
    columns: str  # extra select list (alias ``t`` for the table)
    join: str = ""
    more_ctes: str = ""  # after the claim ``c`` (e.g. locking the claimed rows' games)
    where: str = ""  # a filter on the joined rows

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
    def claim_sql(self) -> str:
        # Rows are chosen and locked from the schedule table alone (its partial index, LIMIT
        # first), and only then joined: a join before the LIMIT made PostgreSQL join and sort
        # every due row of a large backlog (124 ms per claim with 100,000 due).
        return self._claim("")

    @property
    def claim_one_sql(self) -> str:
        """The claim of one given row, if it is still due and not locked elsewhere."""
        return self._claim("AND id = %s::uuid ")

    def _claim(self, only: str) -> str:
        return (
            f"WITH c AS ("
            f"SELECT * FROM {self.name} "
            f"WHERE NOT {self.done} AND {self.due} <= now() {only}"
            f"ORDER BY {self.due} LIMIT %s "
            f"FOR UPDATE SKIP LOCKED){self.more_ctes} "
            f"SELECT t.id::text AS id, {self.columns} "
            f"FROM c AS t {self.join} {self.where}"
            f"ORDER BY t.{self.due}"
        )

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


# The claim queries return what the scheduler needs as plain values, and the event body as JSON
# text built by PostgreSQL (fields: gamesched.events.schemas): parsing UUIDs and timestamps and
# encoding JSON in Python cost more than everything else per row. Sessions run in UTC, so
# timestamps read as ``2026-11-26T20:00:00+00:00``.
REMINDERS = ScheduleTable(
    name="notification_schedule",
    due="notification_time",
    done="sent",
    done_at="sent_at",
    channel="notification_schedule_changed",
    columns=(
        "g.status AS game_status, g.scheduled_at <= now() AS game_started, "
        "(extract(epoch FROM g.scheduled_at - now()) * 1000)::bigint AS ms_to_start, "
        "json_build_object('game_id', t.game_id, 'notification_id', t.id, "
        "'reminder_minutes', t.reminder_minutes, 'scheduled_at', g.scheduled_at, "
        "'notification_time', t.notification_time)::text AS body"
    ),
    # an outer join: a reminder whose game is missing (constraints bypassed by a restore or a
    # manual fix) is claimed and skipped as ``game_missing``, not claimed and lost every time
    join="LEFT JOIN game_sessions g ON g.id = t.game_id",
)

# The game row is locked too (skipping games an API transaction holds: those rows stay pending
# and are retried), so the legality check and the status change see the same status, and the
# API's cancel never deadlocks against us. ``FOR UPDATE`` cannot lock the nullable side of an
# outer join, so the games are locked in a CTE of their own and outer-joined: a row whose game is
# locked elsewhere is left out (it stays pending), one whose game does not exist is returned with
# a NULL status (skipped as ``game_missing``).
STATUS = ScheduleTable(
    name="game_status_schedule",
    due="transition_time",
    done="executed",
    done_at="executed_at",
    channel="game_status_schedule_changed",
    columns=(
        "t.game_id::text AS game_id, t.target_status, g.status AS game_status, "
        "json_build_object('game_id', t.game_id, 'schedule_id', t.id, "
        "'target_status', t.target_status, 'transition_time', t.transition_time)::text AS body"
    ),
    more_ctes=(
        ", g AS (SELECT id, status FROM game_sessions "
        "WHERE id IN (SELECT game_id FROM c) FOR UPDATE SKIP LOCKED)"
    ),
    join="LEFT JOIN g ON g.id = t.game_id",
    where=(
        "WHERE g.id IS NOT NULL "
        "OR NOT EXISTS (SELECT 1 FROM game_sessions x WHERE x.id = t.game_id) "
    ),
)

OUTBOX = ScheduleTable(
    name="event_outbox",
    due="available_at",
    done="published",
    done_at="published_at",
    channel="event_outbox_changed",
    columns="t.routing_key, t.payload::text AS body",
)


async def seconds_until_next_due(
    conn: AsyncConnection[Any], table: ScheduleTable, *, exclude: Sequence[str] = ()
) -> float | None:
    """Seconds from the database's clock to the earliest not-done row not in ``exclude``
    (<= 0: due); None: there is none."""
    cur = await conn.execute(table.next_due_sql, (list(exclude),))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def count_due(conn: AsyncConnection[Any], table: ScheduleTable) -> int:
    cur = await conn.execute(table.due_count_sql)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def claim_due(
    conn: AsyncConnection[Any], table: ScheduleTable, *, limit: int
) -> list[dict[str, Any]]:
    """Lock up to ``limit`` due rows, in due order, skipping rows locked elsewhere.

    Must run inside the transaction that later marks them done.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(table.claim_sql, (limit,))
        return await cur.fetchall()


async def claim_one(
    conn: AsyncConnection[Any], table: ScheduleTable, row_id: str
) -> list[dict[str, Any]]:
    """Lock the row ``row_id`` if it is due, not done and not locked elsewhere; [] if not."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(table.claim_one_sql, (row_id, 1))
        return await cur.fetchall()


async def mark_skipped(
    conn: AsyncConnection[Any], table: ScheduleTable, row_id: str, reason: str
) -> bool:
    """Mark one row done without publishing it; False if it was done (or gone) already."""
    cur = await conn.execute(table.mark_skipped_sql, (reason, row_id))
    return cur.rowcount == 1


async def mark_done(
    conn: AsyncConnection[Any],
    table: ScheduleTable,
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
