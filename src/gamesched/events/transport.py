"""The event transport seam: how events travel from the scheduler to their consumer (the bot).

Two transports implement it, chosen by ``GAMESCHED_TRANSPORT``:

* RabbitMQ (``events.rabbitmq``): publisher confirms, a quorum queue per consumer, retry queues
  with growing delays, a dead-letter queue; for scale-out.
* PostgreSQL (``events.pgqueue``): a queue table in the same database; "publishing" is an INSERT
  in the transaction that marks the schedule rows done, so a row is done exactly when its message
  exists; for installs without a broker.

The scheduler sees only a ``Sink``, a consumer only a ``Source`` and its ``Delivery`` objects, an
operator's command only ``DeadLetters``. Both transports carry the same messages (routing key,
``message_id``, JSON body), retry on the same schedule (``RETRY_DELAYS``) and park what keeps
failing, with its reason, instead of dropping it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from psycopg import AsyncConnection

from gamesched.events.schemas import Outgoing

# Seconds before the 1st, 2nd, ... retry of a delivery that failed for a transient reason; after
# the last one it is parked. About 40 minutes in all: long enough to ride out a Discord or
# database outage, short enough that a reminder is not delivered hours late.
RETRY_DELAYS: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 1800.0)

# Reasons a transport itself parks a message for (a consumer may give any other reason).
EXPIRED = "expired"  # its expiration passed before it was consumed
RETRIES_EXHAUSTED = "retries exhausted"


class Sink(Protocol):
    """Where the scheduler publishes a batch of due rows' messages."""

    #: True if ``publish`` writes into the caller's transaction (``conn``): then the messages
    #: exist exactly when that transaction commits, and there is no confirm to wait for.
    in_transaction: bool

    @property
    def connected(self) -> bool:
        """Ready to publish (always True for a sink that writes into the caller's connection)."""
        ...

    async def connect(self) -> None:
        """Connect (and declare what must exist); raise ``errors.BrokerUnavailable`` if not."""
        ...

    async def publish(self, conn: AsyncConnection[Any], messages: Sequence[Outgoing]) -> list[bool]:
        """Publish ``messages``; True for each one durably accepted. ``conn`` is the claiming
        transaction's connection. Raise ``errors.BrokerUnavailable`` if the transport is gone
        (nothing of the batch may then be marked done)."""
        ...

    async def reset(self) -> None:
        """Drop the connection after a failure; the next ``connect`` starts afresh."""
        ...

    async def close(self) -> None: ...


class Delivery(Protocol):
    """One message handed to a consumer. Settle it exactly once: ``ack`` after its outcome is
    committed, ``retry`` for a transient failure, ``park`` for one that retrying cannot fix.
    A delivery left unsettled (the consumer died) is delivered again later."""

    message_id: str
    routing_key: str
    body: bytes
    attempt: int  # 1 on the first delivery, 2 on the first retry, ...

    async def ack(self) -> None:
        """Done with it. Like AMQP's basic.ack, it is not confirmed: a crash just after may
        still deliver it once more, which consumers absorb by the message id."""
        ...

    async def retry(self, reason: str) -> None:
        """Deliver again after the next of ``RETRY_DELAYS``; park it when they are used up."""
        ...

    async def park(self, reason: str) -> None:
        """Move it to the dead-letter queue with ``reason``; never delivered again by itself."""
        ...


class Source(Protocol):
    """The deliveries of one consumer queue, at most ``prefetch`` unsettled at a time."""

    async def connect(self) -> None: ...

    def deliveries(self) -> AsyncIterator[Delivery]:
        """Deliveries until ``close()``; raises on a lost connection (reconnect and iterate
        again: unsettled deliveries come back)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Parked:
    """A message in the dead-letter queue."""

    id: str  # the transport's handle for ``replay`` (the message id on RabbitMQ)
    message_id: str
    routing_key: str
    body: bytes
    reason: str
    attempts: int
    parked_at: datetime | None


class DeadLetters(Protocol):
    """The parked messages of one namespace, for ``gamesched dlq``."""

    async def list(self, *, limit: int = 100) -> list[Parked]: ...

    async def replay(self, ids: Sequence[str] | None = None) -> int:
        """Send parked messages (those named, or all for None) back to their consumer queue as
        if new; return how many."""
        ...


def retry_delay(attempt: int, delays: Sequence[float] = RETRY_DELAYS) -> float | None:
    """Seconds to wait before delivering again a message whose delivery number ``attempt``
    failed; None when it has had all its retries and must be parked."""
    if attempt < 1 or attempt > len(delays):
        return None
    return delays[attempt - 1]
