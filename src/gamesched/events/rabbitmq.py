"""The RabbitMQ event transport (see ``events.transport`` for the seam, ``events.topology`` for
the queues).

* ``RabbitSink`` is the existing ``Publisher`` (confirms, persistent, mandatory) behind ``Sink``.
* ``RabbitSource`` consumes ``<exchange>.bot``. Retrying or parking a delivery publishes a copy
  (to ``<exchange>.retry.<attempt>``, or to ``<exchange>.dlq``) on a confirming channel and acks
  the original only once the broker has confirmed the copy: if anything fails in between, the
  original stays unacked and comes back, so a message may be delivered twice but is never lost.
* ``RabbitDeadLetters`` reads ``<exchange>.dlq`` with basic.get and no ack (and gives back what
  it does not replay) and replays by re-publishing to ``<exchange>``.

What travels with a copy, besides the body and properties:

* the routing key, in the ``type`` property (the publisher sets it there; a copy's own routing
  key is a queue name);
* the delivery number (``gamesched-attempt``; absent means 1), the last retry's reason, and the
  message's absolute deadline (``gamesched-deadline-ms``, epoch ms): RabbitMQ drops a message's
  ``expiration`` when it dead-letters it, so after a retry this source enforces the deadline,
  parking the message as ``expired`` instead of delivering it late.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from psycopg import AsyncConnection

from gamesched import errors
from gamesched.events import topology, transport
from gamesched.events.publisher import Publisher
from gamesched.events.schemas import Outgoing
from gamesched.events.transport import EXPIRED, RETRIES_EXHAUSTED, RETRY_DELAYS, Parked
from gamesched.settings import mask_url

log = logging.getLogger(__name__)

ATTEMPT = "gamesched-attempt"
DEADLINE = "gamesched-deadline-ms"
REASON = "gamesched-reason"  # why it was parked (only parked copies have it)
LAST_ERROR = "gamesched-last-error"  # why it was last retried
ROUTING_KEY = "gamesched-routing-key"  # on parked copies, next to ``type``
PARKED_AT = "gamesched-parked-at"

# What fails when the broker or the connection does (ChannelInvalidStateError: channel closed).
_BROKER_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    OSError,
    TimeoutError,
)


class RabbitSink:
    """``Sink`` over the existing ``Publisher``; ``conn`` is not used (nothing transactional)."""

    in_transaction = False

    def __init__(self, url: str, names: topology.Names, *, confirm_timeout: float = 30.0):
        self.publisher = Publisher(url, names, confirm_timeout=confirm_timeout)

    def __repr__(self) -> str:
        return f"<RabbitSink {self.publisher!r}>"

    @property
    def connected(self) -> bool:
        return self.publisher.connected

    async def connect(self) -> None:
        await self.publisher.connect()

    async def publish(self, conn: AsyncConnection[Any], messages: Sequence[Outgoing]) -> list[bool]:
        return await self.publisher.publish_many(messages)

    async def reset(self) -> None:
        await self.publisher.close()

    async def close(self) -> None:
        await self.publisher.close()


async def _connect(url: str, timeout: float = 10.0) -> AbstractConnection:
    """A plain (not robust) connection: reconnecting is the caller's loop."""
    try:
        return await aio_pika.connect(url, timeout=timeout)
    except _BROKER_ERRORS as exc:
        raise errors.BrokerUnavailable(
            f"cannot connect to RabbitMQ at {mask_url(url)}: {exc or type(exc).__name__}"
        ) from exc


def _int(value: object) -> int | None:
    """A header's integer value; None for a missing or malformed one (headers are input)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str | bytes):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _deadline_ms(message: AbstractIncomingMessage) -> int | None:
    """When the message expires: carried in a header after a retry, else its AMQP timestamp
    (whole seconds, so up to a second early) plus its expiration."""
    carried = _int((message.headers or {}).get(DEADLINE))
    if carried is not None:
        return carried
    expiration, published = message.expiration, message.timestamp  # seconds, datetime
    if not isinstance(expiration, int | float) or published is None:
        return None
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return int((published.timestamp() + expiration) * 1000)


def _copy(
    message: AbstractIncomingMessage,
    routing_key: str,
    headers: Mapping[str, Any],
    expiration_ms: int | None = None,
) -> aio_pika.Message:
    """The message again, with only our ``headers`` (no x-death history) and no expiration
    unless given: a parked message must not expire from the dead-letter queue."""
    return aio_pika.Message(
        message.body,
        headers=dict(headers),
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id or uuid.uuid4().hex,  # one an operator can name
        type=routing_key,
        timestamp=message.timestamp,
        expiration=None if expiration_ms is None else expiration_ms / 1000,
    )


class RabbitDelivery:
    """One message from ``<exchange>.bot``; see ``transport.Delivery``."""

    def __init__(self, source: RabbitSource, message: AbstractIncomingMessage) -> None:
        self._source = source
        self._message = message
        self._settled = False
        headers = message.headers or {}
        self.message_id = message.message_id or ""
        if message.exchange == source.names.exchange:
            self.routing_key = message.routing_key or ""
        else:  # came back from a retry queue, or was put straight into the queue
            self.routing_key = message.type or ""  # none: the consumer parks it as malformed
        self.body = message.body
        self.attempt = max(1, _int(headers.get(ATTEMPT)) or 1)
        self.deadline_ms = _deadline_ms(message)
        self.carries_deadline = DEADLINE in headers

    def __repr__(self) -> str:
        return f"<RabbitDelivery {self.message_id} {self.routing_key} attempt={self.attempt}>"

    async def ack(self) -> None:
        self._unsettled()
        try:
            await self._message.ack()
        except _BROKER_ERRORS as exc:
            raise errors.BrokerUnavailable(f"cannot ack {self.message_id}: {exc}") from exc
        self._settled = True

    async def retry(self, reason: str) -> None:
        self._unsettled()
        delay = transport.retry_delay(self.attempt, self._source.retry_delays)
        if delay is None:
            await self.park(f"{RETRIES_EXHAUSTED}: {reason}")
            return
        headers: dict[str, Any] = {ATTEMPT: self.attempt + 1, LAST_ERROR: reason[:1000]}
        remaining = None
        if self.deadline_ms is not None:
            remaining = self.deadline_ms - _now_ms()
            if remaining <= 0:
                await self.park(EXPIRED)
                return
            headers[DEADLINE] = self.deadline_ms
        # With ``remaining`` shorter than the delay, it leaves the retry queue at its deadline
        # and is parked as expired on arrival, not after the whole delay.
        copy = _copy(self._message, self.routing_key, headers, remaining)
        await self._source.send(copy, self._source.names.retry_queue(self.attempt), self)
        await self.ack()

    async def park(self, reason: str) -> None:
        self._unsettled()
        headers = {
            REASON: reason[:1000],
            ROUTING_KEY: self.routing_key,
            ATTEMPT: self.attempt,
            PARKED_AT: datetime.now(UTC),
        }
        copy = _copy(self._message, self.routing_key, headers)
        await self._source.send(copy, self._source.names.dead_letter_queue, self)
        await self.ack()
        log.warning(
            "parked message %s (%s): %s",
            self.message_id,
            self.routing_key,
            reason,
            extra={"action": "parked", "message_id": self.message_id},
        )

    def _unsettled(self) -> None:
        if self._settled:
            raise RuntimeError(f"delivery {self.message_id} settled twice")


class RabbitSource:
    """``Source`` over ``<exchange>.bot``: at most ``prefetch`` unsettled deliveries."""

    def __init__(
        self,
        url: str,
        names: topology.Names,
        *,
        prefetch: int = 32,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        confirm_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.names = names
        self.prefetch = prefetch
        self.retry_delays = tuple(retry_delays)
        self.confirm_timeout = confirm_timeout
        self.delivered = 0
        self._connection: AbstractConnection | None = None
        self._publish: AbstractChannel | None = None  # confirming: for retry and park copies
        self._consume: AbstractChannel | None = None
        self._closing = False

    def __repr__(self) -> str:
        return (
            f"<RabbitSource {mask_url(self.url)} queue={self.names.bot_queue} "
            f"delivered={self.delivered}>"
        )

    @property
    def connected(self) -> bool:
        channels = (self._connection, self._publish, self._consume)
        return all(c is not None and not c.is_closed for c in channels)

    async def connect(self) -> None:
        await self.close()
        self._closing = False
        connection = await _connect(self.url)
        try:
            publish = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await topology.declare(publish, self.names)
            await topology.declare_retry_queues(publish, self.names, self.retry_delays)
            consume = await connection.channel(publisher_confirms=False)
            await consume.set_qos(prefetch_count=self.prefetch)
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, _BROKER_ERRORS):
                raise errors.BrokerUnavailable(f"cannot set up RabbitMQ: {exc}") from exc
            raise
        self._connection, self._publish, self._consume = connection, publish, consume

    async def deliveries(self) -> AsyncIterator[RabbitDelivery]:
        channel = self._consume
        if channel is None:
            raise RuntimeError("RabbitSource.deliveries() before connect()")
        queue = await channel.get_queue(self.names.bot_queue, ensure=False)
        async with queue.iterator() as messages:
            async for message in messages:
                if channel.is_closed:  # buffered before the loss: it cannot be settled now
                    break
                delivery = RabbitDelivery(self, message)
                if not delivery.message_id:
                    await delivery.park("no message_id")
                    continue
                # RabbitMQ enforces an expiration until the first retry; after it, we do.
                deadline = delivery.deadline_ms
                if delivery.carries_deadline and deadline is not None and deadline <= _now_ms():
                    await delivery.park(EXPIRED)
                    continue
                self.delivered += 1
                yield delivery
        if not self._closing:
            raise errors.BrokerUnavailable("RabbitMQ connection lost while consuming")

    async def send(self, copy: aio_pika.Message, queue: str, of: RabbitDelivery) -> None:
        """Publish ``copy`` straight into ``queue`` and wait for its confirm; raise
        ``BrokerUnavailable`` if it is not confirmed (``of`` then stays unacked)."""
        channel = self._publish
        try:
            if channel is None:
                raise aio_pika.exceptions.ChannelInvalidStateError("not connected")
            await channel.default_exchange.publish(
                copy, routing_key=queue, mandatory=True, timeout=self.confirm_timeout
            )
        except _BROKER_ERRORS as exc:
            raise errors.BrokerUnavailable(
                f"could not move {of.message_id} to {queue}: {exc or type(exc).__name__}"
            ) from exc

    async def close(self) -> None:
        self._closing = True
        connection, self._connection = self._connection, None
        self._publish = self._consume = None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # closing a dead connection: nothing more to do
                log.debug("error closing consumer connection", exc_info=True)


def _death(headers: Mapping[str, Any], queue: str) -> Mapping[str, Any] | None:
    """The x-death entry RabbitMQ added when it dead-lettered the message from ``queue``."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list):
        for death in deaths:
            if isinstance(death, Mapping) and death.get("queue") == queue:
                return death
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


def _parked(message: AbstractIncomingMessage, names: topology.Names) -> Parked:
    """A dead-letter queue message as ``Parked``, whether a delivery parked it (our headers) or
    RabbitMQ dead-lettered it from the bot queue (x-death: expired, rejected, ...)."""
    headers = message.headers or {}
    attempt = _int(headers.get(ATTEMPT)) or 1
    if REASON in headers:
        reason = _text(headers[REASON]) or "unknown"
        routing_key = _text(headers.get(ROUTING_KEY)) or message.type or ""
        attempts, parked_at = attempt, headers.get(PARKED_AT)
    else:
        death = _death(headers, names.bot_queue) or {}
        reason = (
            _text(death.get("reason")) or _text(headers.get("x-first-death-reason")) or "unknown"
        )
        keys = death.get("routing-keys")
        first_key = _text(keys[0]) if isinstance(keys, list) and keys else None
        routing_key = message.type or first_key or ""
        # rejected: its delivery ``attempt`` happened; expired: it never came
        attempts = attempt if reason in ("rejected", "delivery_limit") else attempt - 1
        parked_at = death.get("time")
    return Parked(
        id=message.message_id or "",
        message_id=message.message_id or "",
        routing_key=routing_key,
        body=message.body,
        reason=reason,
        attempts=max(attempts, 0),
        parked_at=parked_at if isinstance(parked_at, datetime) else None,
    )


class RabbitDeadLetters:
    """``DeadLetters`` over ``<exchange>.dlq``, read with basic.get and no ack. What is read and
    not replayed is given back explicitly (a nack with requeue) before the channel closes: that
    puts it back in the queue before the next reader's basic.get, where leaving it to the
    channel's close would race with it."""

    def __init__(self, url: str, names: topology.Names, *, confirm_timeout: float = 30.0):
        self.url = url
        self.names = names
        self.confirm_timeout = confirm_timeout

    async def list(self, *, limit: int = 100) -> list[Parked]:
        parked: list[Parked] = []
        try:
            async with await _connect(self.url) as connection:
                channel = await connection.channel(publisher_confirms=False)
                async with _Borrowed(channel, self.names.dead_letter_queue) as dlq:
                    while len(parked) < limit and (message := await dlq.get()) is not None:
                        parked.append(_parked(message, self.names))
        except _BROKER_ERRORS as exc:
            raise errors.BrokerUnavailable(f"cannot list the dead-letter queue: {exc}") from exc
        return parked

    async def replay(self, ids: Sequence[str] | None = None) -> int:
        """Re-publish to ``<exchange>`` (each message id at most once per call, so a message
        parked again while we replay is not sent round again); return how many."""
        wanted = None if ids is None else set(ids)
        replayed: set[str] = set()
        count = 0
        try:
            async with await _connect(self.url) as connection:
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                exchange = await channel.get_exchange(self.names.exchange, ensure=False)
                async with _Borrowed(channel, self.names.dead_letter_queue) as dlq:
                    while (message := await dlq.get()) is not None:
                        message_id = message.message_id or ""
                        if message_id in replayed or (
                            wanted is not None and message_id not in wanted
                        ):
                            continue  # given back at the end
                        if await self._publish(exchange, message):
                            await dlq.ack(message)
                            replayed.add(message_id)
                            count += 1
        except _BROKER_ERRORS as exc:
            raise errors.BrokerUnavailable(f"replay stopped after {count}: {exc}") from exc
        return count

    async def _publish(self, exchange: AbstractExchange, message: AbstractIncomingMessage) -> bool:
        """Publish it again as new (attempt 1, no expiration); False if no queue takes it."""
        parked = _parked(message, self.names)
        try:
            await exchange.publish(
                _copy(message, parked.routing_key, {}),
                parked.routing_key,
                mandatory=True,
                timeout=self.confirm_timeout,
            )
        except aio_pika.exceptions.PublishError:  # returned: no queue is bound to its key
            log.warning(
                "not replayed %s: no queue takes routing key %r",
                parked.message_id,
                parked.routing_key,
                extra={"action": "replay_unroutable", "message_id": parked.message_id},
            )
            return False
        return True


class _Borrowed:
    """Messages taken from a queue without ack; those not acked go back on exit."""

    def __init__(self, channel: AbstractChannel, queue: str) -> None:
        self._channel = channel
        self._name = queue
        self._queue: AbstractQueue | None = None
        self._held: dict[int, AbstractIncomingMessage] = {}

    async def __aenter__(self) -> _Borrowed:
        try:
            self._queue = await self._channel.declare_queue(self._name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            self._queue = None  # never declared: nothing was ever parked
        return self

    async def get(self) -> AbstractIncomingMessage | None:
        if self._queue is None:
            return None
        message = await self._queue.get(no_ack=False, fail=False)
        if message is not None and message.delivery_tag is not None:
            self._held[message.delivery_tag] = message
        return message

    async def ack(self, message: AbstractIncomingMessage) -> None:
        await message.ack()
        self._held.pop(message.delivery_tag or 0, None)

    async def __aexit__(self, *exc: object) -> None:
        if self._held and not self._channel.is_closed:
            # one nack for all of them (multiple: every unacked tag up to the last one held)
            await self._held[max(self._held)].nack(multiple=True, requeue=True)
        self._held.clear()
