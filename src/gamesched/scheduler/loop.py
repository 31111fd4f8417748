"""The generic scheduler loop, one instance per schedule kind.

A turn of the loop asks ``decide`` (pure) what to do next: back off, retry a failed batch's rows
one at a time, ask the database when the next row is due, claim due rows now, or sleep. Claiming
happens in the loop itself: it takes a slot (an ``asyncio.Semaphore`` of ``concurrency``) and a
connection from a pool, claims up to ``batch_size`` due rows (``FOR UPDATE SKIP LOCKED``, in due
order) in a transaction it leaves open, plans them (pure), and hands the open transaction to a
batch task, which publishes through the transport's sink, marks the accepted rows done in one
statement, commits and gives back the connection and the slot. On RabbitMQ "accepted" means
confirmed by the broker; on PostgreSQL the sink inserts the messages into ``event_queue`` in that
very transaction, so a row is done exactly when its message exists. While one batch waits for
the broker's confirms (a quorum queue confirms after its log is synced), the loop is already
claiming the next due rows. When nothing is due it sleeps until the earliest of: the next due
time (by the database's clock, no early buffer), a NOTIFY for its table, a batch failing, the
longest sleep, or stop.

On a failure, in the loop or in a batch, it backs off (capped; only stop() cuts it short). A
batch that fails on a statement after claiming (not a lost connection) has its rows retried one
per batch; a row that keeps failing alone is marked done as ``poison``, so one bad row costs a
few copies, not a spin (on PostgreSQL none: its copies rolled back with the batch).

Why nothing is lost or sent twice: a row is marked done only in the transaction that holds its
lock and only after its message was accepted. If the process dies before the commit, the lock
vanishes with the connection and the row is still pending: it is published again (at least once
on RabbitMQ, and consumers drop the duplicate by ``message_id``; exactly once on PostgreSQL,
whose message rolled back too). Two replicas never hold the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from psycopg import pq

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
CONNECT_TIMEOUT = 5.0


# -- what next: the loop's decisions, pure -------------------------------------------------------


class Step(enum.Enum):
    BACK_OFF = "back off"  # sleep ``seconds``; only a stop ends it early
    ISOLATE = "isolate"  # set aside a poison row, or retry one row of a failed batch alone
    ASK = "ask"  # ask the database how long until the next row is due
    CLAIM = "claim"  # claim due rows now
    SLEEP = "sleep"  # wait ``seconds`` for a NOTIFY, the due time or stop (0: go on at once)
    LOCKED = "locked"  # due rows exist but none could be claimed: count them, retry shortly


@dataclass(frozen=True, slots=True)
class Next:
    step: Step
    seconds: float = 0.0


GO_ON = Next(Step.SLEEP, 0.0)


def decide(
    *,
    backoff_left: float,
    isolating: bool,
    claim_at_once: bool,
    asked: bool,
    due_in: float | None,
    max_wait: float,
) -> Next:
    """What the loop does next.

    ``backoff_left``: seconds of a backoff still to sleep; ``isolating``: rows of a failed batch
    wait to be retried alone; ``claim_at_once``: just woken, or the last claim was full, so
    claim without asking first (the fast path of a wake-up and of a backlog); ``asked``: whether
    ``due_in`` (seconds until the next row not in flight is due, None: none) is known."""
    if backoff_left > 0:
        return Next(Step.BACK_OFF, backoff_left)
    if isolating:
        return Next(Step.ISOLATE)
    if claim_at_once:
        return Next(Step.CLAIM)
    if not asked:
        return Next(Step.ASK)
    if due_in is None:
        return Next(Step.SLEEP, max_wait)
    if due_in > 0:
        return Next(Step.SLEEP, min(due_in, max_wait))
    return Next(Step.CLAIM)


def after_claim(*, claimed: int, batch_size: int, asked: bool) -> tuple[bool, Next]:
    """After a claim of ``claimed`` rows: (claim again at once without asking?, next step).

    A full batch means more is due: claim again at once. Fewer: ask when the next row is due.
    None after a wake-up: nothing was due after all, ask. None although the database had just
    said a row was due (and it was not ours): other claimers hold it."""
    if claimed >= batch_size:
        return True, GO_ON
    if claimed or not asked:
        return False, GO_ON
    return False, Next(Step.LOCKED)


def _row_failure(exc: BaseException) -> bool:
    """A statement failed for the rows it was given (bad data, a trigger, a constraint), as
    opposed to the database being unreachable, which every row would meet alike."""
    return isinstance(exc, psycopg.DatabaseError) and not isinstance(exc, psycopg.OperationalError)


class KindLoop:
    """The scheduler for one kind. ``run()`` until ``stop()``; safe to stop at any time."""

    def __init__(
        self,
        kind: kinds.Kind[Any],
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
        self.connected = False  # the loop's own connection (next due time, counts)
        self._stopping = False
        self._stopped = asyncio.Event()  # only this ends a backoff early
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pool = psycopg_pool.AsyncConnectionPool(
            database_url,
            min_size=0,
            max_size=concurrency,
            open=False,
            timeout=CONNECT_TIMEOUT,
            kwargs=self._connect_kwargs(autocommit=False),
            name=f"scheduler-{kind.name}",
        )
        self._slots = asyncio.Semaphore(concurrency)  # batches in flight
        self._batches: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()  # ids claimed by batches not yet finished
        self._claim_at_once = False  # woken, or the last claim was full
        self._due_checked = 0.0
        self._backoff = Backoff()
        self._resume_at = 0.0  # backing off until this (clock) time
        self._fatal: BaseException | None = None  # a bug in a batch: the loop dies of it
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
        await self._pool.open(wait=False)
        try:
            while not self._stopping:
                self.heartbeat = self.clock()
                if self._fatal is not None:
                    raise self._fatal
                try:
                    nxt = await self._turn()
                except (psycopg.Error, OSError) as exc:
                    await self._trouble(exc, "db_failed")
                    await self._drop_connection()
                    continue
                except errors.BrokerUnavailable as exc:
                    await self._trouble(exc, "broker_failed")
                    continue
                if nxt.seconds > 0 and not self._stopping:
                    if nxt.step is Step.BACK_OFF:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopped.wait(), nxt.seconds)
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.wake.wait(), nxt.seconds)
                    # woken by the due time, a NOTIFY or the end of a backoff: most likely
                    # something is due now, so claim straight away instead of asking first
                    self._claim_at_once = True
        finally:
            if self._batches:  # they finish (the service bounds how long)
                await asyncio.gather(*self._batches, return_exceptions=True)
            await self._drop_connection()
            await self._pool.close()

    # -- one turn ------------------------------------------------------------------------------

    async def _turn(self) -> Next:
        nxt = self._decide(asked=False, due_in=None)
        if nxt.step is Step.BACK_OFF:  # before touching a database that may be down
            return nxt
        conn = await self._connection()
        self.wake.clear()  # a NOTIFY from here on wakes the next wait
        self.metrics.last_loop.labels(self.kind.name).set(time.time())
        asked = nxt.step is Step.ASK
        if asked:
            due_in = await claims.seconds_until_next_due(
                conn, self.kind.table, exclude=list(self._in_flight)
            )
            nxt = self._decide(asked=True, due_in=due_in)
            if due_in is None or due_in > 0:
                # nothing due but what this process's batches are finishing: the loop goes to
                # sleep, and the gauge (last counted mid-drain) says so, at no cost of a query
                self.metrics.due.labels(self.kind.name).set(0)
        if nxt.step is Step.ISOLATE:
            await self._isolation_turn(conn)
            nxt = GO_ON
        elif nxt.step is Step.CLAIM:
            # a broker known to be down: fail here, before locking rows only to release them
            await self.sink.ensure()
            claimed = await self._claim()
            self._claim_at_once, nxt = after_claim(
                claimed=claimed, batch_size=self.batch_size, asked=asked
            )
            if (
                claimed >= self.batch_size
                and self.clock() - self._due_checked >= DUE_GAUGE_INTERVAL
            ):
                # draining a backlog without asking: keep the gauge fresh (after the claim, and
                # not on a wake-up, so it never delays a batch)
                await self._count_due(conn)
            if nxt.step is Step.LOCKED:
                # due rows that other replicas (or an API transaction holding a game) have locked
                nxt = Next(Step.SLEEP, LOCKED_RETRY_SECONDS if await self._count_due(conn) else 0)
        if not self._batches:  # nothing in flight whose outcome is unknown: all is well
            self._recovered()
        return nxt

    def _decide(self, *, asked: bool, due_in: float | None) -> Next:
        return decide(
            backoff_left=self._resume_at - self.clock(),
            isolating=bool(self._poison or self._alone),
            claim_at_once=self._claim_at_once,
            asked=asked,
            due_in=due_in,
            max_wait=self.max_wait,
        )

    async def _count_due(self, conn: psycopg.AsyncConnection[Any]) -> int:
        self._due_checked = self.clock()
        due = await claims.count_due(conn, self.kind.table)
        self.metrics.due.labels(self.kind.name).set(due)
        return due

    async def _isolation_turn(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """A batch failed for one of its rows: retry them one at a time (the others go out), and
        set aside a row that keeps failing alone. Normal claims wait until this is done."""
        if self._batches:  # one at a time, and none holding a row we are about to claim
            await asyncio.wait(self._batches)
            return
        if self._poison:
            await self._set_aside(conn, self._poison[0])
            self._poison.pop(0)
            return
        await self.sink.ensure()
        await self._claim(only=next(iter(self._alone)))

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
            log.debug(
                "%s: row %s failed alone (%d): %s",
                self.kind.name,
                ids[0],
                failures,
                exc,
                extra={"action": "row_failed", "kind": self.kind.name, "row_id": ids[0]},
            )
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
                errors.first_line(exc),
                extra={"action": "batch_isolate", "kind": self.kind.name, "count": len(ids)},
            )
            for row_id in ids:
                self._alone.setdefault(row_id, 0)
        self.wake.set()  # the loop may be asleep: the rows are due now

    # -- failures ------------------------------------------------------------------------------

    async def _trouble(self, exc: BaseException, action: str) -> None:
        """The database or the broker failed (in the loop or a batch): log the change of state,
        and back off before the next claim. Rows of a failed batch are pending again."""
        self._failures.failed(exc, action)
        self._resume_at = self.clock() + self._backoff.next_delay()
        if isinstance(exc, errors.BrokerUnavailable):
            await self.sink.reset()
        elif isinstance(exc, psycopg.OperationalError):
            with contextlib.suppress(Exception):
                await self._pool.check()  # drop pooled connections that died with it

    def _recovered(self) -> None:
        self._failures.ok("recovered")
        self._backoff.reset()

    # -- a batch -------------------------------------------------------------------------------

    async def _claim(self, only: str | None = None) -> int:
        """Claim due rows (or the row ``only``) on a pooled connection and hand its open
        transaction to a batch task; return how many rows were claimed."""
        await self._slots.acquire()
        if self._stopping:  # stopped while waiting for a slot: claim nothing more
            self._slots.release()
            return 0
        try:
            conn = await self._pool.getconn()
        except BaseException:
            self._slots.release()
            raise
        table = self.kind.table
        try:
            if only is None:
                rows: Sequence[Any] = await claims.claim_due(conn, table, limit=self.batch_size)
            else:
                rows = await claims.claim_one(conn, table, only)
            planned = self.kind.plan(rows) if rows else []
        except BaseException:
            await self._give_back(conn)
            raise
        if not rows:
            if only is not None:  # done or locked elsewhere, or no longer due: not ours now
                self._alone.pop(only, None)
            await self._give_back(conn)
            return 0
        ids = [row.id for row in rows]
        self._in_flight.update(ids)
        task = asyncio.create_task(self._finish(conn, ids, planned), name=f"batch-{self.kind.name}")
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)
        return len(ids)

    async def _give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Roll back what is left open and return the connection and the slot."""
        try:
            if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
                await conn.rollback()
        except Exception:  # a broken connection: the pool drops it
            await conn.close()
        except BaseException:  # cancelled mid-rollback: its state is unknown
            await conn.close()
            raise
        finally:
            await self._pool.putconn(conn)
            self._slots.release()

    async def _finish(
        self, conn: psycopg.AsyncConnection[Any], ids: list[str], planned: list[kinds.Planned]
    ) -> None:
        """Publish, mark done and commit the claimed batch on ``conn`` (its transaction open)."""
        started = time.perf_counter()
        try:
            confirmed, failed, lateness = await self._publish_and_mark(conn, planned)
        except psycopg.DatabaseError as exc:
            if _row_failure(exc):  # rolled back, the connection is fine: retried row by row
                self._isolate(ids, exc)
            else:
                await self._trouble(exc, "db_failed")
            return
        except errors.BrokerUnavailable as exc:
            await self._trouble(exc, "broker_failed")
            return
        except Exception as exc:  # a bug: the loop dies of it, and the process exits loudly
            self._fatal = exc
            self.wake.set()
            self._stopped.set()  # also ends a backoff
            return
        finally:
            self._in_flight.difference_update(ids)
            await self._give_back(conn)
        for row_id in ids:
            self._alone.pop(row_id, None)
        self._record(planned, confirmed, failed, lateness, time.perf_counter() - started)
        if failed:
            unconfirmed = errors.BrokerUnavailable(
                f"{failed} of {len(confirmed) + failed} messages not confirmed"
            )
            await self._trouble(unconfirmed, "broker_failed")
            self.wake.set()  # its rows are pending again
        elif self._resume_at <= self.clock():  # not backing off: database and broker work
            self._recovered()

    async def _publish_and_mark(
        self, conn: psycopg.AsyncConnection[Any], planned: list[kinds.Planned]
    ) -> tuple[set[str], int, list[float]]:
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
            conn, self.kind.table, done=[(p.row_id, p.skip_reason) for p in done_ok]
        )
        await conn.commit()
        return confirmed, failed, lateness

    def _record(
        self,
        planned: list[kinds.Planned],
        confirmed: set[str],
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

    # -- the loop's own connection -------------------------------------------------------------

    def _connect_kwargs(self, *, autocommit: bool) -> dict[str, Any]:
        return {
            "autocommit": autocommit,
            "connect_timeout": CONNECT_TIMEOUT,
            "options": (
                f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
                f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS} "
                "-c timezone=UTC"
            ),
            "application_name": f"gamesched-scheduler-{self.kind.name}",
        }

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.database_url, **self._connect_kwargs(autocommit=True)
            )
            self.connected = True
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                log.debug("error closing connection", exc_info=True, extra={"action": "close"})
