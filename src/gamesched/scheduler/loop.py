"""The generic scheduler loop, one instance per schedule kind.

A batch claims up to ``batch_size`` due rows (``FOR UPDATE SKIP LOCKED``, in due order),
publishes their messages through the transport's sink, marks the accepted ones done in one
statement and commits. On RabbitMQ "accepted" means confirmed by the broker (all in flight
together); on PostgreSQL the sink inserts the messages into ``event_queue`` in this very
transaction, so a row is done exactly when its message exists. The loop starts a batch as soon
as something is due and moves on once the batch has *claimed* its rows: while one batch waits for
the broker's confirms (a quorum queue confirms after its log is synced), the next due rows are
already being claimed by another, on a connection of its own, up to ``concurrency`` batches at
once. When nothing is due it sleeps until the earliest of: the next due time (by the database's
clock, no early buffer), a NOTIFY for its table, a batch finishing, the longest sleep, or stop.

On a failure it backs off (capped; only stop() cuts it short). A batch that fails on a statement
after claiming (not a lost connection) has its rows retried one per batch; a row that keeps
failing alone is marked done as ``poison``, so one bad row costs a few copies, not a spin (on
PostgreSQL none: its copies rolled back with the batch).

Why nothing is lost or sent twice: a row is marked done only in the transaction that holds its
lock and only after its message was accepted. If the process dies before the commit, the lock
vanishes with the connection and the row is still pending: it is published again (at least once
on RabbitMQ, and consumers drop the duplicate by ``message_id``; exactly once on PostgreSQL,
whose message rolled back too). Two replicas never hold the same row.
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
from gamesched._retry import Backoff, FailureState
from gamesched.db import claims
from gamesched.scheduler import kinds
from gamesched.scheduler.metrics import SchedulerMetrics
from gamesched.scheduler.publishing import SharedSink

log = logging.getLogger(__name__)

LOCKED_RETRY_SECONDS = 0.05  # due rows exist but other replicas hold them all
DUE_GAUGE_INTERVAL = 1.0  # while draining a backlog, count what is due at most this often
STATEMENT_TIMEOUT_MS = 30_000
# A daemon that hangs mid-batch must not hold its row locks forever: the server ends the session
# and the rows become claimable again (confirms time out well before this).
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
# A row whose batch fails with it alone this many times is set aside (done, reason ``poison``):
# its message may have been published on each attempt, so this also bounds the copies sent.
POISON_AFTER = 3


def _row_failure(exc: BaseException) -> bool:
    """A statement failed for the rows it was given (bad data, a trigger, a constraint), as
    opposed to the database being unreachable, which every row would meet alike."""
    return isinstance(exc, psycopg.DatabaseError) and not isinstance(exc, psycopg.OperationalError)


class KindLoop:
    """The scheduler for one kind. ``run()`` until ``stop()``; safe to stop at any time."""

    def __init__(
        self,
        kind: kinds.Kind,
        *,
        database_url: str,
        sink: SharedSink,
        wake: asyncio.Event,
        metrics: SchedulerMetrics,
        batch_size: int,
        max_wait: float,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.database_url = database_url
        self.sink = sink
        self.wake = wake
        self.metrics = metrics
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.concurrency = concurrency  # batches in flight at once
        self.clock = clock
        self.heartbeat = clock()
        self.published = 0
        self.skipped = 0
        self.batches = 0
        self.connected = False
        self._stopping = False
        self._stopped = asyncio.Event()  # only this ends a backoff early
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._due_checked = 0.0
        self._batches: set[asyncio.Task[None]] = set()  # in flight, each on its own connection
        self._idle: list[psycopg.AsyncConnection[Any]] = []  # connections for the next batches
        self._in_flight: set[str] = set()  # ids claimed by batches not yet finished
        self._backlog = False  # the last claim was full: claim again without asking
        self._claim_first = False  # just woke up: claim before asking for the next due time
        self._failed: BaseException | None = None  # a background batch's failure, to raise
        self._failures = FailureState(log, f"scheduler[{kind.name}]", kind=kind.name)
        # Rows of a batch that failed statement-wise, retried one per batch before anything else
        # (id -> failures alone so far), and rows to set aside as poison.
        self._alone: dict[str, int] = {}
        self._poison: list[str] = []

    def __repr__(self) -> str:
        return (
            f"<KindLoop {self.kind.name} connected={self.connected} batches={self.batches} "
            f"published={self.published} skipped={self.skipped}>"
        )

    def stop(self) -> None:
        """Stop claiming. A batch in flight finishes; idempotent."""
        self._stopping = True
        self._stopped.set()
        self.wake.set()

    async def run(self) -> None:
        backoff = Backoff()
        try:
            while not self._stopping:
                self.heartbeat = self.clock()
                try:
                    delay = await self._turn()
                    if not self._batches and self._failed is None:
                        # nothing in flight whose outcome is unknown, nothing failed: all is well
                        self._failures.ok("recovered")
                        backoff.reset()
                except (psycopg.Error, OSError) as exc:
                    self._failures.failed(exc, "db_failed")
                    await self._drop_connection()
                    await self._back_off(backoff)
                    continue
                except errors.BrokerUnavailable as exc:
                    self._failures.failed(exc, "broker_failed")
                    await self.sink.reset()
                    await self._back_off(backoff)
                    continue
                if delay > 0 and not self._stopping:
                    await self._sleep(delay)
                    # woken by the due time or a NOTIFY: most likely something is due now, so
                    # claim straight away instead of asking first (the wake-up's fast path)
                    self._claim_first = True
        finally:
            if self._batches:  # they finish (the service bounds how long)
                await asyncio.gather(*self._batches, return_exceptions=True)
            await self._drop_connection()
            for conn in self._idle:
                await conn.close()
            self._idle.clear()

    # -- one turn ------------------------------------------------------------------------------

    async def _turn(self) -> float:
        """Start a batch if something is due; return how long to wait before the next turn."""
        self._raise_batch_failure()
        conn = await self._connection()
        self.wake.clear()  # a NOTIFY from here on wakes the next wait
        self.metrics.last_loop.labels(self.kind.name).set(time.time())
        if self._poison or self._alone:
            return await self._isolation_turn(conn)
        if not (self._backlog or self._claim_first):
            seconds = await claims.seconds_until_next_due(
                conn, self.kind.table, exclude=list(self._in_flight)
            )
            if seconds is None:
                return self.max_wait
            if seconds > 0:
                return min(seconds, self.max_wait)
        elif self._backlog and self.clock() - self._due_checked >= DUE_GAUGE_INTERVAL:
            self._due_checked = self.clock()
            due = await claims.count_due(conn, self.kind.table)
            self.metrics.due.labels(self.kind.name).set(due)
        if len(self._batches) >= self.concurrency:
            await asyncio.wait(self._batches, return_when=asyncio.FIRST_COMPLETED)
            return 0.0
        claim_first, self._claim_first = self._claim_first, False
        # a broker known to be down: fail here, before locking rows only to release them
        await self.sink.ensure()
        claimed = await self._start_batch()
        self._backlog = claimed == self.batch_size  # full: more is due, claim again at once
        if claimed or self._backlog:
            return 0.0
        if claim_first:  # woken, but nothing was due after all: ask when the next row is
            return 0.0
        if self._batches:  # our own batches hold what is due: wait for one to finish
            await asyncio.wait(self._batches, return_when=asyncio.FIRST_COMPLETED)
            return 0.0
        due = await claims.count_due(conn, self.kind.table)
        self.metrics.due.labels(self.kind.name).set(due)
        # due rows that other replicas (or an API transaction holding a game) have locked
        return LOCKED_RETRY_SECONDS if due else 0.0

    async def _isolation_turn(self, conn: psycopg.AsyncConnection[Any]) -> float:
        """A batch failed for one of its rows: retry them one at a time (the others go out), and
        set aside a row that keeps failing alone. Normal claims wait until this is done."""
        if self._batches:  # one at a time, and none holding a row we are about to claim
            await asyncio.wait(self._batches, return_when=asyncio.FIRST_COMPLETED)
            return 0.0
        if self._poison:
            await self._set_aside(conn, self._poison[0])
            self._poison.pop(0)
            return 0.0
        await self.sink.ensure()
        await self._start_batch(only=next(iter(self._alone)))
        return 0.0

    async def _set_aside(self, conn: psycopg.AsyncConnection[Any], row_id: str) -> None:
        # its own statement, which does not read the due time (may be what fails)
        if await claims.mark_skipped(conn, self.kind.table, row_id, kinds.POISON):
            self.metrics.skipped.labels(self.kind.name, kinds.POISON).inc()
            self.skipped += 1
            log.error(
                "%s: row %s failed %d times on its own: marked done as %s, not published again",
                self.kind.name,
                row_id,
                POISON_AFTER,
                kinds.POISON,
                extra={"action": "poison", "kind": self.kind.name, "row_id": row_id},
            )

    def _isolate(self, ids: list[str], exc: BaseException) -> None:
        """Note the rows of a batch that failed statement-wise (rolled back, so pending)."""
        if len(ids) == 1:
            failures = self._alone.get(ids[0], 0) + 1
            log.debug("%s: row %s failed alone (%d): %s", self.kind.name, ids[0], failures, exc)
            if failures >= POISON_AFTER:
                self._alone.pop(ids[0], None)
                self._poison.append(ids[0])
            else:
                self._alone[ids[0]] = failures
        else:
            log.warning(
                "%s: a batch of %d rows failed (%s: %s); retrying them one at a time",
                self.kind.name,
                len(ids),
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                extra={"action": "batch_isolate", "kind": self.kind.name, "count": len(ids)},
            )
            for row_id in ids:
                self._alone.setdefault(row_id, 0)
        self.wake.set()  # the loop may be asleep: the rows are due now

    async def _start_batch(self, only: str | None = None) -> int:
        """Start a batch on a connection of its own; return how many rows it claimed, as soon as
        it has claimed them (it goes on publishing in the background). ``only``: claim that one
        row (if still due and free) instead of the next due rows."""
        conn = self._idle.pop() if self._idle else await self._open_connection()
        claimed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._batch(conn, claimed, only), name=f"batch-{self.kind.name}")
        self._batches.add(task)
        task.add_done_callback(self._batch_done)
        count = await asyncio.shield(claimed)
        if not count:  # an empty batch only commits: let it finish, it holds nothing
            await asyncio.wait([task])
        return count

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        if not task.cancelled() and task.exception() is not None:
            if self._failed is None:
                self._failed = task.exception()
            self.wake.set()  # its rows are pending again: the loop must not sleep past them

    def _raise_batch_failure(self) -> None:
        """Surface, in the loop, the failure of a batch that ran in the background, so backoff,
        reconnects and the one-line-per-state logging happen in one place."""
        exc, self._failed = self._failed, None
        if exc is not None:
            raise exc

    async def _batch(
        self, conn: psycopg.AsyncConnection[Any], claimed: asyncio.Future[int], only: str | None
    ) -> None:
        reusable = False
        try:
            await self._claim_and_publish(conn, claimed, only)
            reusable = True
            if self._failed is None:  # database and broker work again
                self._failures.ok("recovered")
        except Exception as exc:
            if claimed.done():
                raise  # after the claim: the loop raises it at its next turn
            claimed.set_exception(exc)  # before: the loop hears of it at once
        finally:
            if not claimed.done():
                claimed.cancel()
            if reusable and not self._stopping and len(self._idle) < self.concurrency:
                self._idle.append(conn)
            else:  # a connection whose transaction failed is not reused
                await conn.close()

    async def _claim_and_publish(
        self, conn: psycopg.AsyncConnection[Any], claimed: asyncio.Future[int], only: str | None
    ) -> None:
        """One batch in one transaction. Resolves ``claimed`` once its rows are locked."""
        table = self.kind.table
        ids: list[str] = []
        try:
            async with conn.transaction():
                if only is None:
                    rows = await claims.claim_due(conn, table, limit=self.batch_size)
                else:
                    rows = await claims.claim_one(conn, table, only)
                    if not rows:  # done or locked elsewhere, or no longer due: not ours now
                        self._alone.pop(only, None)
                ids = [row["id"] for row in rows]
                self._in_flight.update(ids)
                claimed.set_result(len(rows))
                if not rows:
                    return
                started = time.perf_counter()
                planned = self.kind.plan(rows)
                to_send = [p for p in planned if p.message is not None]
                # PostgreSQL: an INSERT in this very transaction; RabbitMQ: confirmed or not
                results = await self.sink.publish(conn, [p.message for p in to_send if p.message])
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
        except psycopg.DatabaseError as exc:
            if not ids or not _row_failure(exc):
                raise
            self._isolate(ids, exc)  # rolled back, the connection is fine: retried row by row
            return
        finally:
            self._in_flight.difference_update(ids)
        for row_id in ids:
            self._alone.pop(row_id, None)
        self._record(planned, confirmed, failed, lateness, time.perf_counter() - started)
        if failed:
            raise errors.BrokerUnavailable(f"{failed} of {len(to_send)} messages not confirmed")

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
            if p.skip_reason in kinds.ANOMALIES:
                log.warning(
                    "%s: row %s done without publishing: %s",
                    name,
                    p.row_id,
                    p.skip_reason,
                    extra={"action": "skip_anomaly", "kind": name, "row_id": p.row_id},
                )
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

    async def _back_off(self, backoff: Backoff) -> None:
        """Sleep the next backoff delay. Only a stop ends it early: a NOTIFY, or a batch failing,
        stays set on the wake event and is acted on after the backoff (by claiming at once)."""
        delay = backoff.next_delay()
        if not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=delay)
        self._claim_first = True

    async def _sleep(self, seconds: float) -> None:
        """Wait for ``seconds``, a wake-up (NOTIFY) or stop, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout=seconds)
