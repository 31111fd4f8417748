"""The generic scheduler loop, one instance per schedule kind.

Each turn claims up to a batch of due rows (``FOR UPDATE SKIP LOCKED``, in due order), publishes
them all with publisher confirms (in flight together), marks the confirmed ones done in one
statement and commits. When nothing is due it sleeps until the earliest of: the next due time (by
the database's clock, no early buffer), a NOTIFY for its table, the longest sleep, or stop.

Why nothing is lost or sent twice: a row is marked done only in the transaction that holds its
lock and only after the broker confirmed its message. If the process dies before the commit, the
lock vanishes with the connection and the row is still pending: it is published again (at least
once), and consumers drop the duplicate by ``message_id``. Two replicas never hold the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

from gamesched import errors
from gamesched.db import claims
from gamesched.scheduler import kinds
from gamesched.scheduler._retry import Backoff, FailureState
from gamesched.scheduler.metrics import SchedulerMetrics
from gamesched.scheduler.publishing import PublisherHolder

log = logging.getLogger(__name__)

LOCKED_RETRY_SECONDS = 0.05  # due rows exist but other replicas hold them all
DUE_GAUGE_INTERVAL = 1.0
STATEMENT_TIMEOUT_MS = 30_000
# A daemon that hangs mid-batch must not hold its row locks forever: the server ends the session
# and the rows become claimable again (confirms time out well before this).
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


class KindLoop:
    """The scheduler for one kind. ``run()`` until ``stop()``; safe to stop at any time."""

    def __init__(
        self,
        kind: kinds.Kind,
        *,
        database_url: str,
        publisher: PublisherHolder,
        wake: asyncio.Event,
        metrics: SchedulerMetrics,
        batch_size: int,
        max_wait: float,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.database_url = database_url
        self.publisher = publisher
        self.wake = wake
        self.metrics = metrics
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.concurrency = concurrency  # batches in flight at once while draining a backlog
        self.clock = clock
        self.heartbeat = clock()
        self.published = 0
        self.skipped = 0
        self.batches = 0
        self.connected = False
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._due_checked = 0.0
        self._drainers: set[asyncio.Task[None]] = set()
        self._failures = FailureState(log, f"scheduler[{kind.name}]", kind=kind.name)

    def __repr__(self) -> str:
        return (
            f"<KindLoop {self.kind.name} connected={self.connected} batches={self.batches} "
            f"published={self.published} skipped={self.skipped}>"
        )

    def stop(self) -> None:
        """Stop claiming. A batch in flight finishes; idempotent."""
        self._stopping = True
        self._stop_event.set()
        self.wake.set()

    async def run(self) -> None:
        backoff = Backoff()
        try:
            while not self._stopping:
                self.heartbeat = self.clock()
                try:
                    delay = await self._turn()
                    self._failures.ok("recovered")
                    backoff.reset()
                except (psycopg.Error, OSError) as exc:
                    self._failures.failed(exc, "db_failed")
                    await self._drop_connection()
                    delay = backoff.next_delay()
                except errors.BrokerUnavailable as exc:
                    self._failures.failed(exc, "broker_failed")
                    await self.publisher.reset()
                    delay = backoff.next_delay()
                if delay > 0 and not self._stopping:
                    await self._sleep(delay)
        finally:
            if self._drainers:  # they finish their batch (the service bounds how long)
                await asyncio.gather(*self._drainers, return_exceptions=True)
            await self._drop_connection()

    # -- one turn ------------------------------------------------------------------------------

    async def _turn(self) -> float:
        """Claim and publish one batch; return how long to wait before the next turn."""
        conn = await self._connection()
        self.wake.clear()  # a NOTIFY from here on wakes the next wait
        claimed, due_left = await self._claim_and_publish(conn)
        self.metrics.last_loop.labels(self.kind.name).set(time.time())
        if claimed == self.batch_size:  # a backlog: go again at once, more batches in flight
            self._add_drainer()
            return 0.0
        if due_left:  # due rows exist but other claimers hold them all
            return LOCKED_RETRY_SECONDS
        # A short batch took everything due when it began: ask for the next due time straight
        # away rather than paying for an empty claim first (rows that fell due meanwhile come
        # back as a delay of zero).
        seconds = await claims.seconds_until_next_due(conn, self.kind.table)
        if seconds is None:
            return self.max_wait
        return min(max(seconds, 0.0), self.max_wait)

    def _add_drainer(self) -> None:
        self._drainers = {t for t in self._drainers if not t.done()}
        if len(self._drainers) < self.concurrency - 1 and not self._stopping:
            self._drainers.add(asyncio.create_task(self._drain(), name=f"drain-{self.kind.name}"))

    async def _drain(self) -> None:
        """Help through a backlog: claim full batches on a connection of its own until a claim
        comes back short. Each batch is a transaction of its own, so a drainer has exactly the
        loop's guarantees; with several in flight, a batch's round trips to PostgreSQL and the
        broker's confirm latency overlap instead of adding up."""
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            conn = await self._open_connection()
            while not self._stopping:
                claimed, _ = await self._claim_and_publish(conn)
                if claimed < self.batch_size:
                    return
        except (psycopg.Error, OSError, errors.BrokerUnavailable) as exc:
            # the main loop meets the same failure and logs it once; a drainer just stops
            log.debug("drainer stopped: %s", exc, extra={"kind": self.kind.name})
        finally:
            if conn is not None:
                await conn.close()

    async def _claim_and_publish(self, conn: psycopg.AsyncConnection[Any]) -> tuple[int, int]:
        """Process one batch. Returns (rows claimed, rows due but locked elsewhere if none)."""
        table = self.kind.table
        async with conn.transaction():
            rows = await claims.claim_due(conn, table, limit=self.batch_size)
            if not rows:
                due = await claims.count_due(conn, table)
                self.metrics.due.labels(self.kind.name).set(due)
                return 0, due
            started = time.perf_counter()
            planned = self.kind.plan(rows)
            to_send = [p for p in planned if p.message is not None]
            results = await self.publisher.publish_many([p.message for p in to_send if p.message])
            confirmed = {p.row_id for p, ok in zip(to_send, results, strict=True) if ok}
            failed = len(to_send) - len(confirmed)
            if failed and self.kind.all_or_nothing:
                raise errors.BrokerUnavailable(f"{failed} of {len(to_send)} not confirmed")
            done_ok = [p for p in planned if p.message is None or p.row_id in confirmed]
            if self.kind.apply is not None:
                await self.kind.apply(conn, done_ok)
            lateness = await claims.mark_done(
                conn, table, done=[(p.row_id, p.skip_reason) for p in done_ok]
            )
        self._record(planned, confirmed, failed, lateness, time.perf_counter() - started)
        if failed:
            raise errors.BrokerUnavailable(f"{failed} of {len(to_send)} messages not confirmed")
        if self.clock() - self._due_checked >= DUE_GAUGE_INTERVAL:
            self._due_checked = self.clock()
            self.metrics.due.labels(self.kind.name).set(await claims.count_due(conn, table))
        return len(rows), 0

    def _record(
        self,
        planned: list[kinds.Planned],
        confirmed: set[Any],
        failed: int,
        lateness: list[float],
        elapsed: float,
    ) -> None:
        name = self.kind.name
        self.batches += 1
        self.published += len(confirmed)
        hist = self.metrics.lateness.labels(name)
        for value in lateness:
            hist.observe(max(value, 0.0))
        self.metrics.published.labels(name).inc(len(confirmed))
        skipped = [p for p in planned if p.message is None]
        for p in skipped:
            self.metrics.skipped.labels(name, p.skip_reason or "unknown").inc()
        self.skipped += len(skipped)
        if failed:
            self.metrics.failed.labels(name).inc(failed)
        late_ms = sorted(v * 1000 for v in lateness)
        log.info(
            "%s: published %d, skipped %d, failed %d in %.1f ms; lateness ms min %.1f max %.1f",
            name,
            len(confirmed),
            len(skipped),
            failed,
            elapsed * 1000,
            late_ms[0] if late_ms else 0.0,
            late_ms[-1] if late_ms else 0.0,
            extra={"action": "batch", "kind": name, "count": len(confirmed)},
        )

    # -- connection and waiting ----------------------------------------------------------------

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await self._open_connection()
            self.connected = True
        return self._conn

    async def _open_connection(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.database_url,
            autocommit=True,
            connect_timeout=5,
            options=(
                f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
                f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS} "
                "-c timezone=UTC"
            ),
            application_name=f"gamesched-scheduler-{self.kind.name}",
        )

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                log.debug("error closing connection", exc_info=True)

    async def _sleep(self, seconds: float) -> None:
        """Wait for ``seconds``, a wake-up (NOTIFY) or stop, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout=seconds)
