"""The PostgreSQL event transport: a queue table (``event_queue``) instead of a broker.

* Publishing is one INSERT in the scheduler's claiming transaction (``PgSink``): the schedule
  row is marked done exactly when its message exists, with no confirm to wait for. A
  ``pg_notify`` in the same statement wakes consumers when the transaction commits.
* A consumer (``PgSource``) leases messages: one statement picks ready rows with
  ``FOR UPDATE SKIP LOCKED`` and moves their ``available_at`` a lease ahead, then commits, so no
  transaction stays open while the consumer works. Acking deletes the row; a consumer that dies
  leaves it to come back when its lease runs out. Acks are grouped: ``ack()`` queues the row
  and returns, and one DELETE takes every ack queued since the last one as soon as the
  consumer yields to the event loop (at the latest before the next lease or on close). A crash
  in between costs a redelivery after the lease, which consumers absorb (they are idempotent on
  the message id); a consumer that acks one message at a time would otherwise pay a round trip
  per message. Each lease bumps ``attempts``, which doubles as
  the lease's token: a late ack of a lease that ran out and was taken again changes nothing.
* Retries move ``available_at`` ahead by the next of ``RETRY_DELAYS``; what keeps failing, or
  expires before it is consumed, is parked (``state = 'parked'``) with its reason, and stays
  until ``PgDeadLetters.replay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import AsyncConnection

from gamesched.events import transport
from gamesched.events.schemas import Outgoing

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "gamesched_event_queue"  # payload: the queue (namespace) that has new messages

# -- the SQL, one named statement each ---------------------------------------------------------

# Insert a batch and notify consumers, in one round trip inside the caller's transaction.
PUBLISH = """
WITH inserted AS (
    INSERT INTO event_queue (queue, message_id, routing_key, body, expires_at)
    SELECT %(queue)s, m.message_id, m.routing_key, m.body,
           now() + m.ttl_ms * interval '1 millisecond'
    FROM unnest(%(ids)s::text[], %(keys)s::text[], %(bodies)s::text[], %(ttls)s::bigint[])
         AS m(message_id, routing_key, body, ttl_ms)
    RETURNING 1
)
SELECT pg_notify(%(channel)s, %(queue)s) FROM (SELECT count(*) FROM inserted) AS n
"""

# Lease up to ``limit`` ready messages, oldest first, skipping rows another consumer is leasing.
LEASE = """
WITH picked AS (
    SELECT id FROM event_queue
    WHERE queue = %(queue)s AND state = 'ready' AND available_at <= now()
    ORDER BY available_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE event_queue AS q
SET attempts = q.attempts + 1, available_at = now() + %(lease)s * interval '1 second'
FROM picked WHERE q.id = picked.id
RETURNING q.id, q.message_id, q.routing_key, q.body, q.attempts,
          coalesce(q.expires_at <= now(), false) AS expired
"""

# Seconds until the next ready message becomes available (<= 0: now); NULL when none.
NEXT_AVAILABLE = """
SELECT extract(epoch FROM min(available_at) - clock_timestamp())::float8
FROM event_queue WHERE queue = %(queue)s AND state = 'ready'
"""

# Settle leases; ``attempts`` is each lease's token.
ACK = """
DELETE FROM event_queue AS q
USING unnest(%(ids)s::bigint[], %(attempts)s::integer[]) AS a(id, attempts)
WHERE q.id = a.id AND q.attempts = a.attempts AND q.state = 'ready'
"""

RETRY_LATER = """
UPDATE event_queue
SET available_at = now() + %(delay)s * interval '1 second', last_error = %(reason)s
WHERE id = %(id)s AND attempts = %(attempts)s AND state = 'ready'
"""

PARK = """
UPDATE event_queue SET state = 'parked', parked_at = now(), last_error = %(reason)s
WHERE id = %(id)s AND attempts = %(attempts)s AND state = 'ready'
"""

LIST_PARKED = """
SELECT id::text, message_id, routing_key, body, coalesce(last_error, ''), attempts, parked_at
FROM event_queue WHERE queue = %(queue)s AND state = 'parked' ORDER BY id LIMIT %(limit)s
"""

# Back to ready as if new: no attempts, no expiry (an operator asked for it explicitly).
REPLAY = """
WITH replayed AS (
    UPDATE event_queue
    SET state = 'ready', attempts = 0, available_at = now(), expires_at = NULL,
        parked_at = NULL, last_error = NULL
    WHERE queue = %(queue)s AND state = 'parked'
      AND (%(all)s OR id::text = ANY(%(ids)s::text[]) OR message_id = ANY(%(ids)s::text[]))
    RETURNING 1
)
SELECT count(*), pg_notify(%(channel)s, %(queue)s) FROM replayed
"""


def _body_text(body: dict[str, Any] | str) -> str:
    return body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))


def _reason(text: str) -> str:
    return text[:1000]  # a reason is for a person to read, not a place to store a payload


# -- publishing --------------------------------------------------------------------------------


class PgSink:
    """Publishes into the caller's transaction: nothing to connect, nothing to confirm."""

    in_transaction = True

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.published = 0

    def __repr__(self) -> str:
        return f"<PgSink queue={self.queue} published={self.published}>"

    @property
    def connected(self) -> bool:
        return True

    async def connect(self) -> None:
        return None

    async def publish(self, conn: AsyncConnection[Any], messages: Sequence[Outgoing]) -> list[bool]:
        if not messages:
            return []
        await conn.execute(
            PUBLISH,
            {
                "queue": self.queue,
                "channel": NOTIFY_CHANNEL,
                "ids": [m.message_id for m in messages],
                "keys": [m.routing_key for m in messages],
                "bodies": [_body_text(m.body) for m in messages],
                "ttls": [m.expiration_ms for m in messages],
            },
        )
        self.published += len(messages)
        return [True] * len(messages)

    async def reset(self) -> None:
        return None

    async def close(self) -> None:
        return None


# -- consuming ---------------------------------------------------------------------------------


@dataclass(eq=False)
class PgDelivery:
    message_id: str
    routing_key: str
    body: bytes
    attempt: int
    row_id: int
    source: PgSource = field(repr=False)
    settled: bool = field(default=False, repr=False)

    async def ack(self) -> None:
        self.source._ack(self)

    async def retry(self, reason: str) -> None:
        delay = transport.retry_delay(self.attempt, self.source.retry_delays)
        if delay is None:
            await self.park(f"{transport.RETRIES_EXHAUSTED}: {reason}")
        else:
            await self.source._settle(
                self, RETRY_LATER, {"delay": delay, "reason": _reason(reason)}
            )

    async def park(self, reason: str) -> None:
        await self.source._settle(self, PARK, {"reason": _reason(reason)})
        log.warning(
            "parked message %s (%s): %s",
            self.message_id,
            self.routing_key,
            reason,
            extra={"action": "parked", "message_id": self.message_id},
        )


class PgSource:
    """The deliveries of one queue (namespace), at most ``prefetch`` unsettled at a time.

    Woken by NOTIFY when messages are published or replayed, and otherwise when the next
    retry or lost lease becomes available (at least every ``max_wait`` seconds)."""

    def __init__(
        self,
        url: str,
        queue: str,
        *,
        prefetch: int = 32,
        lease_seconds: float = 60.0,
        max_wait: float = 30.0,
        retry_delays: Sequence[float] = transport.RETRY_DELAYS,
    ) -> None:
        self.url = url
        self.queue = queue
        self.prefetch = prefetch
        self.lease_seconds = lease_seconds
        self.max_wait = max_wait
        self.retry_delays = tuple(retry_delays)
        self.delivered = 0
        self._conn: AsyncConnection[Any] | None = None
        self._listen: AsyncConnection[Any] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unsettled = 0
        self._closing = False
        self._acks: list[tuple[int, int]] = []  # (row id, lease token) queued by ack()
        self._acking: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"<PgSource queue={self.queue} connected={self.connected} "
            f"delivered={self.delivered} unsettled={self._unsettled}>"
        )

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    async def connect(self) -> None:
        await self._close_connections()
        self._closing = False
        self._unsettled = 0
        name = f"gamesched-consumer-{self.queue}"[:63]
        self._conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=5, application_name=name
        )
        self._listen = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=5, application_name=name
        )
        await self._listen.execute(f'LISTEN "{NOTIFY_CHANNEL}"')
        self._listener = asyncio.create_task(self._hear(self._listen), name="pgqueue-listen")
        self._wake.set()  # look at once: messages may have arrived while we were away

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._flush_acks()
        await self._close_connections()

    async def deliveries(self) -> AsyncIterator[transport.Delivery]:
        conn = self._conn
        if conn is None:
            raise RuntimeError("PgSource.deliveries() before connect()")
        while not self._closing:
            if self._listener is not None and self._listener.done():
                self._listener.result()  # the LISTEN connection died: raise its error
                raise psycopg.OperationalError("LISTEN connection closed")
            free = self.prefetch - self._unsettled
            rows: list[Any] = []
            if free > 0:
                self._wake.clear()
                await self._flush_acks()
                cur = await conn.execute(
                    LEASE, {"queue": self.queue, "limit": free, "lease": self.lease_seconds}
                )
                rows = sorted(await cur.fetchall())
            for row_id, message_id, routing_key, body, attempts, expired in rows:
                delivery = PgDelivery(
                    message_id, routing_key, body.encode(), attempts, row_id, self
                )
                self._unsettled += 1
                if expired:
                    await delivery.park(transport.EXPIRED)
                    continue
                self.delivered += 1
                yield delivery
            if rows or self._closing:
                continue
            await self._wait(conn, full=free <= 0)

    async def _wait(self, conn: AsyncConnection[Any], *, full: bool) -> None:
        timeout = self.max_wait
        if not full:  # with free slots, also wake for the next retry or lost lease
            cur = await conn.execute(NEXT_AVAILABLE, {"queue": self.queue})
            row = await cur.fetchone()
            if row is not None and row[0] is not None:
                timeout = min(timeout, max(float(row[0]), 0.0))
        if timeout > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _ack(self, delivery: PgDelivery) -> None:
        if delivery.settled:
            raise RuntimeError(f"delivery {delivery.message_id} settled twice")
        if self._conn is None:
            raise psycopg.OperationalError("consumer connection closed")
        self._acks.append((delivery.row_id, delivery.attempt))
        delivery.settled = True
        self._unsettled -= 1
        if self._acking is None or self._acking.done():
            self._acking = asyncio.create_task(self._flush_acks(), name="pgqueue-ack")
        self._wake.set()  # a slot is free

    async def _flush_acks(self) -> None:
        """Delete every queued ack in one statement. On a lost connection they are dropped: the
        messages come back when their leases run out, and the iterator raises the error."""
        while self._acks and self._conn is not None:
            acks, self._acks = self._acks, []
            try:
                await self._conn.execute(
                    ACK, {"ids": [a[0] for a in acks], "attempts": [a[1] for a in acks]}
                )
            except psycopg.Error as exc:
                log.warning(
                    "could not ack %d messages (they come back after their lease): %s",
                    len(acks),
                    exc,
                    extra={"action": "ack_failed"},
                )
                return

    async def _settle(self, delivery: PgDelivery, sql: str, params: dict[str, Any]) -> None:
        if delivery.settled:
            raise RuntimeError(f"delivery {delivery.message_id} settled twice")
        conn = self._conn
        if conn is None:
            raise psycopg.OperationalError("consumer connection closed")
        await conn.execute(sql, {"id": delivery.row_id, "attempts": delivery.attempt, **params})
        delivery.settled = True
        self._unsettled -= 1
        self._wake.set()  # a slot is free

    async def _hear(self, conn: AsyncConnection[Any]) -> None:
        try:
            async for notify in conn.notifies():
                if notify.payload == self.queue:
                    self._wake.set()
        finally:
            self._wake.set()  # gone: let ``deliveries`` notice at once

    async def _close_connections(self) -> None:
        acking, self._acking = self._acking, None
        if acking is not None and not acking.done():
            acking.cancel()
            with contextlib.suppress(BaseException):
                await acking
        self._acks.clear()  # not sent: their messages come back when their leases run out
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(BaseException):
                await listener
        for conn in (self._conn, self._listen):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._conn = self._listen = None


# -- the dead-letter queue ---------------------------------------------------------------------


class PgDeadLetters:
    def __init__(self, url: str, queue: str) -> None:
        self.url = url
        self.queue = queue

    async def list(self, *, limit: int = 100) -> list[transport.Parked]:
        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=5
        ) as conn:
            cur = await conn.execute(LIST_PARKED, {"queue": self.queue, "limit": limit})
            return [
                transport.Parked(row_id, message_id, key, body.encode(), reason, attempts, at)
                for row_id, message_id, key, body, reason, attempts, at in await cur.fetchall()
            ]

    async def replay(self, ids: Sequence[str] | None = None) -> int:
        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=5
        ) as conn:
            cur = await conn.execute(
                REPLAY,
                {
                    "queue": self.queue,
                    "channel": NOTIFY_CHANNEL,
                    "all": ids is None,
                    "ids": list(ids or []),
                },
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0
