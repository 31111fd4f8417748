"""Retention: delete what is done and older than ``GAMESCHED_RETENTION_DAYS``, and count rows.

What goes, per table, once older than the period (0 days: nothing ever goes):

* ``reminder_deliveries``: ``delivered_at`` is old and its reminder is sent;
* ``notification_schedule``, ``game_status_schedule``, ``event_outbox``: done (``sent``,
  ``executed``, ``published``) with a done time (``sent_at``, ``executed_at``, ``published_at``,
  set by the scheduler's mark) before the cutoff. The done time, not the due time: a row published
  late (the daemon was down) is kept a full period after it was actually handled. A row with no
  done time (marked by hand) is never pruned.
* ``processed_events``: ``processed_at`` is old (see the dedup window below).

Never touched: a pending row, and any row of a game that has not ended (``SCHEDULED`` or
``IN_PROGRESS``): a moved game makes a sent reminder pending again, so its history must stay
while it can still change. Rows whose game is gone (an outbox event outliving a deleted game)
go once old. ``event_queue`` is left alone: delivered messages are deleted by their consumer and
parked ones are the operator's (``gamesched dlq``).

**Small batches.** Each statement deletes at most ``batch_size`` rows chosen with
``LIMIT ... FOR UPDATE SKIP LOCKED``, in a transaction of its own (autocommit): locks live for
one batch (milliseconds), a row another transaction holds is skipped until the next pass, and
the scheduler's claims (which lock pending rows only, through their partial indexes) never wait
on us. Deliveries are deleted before their reminders so that the ``ON DELETE CASCADE`` from a
reminder to its deliveries has (almost) nothing left to do, keeping every batch bounded (a
delivery made late, after the cutoff, of a reminder sent before it goes with its reminder). The
prune connection has a ``lock_timeout``: if anything did make it wait, the pass fails (logged,
retried next interval) rather than queueing others behind it. There is no index on the done
times: choosing a batch is a sequential scan that stops at the first ``batch_size`` matches (the
pages emptied by earlier batches cost little to pass), and each candidate's game is a
primary-key lookup. Measured on 2 shared cores (docs/benchmarks.md): 1M done rows pruned in
10-22 s while the claims went on (their transactions' p99 up by about 3 ms, no lock wait seen),
and a pass with nothing to prune over 1M rows took 0.2 s, one read of each table. An index on each
done time would make that last figure proportional to what is pruned, at the price of one more
index entry on every mark-done and a migration; at 10M rows a pass would still read about 2 s of
tables every 10 minutes, so it is left out.

**One pruner at a time.** A pass runs only while it holds the session-level advisory lock
``LOCK_KEY`` (``pg_try_advisory_lock``, never waiting): with several scheduler replicas, one
prunes and the others skip that pass. The lock goes with the connection if the process dies.

**The dedup window (``processed_events``).** The bot drops a message whose id it has processed.
Pruning an id is safe once no copy of that message can arrive any more:

* transport redeliveries and retries end within ``RETRY_DELAYS`` (5 s ... 30 min, about 43 min in
  all) after which a message is parked, and a reminder expires when its game starts;
* the scheduler publishes a message again only for a row it has not marked done (the crash
  window between the broker's confirm and the commit), and that row still exists: so an id is
  kept as long as a row with that id exists in the table its routing key names (reminders,
  status changes, else the outbox), however old its record is (a daemon down for two months
  republishes into a dedup window still open);
* ``gamesched dlq replay`` sends a parked message back as new, with no expiry, at any time. An
  id that is parked in ``event_queue`` (the PostgreSQL transport) is kept. RabbitMQ's dead-letter
  queue cannot be read from SQL: replaying a message parked there *and* processed under the same
  id more than the period ago (a duplicate that failed while its twin succeeded) is handled again.
  The bot decides on the game as it is now, so a stale reminder or announcement update is skipped
  or harmless; a cancellation or promotion notice would be sent again. Replay such old messages
  only knowingly, or raise the period.

Row counts for the ``gamesched_table_rows`` gauges: exact (``count(*)``) for a table of at most
``EXACT_MAX_PAGES`` pages (10 MB, some 85,000-200,000 rows by table: milliseconds), otherwise
PostgreSQL's own estimate (``reltuples`` from the last vacuum or analyse, scaled to the table's
current size as the planner does). Exact counts of the five tables at 1M rows in all took 86 ms
against 2 ms for the estimates (docs/benchmarks.md): at 10M rows that is about a second of full
scans per count (far more once the tables no longer fit in memory), for each replica, every 15 s
if done per scrape; the estimate is one catalogue read, within a few percent once autovacuum has
run, and shows growth just as well. Counts are taken by the retention task once a
minute and a scrape reads the cached values, so scraping costs the database nothing however often
it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from gamesched import errors
from gamesched._retry import FailureState
from gamesched.db import claims
from gamesched.db import engine as db_engine
from gamesched.events import schemas
from gamesched.scheduler.metrics import SchedulerMetrics
from gamesched.settings import Settings

log = logging.getLogger(__name__)

#: pg_try_advisory_lock key of the pruner ("gamesched retention"); one per database.
LOCK_KEY = 0x67_73_72_65_74_65_6E  # "gsreten"
DEFAULT_BATCH = 1000
PRUNE_INTERVAL = 600.0  # seconds between passes (and one at start)
COUNT_INTERVAL = 60.0  # seconds between row counts
EXACT_MAX_PAGES = 1280  # 10 MB of 8 kB pages: count(*) is cheap below this
LOCK_TIMEOUT_MS = 2000
STATEMENT_TIMEOUT_MS = 60_000

# Whether a game has not ended: its status, or '' when it is gone. A scalar subquery on purpose:
# PostgreSQL runs it as a primary-key lookup per candidate row, where a NOT EXISTS became an
# anti-join that read every game (or every schedule row) once per batch.
_NOT_ENDED = (
    "coalesce((SELECT g.status FROM game_sessions g WHERE g.id = {game}), '') "
    "IN ('SCHEDULED', 'IN_PROGRESS')"
)


def _batch(table: LiteralString, key: LiteralString, select: LiteralString) -> LiteralString:
    # ``= ANY(ARRAY(...))``: the batch's keys are chosen (and locked) once, then deleted by
    # primary key; with ``IN (...)`` PostgreSQL hashed them and read the whole table per batch.
    return f"DELETE FROM {table} WHERE {key} = ANY(ARRAY({select}))"


# The statements run in this order: deliveries before their reminders (the cascade), and
# processed_events last (its ids are kept while their rows exist). Each deletes one batch.
PRUNE: dict[str, LiteralString] = {
    "reminder_deliveries": _batch(
        "reminder_deliveries",
        "id",
        f"""
    SELECT d.id FROM reminder_deliveries d
    WHERE d.delivered_at < now() - make_interval(days => %(days)s)
      AND (SELECT n.sent AND NOT {_NOT_ENDED.format(game="n.game_id")}
           FROM notification_schedule n WHERE n.id = d.notification_id)
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED""",
    ),
    "notification_schedule": _batch(
        "notification_schedule",
        "id",
        f"""
    SELECT t.id FROM notification_schedule t
    WHERE t.sent AND t.sent_at < now() - make_interval(days => %(days)s)
      AND NOT {_NOT_ENDED.format(game="t.game_id")}
    LIMIT %(limit)s
    FOR UPDATE OF t SKIP LOCKED""",
    ),
    "game_status_schedule": _batch(
        "game_status_schedule",
        "id",
        f"""
    SELECT t.id FROM game_status_schedule t
    WHERE t.executed AND t.executed_at < now() - make_interval(days => %(days)s)
      AND NOT {_NOT_ENDED.format(game="t.game_id")}
    LIMIT %(limit)s
    FOR UPDATE OF t SKIP LOCKED""",
    ),
    "event_outbox": _batch(
        "event_outbox",
        "id",
        f"""
    SELECT t.id FROM event_outbox t
    WHERE t.published AND t.published_at < now() - make_interval(days => %(days)s)
      AND NOT {_NOT_ENDED.format(game="t.game_id")}
    LIMIT %(limit)s
    FOR UPDATE OF t SKIP LOCKED""",
    ),
    # Message ids are the ids of the rows they were published for, and the routing key says
    # which table: one primary-key probe per id (probing all three tables tripled the cost).
    # Anything that is not a UUID in canonical form matches no row instead of failing the cast.
    "processed_events": _batch(
        "processed_events",
        "message_id",
        f"""
    SELECT p.message_id FROM processed_events p
    CROSS JOIN LATERAL (SELECT CASE
        WHEN p.message_id
             ~* '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$'
        THEN p.message_id::uuid END AS row_id) m
    WHERE p.processed_at < now() - make_interval(days => %(days)s)
      AND p.message_id NOT IN (SELECT q.message_id FROM event_queue q WHERE q.state = 'parked')
      AND (m.row_id IS NULL OR CASE p.routing_key
          WHEN '{schemas.REMINDER_DUE}'
              THEN (SELECT 1 FROM notification_schedule x WHERE x.id = m.row_id)
          WHEN '{schemas.STATUS_TRANSITION_DUE}'
              THEN (SELECT 1 FROM game_status_schedule x WHERE x.id = m.row_id)
          ELSE (SELECT 1 FROM event_outbox x WHERE x.id = m.row_id) END IS NULL)
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED""",
    ),
}

TABLES: tuple[str, ...] = tuple(PRUNE)

_SIZES = """
SELECT c.relname::text, c.reltuples::float8, c.relpages::bigint,
       (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint
FROM pg_class c WHERE c.oid = ANY(%s::regclass[])
"""


@dataclass
class PruneResult:
    """What one pass deleted, per table, and how many DELETE statements it took."""

    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    statements: int = 0
    seconds: float = 0.0
    stopped: bool = False  # a stop request cut the pass short

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


async def connect(database_url: str) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection (one transaction per statement) with short lock and statement
    timeouts, so a prune never queues anyone behind a lock it waits for, and no JIT."""
    return await psycopg.AsyncConnection.connect(
        database_url,
        autocommit=True,
        connect_timeout=5,
        # jit off: the planner costs a batch by the whole table it might scan and JIT-compiled
        # every batch's expressions, 150-250 ms each for statements that run in 10-20 ms
        options=(
            f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS} "
            "-c jit=off"
        ),
    )


async def prune(
    conn: psycopg.AsyncConnection[Any],
    *,
    days: int,
    batch_size: int = DEFAULT_BATCH,
    should_stop: Callable[[], bool] = lambda: False,
    tables: Sequence[str] = TABLES,
) -> PruneResult | None:
    """Run one pass on ``conn`` (autocommit). None if another pruner holds the lock; a result
    with nothing deleted if ``days`` is 0 (keep everything)."""
    result = PruneResult()
    if days <= 0:
        return result
    if not conn.autocommit:
        raise ValueError("prune needs an autocommit connection: one transaction per batch")
    started = time.perf_counter()
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
    row = await cur.fetchone()
    if not (row and row[0]):
        return None
    try:
        for table in tables:
            while True:
                if should_stop():
                    result.stopped = True
                    break
                cur = await conn.execute(PRUNE[table], {"days": days, "limit": batch_size})
                result.statements += 1
                result.deleted[table] += max(cur.rowcount, 0)
                if cur.rowcount < batch_size:
                    break
            if result.stopped:
                break
    finally:
        if not conn.closed and not conn.broken:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    result.seconds = time.perf_counter() - started
    return result


async def row_counts(conn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    """Rows per table: exact for small tables, PostgreSQL's estimate for large ones."""
    cur = await conn.execute(_SIZES, (list(TABLES),))
    counts: dict[str, int] = {}
    for name, reltuples, relpages, pages in await cur.fetchall():
        if pages > EXACT_MAX_PAGES and reltuples >= 0 and relpages > 0:
            counts[name] = round(reltuples / relpages * pages)
            continue
        # small, or never vacuumed nor analysed (reltuples -1): count it
        exact = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
        got = await exact.fetchone()
        counts[name] = int(got[0]) if got else 0
    return counts


class RetentionTask:
    """The scheduler daemon's periodic task: row counts every ``count_interval`` seconds, a
    prune pass at start and every ``prune_interval`` seconds (if ``days`` > 0). It never ends on
    an error: a failure is logged once per change of state and retried at the next tick."""

    def __init__(
        self,
        database_url: str,
        *,
        days: int,
        metrics: SchedulerMetrics,
        batch_size: int = DEFAULT_BATCH,
        prune_interval: float = PRUNE_INTERVAL,
        count_interval: float = COUNT_INTERVAL,
    ) -> None:
        self.database_url = database_url
        self.days = days
        self.metrics = metrics
        self.batch_size = batch_size
        self.prune_interval = prune_interval
        self.count_interval = count_interval
        self.passes = 0  # passes this process ran to the end (holding the lock)
        self._stop = asyncio.Event()
        self._next_prune = 0.0
        self._failure = FailureState(log, "retention")

    def __repr__(self) -> str:
        return f"<RetentionTask days={self.days} passes={self.passes}>"

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        if self.days == 0:
            log.info(
                "retention: GAMESCHED_RETENTION_DAYS=0, keeping every row",
                extra={"action": "retention_off"},
            )
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception as exc:  # never let a prune kill the daemon
                self._failure.failed(exc, "retention_failed")
            else:
                self._failure.ok("retention_recovered")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.count_interval)

    async def tick(self) -> None:
        conn = await connect(self.database_url)
        async with conn:
            if self.days > 0 and time.monotonic() >= self._next_prune:
                await self.prune_pass(conn)
            for table, rows in (await row_counts(conn)).items():
                self.metrics.table_rows.labels(table).set(rows)

    async def prune_pass(self, conn: psycopg.AsyncConnection[Any]) -> PruneResult | None:
        result = await prune(
            conn, days=self.days, batch_size=self.batch_size, should_stop=self._stop.is_set
        )
        self._next_prune = time.monotonic() + self.prune_interval
        if result is None:
            log.debug("retention: another process is pruning", extra={"action": "prune_busy"})
            return None
        for table, n in result.deleted.items():
            if n:
                self.metrics.pruned.labels(table).inc(n)
        if not result.stopped:
            self.passes += 1
            self.metrics.last_prune.set(time.time())
        if result.total:
            log.info(
                "retention: pruned %d rows older than %d days in %.1f s (%s)",
                result.total,
                self.days,
                result.seconds,
                ", ".join(f"{t} {n}" for t, n in result.deleted.items() if n),
                extra={"action": "pruned", "rows": result.total},
            )
        return result


async def prune_command(settings: Settings) -> int:
    """``gamesched prune``: one pass now, whatever the interval, then the row counts; prints a
    line for each. A database that cannot be reached or is not migrated is a ConfigError."""
    try:
        conn = await connect(settings.libpq_url)
    except psycopg.OperationalError as exc:
        raise errors.ConfigError(db_engine.connect_error_message(settings.libpq_url, exc)) from exc
    async with conn:
        if not await claims.schema_ready(conn):
            raise errors.ConfigError(
                f"database {settings.database_name} has no gamesched schema: "
                "run `gamesched migrate`"
            )
        days = settings.gamesched_retention_days
        result = await prune(conn, days=days)
        if days == 0:
            print("GAMESCHED_RETENTION_DAYS is 0: nothing is pruned")
        elif result is None:
            print("another process is pruning right now; nothing done")
        else:
            detail = ", ".join(f"{t} {n}" for t, n in result.deleted.items())
            print(
                f"pruned {result.total} rows done over {days} days ago "
                f"in {result.seconds:.1f} s: {detail}"
            )
        counts = await row_counts(conn)
        print("rows now: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return 0
