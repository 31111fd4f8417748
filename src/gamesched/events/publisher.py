"""Publishing with publisher confirms: many messages in flight at once, one answer per message.

A message counts as published only when the broker acks it. Messages are persistent and
``mandatory``: a message no queue would take comes back (basic.return) and counts as failed, not
as silently dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
from pamqp import commands as spec

from gamesched import errors
from gamesched.events import _batch, topology
from gamesched.events.schemas import Outgoing
from gamesched.settings import mask_url

log = logging.getLogger(__name__)

PERSISTENT = 2


class ConnectionLost(errors.BrokerUnavailable):
    """The connection failed during a batch. ``results`` still says, per message, which ones the
    broker confirmed before it went (True) and which it may not have taken (False)."""

    def __init__(self, message: str, results: list[bool]) -> None:
        super().__init__(message)
        self.results = results


def _properties(message: Outgoing, now: datetime) -> spec.Basic.Properties:
    expiration = None
    if message.expiration_ms is not None:
        expiration = str(max(0, message.expiration_ms))
    return spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        message_type=message.routing_key,
        timestamp=now,
        expiration=expiration,
    )


# One encoder for all: json.dumps with non-default arguments builds a new one per call
_JSON = json.JSONEncoder(separators=(",", ":"), default=str)


def encode(body: dict[str, Any] | str) -> bytes:
    """JSON bytes of a body; a ``str`` body is JSON text already (built by the database)."""
    return body.encode() if isinstance(body, str) else _JSON.encode(body).encode()


def _connect_failure(exc: BaseException) -> str:
    """The reason a connection attempt failed, in words (never a frame object's repr)."""
    if isinstance(exc, aio_pika.exceptions.ProbableAuthenticationError):
        return "authentication failed (check the user and password)"
    if isinstance(exc, aio_pika.exceptions.AMQPError) and "Connection.Close" in str(exc):
        # The broker closed the handshake instead of opening the connection: RabbitMQ does
        # that for a virtual host that does not exist or that the user may not use.
        return "vhost not found or access refused"
    return errors.first_line(exc)


class Publisher:
    """One connection and one confirming channel to RabbitMQ, topology declared on connect."""

    def __init__(self, url: str, names: topology.Names, *, confirm_timeout: float = 30.0):
        self.url = url
        self.names = names
        self.confirm_timeout = confirm_timeout
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._raw: Any = None  # the aiormq channel: the fast path for publishing
        # One write per batch when aiormq's internals are as expected, else per-message publishes
        self._batch: _batch.BatchPublisher | None = None
        self.published = 0
        self.failed = 0

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return (
            f"<Publisher {mask_url(self.url)} exchange={self.names.exchange} {state} "
            f"published={self.published} failed={self.failed}>"
        )

    @property
    def connected(self) -> bool:
        conn, raw = self._connection, self._raw
        return (
            conn is not None
            and not conn.is_closed
            and raw is not None
            and not raw.is_closed
            and not raw.connection.is_closed
        )

    async def connect(self, connect_timeout: float = 10.0) -> None:
        try:
            connection = await aio_pika.connect(self.url, timeout=connect_timeout)
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            raise errors.BrokerUnavailable(
                f"cannot connect to RabbitMQ at {mask_url(self.url)}: {_connect_failure(exc)}"
            ) from exc
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await topology.declare(channel, self.names)
            self._raw = await channel.get_underlay_channel()
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        if _batch.supports(self._raw):
            self._batch = _batch.BatchPublisher(self._raw, self.names.exchange)
        else:
            self._batch = None
            log.warning(
                "aiormq channel internals not as expected: publishing one message at a time",
                extra={"action": "publisher_fallback"},
            )

    async def close(self) -> None:
        conn, self._connection, self._raw = self._connection, None, None
        self._batch = None
        if conn is not None and not conn.is_closed:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # closing a dead connection: nothing more to do
                log.debug("error closing broker connection", exc_info=True)

    async def _publish_one(self, message: Outgoing, now: datetime) -> bool:
        result = await self._raw.basic_publish(
            encode(message.body),
            exchange=self.names.exchange,
            routing_key=message.routing_key,
            properties=_properties(message, now),
            mandatory=True,
            wait=False,
        )
        return isinstance(result, spec.Basic.Ack)

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[bool]:
        """Publish all, concurrently; True for each message the broker confirmed.

        Raises BrokerUnavailable if not connected, ConnectionLost (a BrokerUnavailable, with the
        answers so far) if the connection fails under us; an answer of
        False (nack, returned as unroutable, timed out) leaves the caller to retry that message.
        """
        if not self.connected:
            raise errors.BrokerUnavailable("not connected to RabbitMQ")
        now = datetime.now(UTC)
        if self._batch is not None:
            results, connection_error = await self._publish_batch(self._batch, messages, now)
        else:
            results, connection_error = await self._publish_each(messages, now)
        ok = sum(results)
        self.published += ok
        self.failed += len(results) - ok
        if connection_error is not None and not self.connected:
            raise ConnectionLost(f"RabbitMQ connection lost: {connection_error}", results)
        return results

    async def _publish_batch(
        self, batch: _batch.BatchPublisher, messages: Sequence[Outgoing], now: datetime
    ) -> tuple[list[bool], BaseException | None]:
        timestamp = _batch.timestamp_bytes(now)
        results: list[bool] = [False] * len(messages)
        encoded: list[_batch.Encoded] = []
        positions: list[int] = []
        for i, m in enumerate(messages):
            try:
                item = batch.encode(
                    m.routing_key, encode(m.body), m.message_id, m.expiration_ms, timestamp
                )
            except ValueError:  # e.g. a routing key over 255 bytes: that message fails alone
                log.exception("cannot encode message %s", m.message_id)
                continue
            encoded.append(item)
            positions.append(i)
        try:
            sent, failure = await batch.publish(encoded, self.confirm_timeout)
        except Exception as exc:  # channel closed before the write: nothing was published
            return results, exc
        for i, ok in zip(positions, sent, strict=True):
            results[i] = ok
        return results, failure

    async def _publish_each(
        self, messages: Sequence[Outgoing], now: datetime
    ) -> tuple[list[bool], BaseException | None]:
        tasks = [asyncio.ensure_future(self._publish_one(m, now)) for m in messages]
        _, pending = await asyncio.wait(tasks, timeout=self.confirm_timeout)
        for task in pending:
            task.cancel()
        results: list[bool] = []
        connection_error: BaseException | None = None
        for task in tasks:
            if task in pending or task.cancelled():
                results.append(False)
                continue
            exc = task.exception()
            if exc is None:
                results.append(task.result())
            else:
                results.append(False)
                if not isinstance(exc, aio_pika.exceptions.PublishError):
                    connection_error = exc
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return results, connection_error
