"""Publish a whole batch on an aiormq channel with one write, keeping aiormq's confirm bookkeeping.

aiormq's ``Channel.basic_publish`` costs ~150 µs of CPU per message (a lock, two timeout context
managers, a coroutine, pamqp marshalling of three frames, one queue put and socket write each).
Here a batch takes the channel lock once, numbers its messages with consecutive delivery tags,
registers one confirmation future per tag in ``channel.confirmations`` and the message id in
``channel.message_id_delivery_tag`` exactly as ``basic_publish`` does, and puts all frames on the
connection's write queue as one ``ChannelFrame``. aiormq's channel reader then resolves the
futures as before: acks (``multiple`` too), nacks, basic.return of unroutable messages, and
rejection of every pending future when the channel or connection closes.

This touches aiormq internals, so ``supports()`` checks them at connect time and the publisher
falls back to ``basic_publish`` when they are missing; pyproject pins the aiormq range tested.

Frames are encoded here rather than by pamqp: the method frame is built once per routing key and
the constant properties once per publisher; ``tests/events/test_batch.py`` checks the bytes
against pamqp's own encoding.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pamqp.frame
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError, DeliveryError
from pamqp import commands as spec

FRAME_END = b"\xce"
FRAME_HEADER = struct.Struct(">BHI")  # type, channel, payload size
CONTENT_HEADER = struct.Struct(">HHQH")  # class id, weight, body size, property flags
TIMESTAMP = struct.Struct(">Q")
FRAME_HEADER_TYPE = 2
FRAME_BODY_TYPE = 3
BASIC_CLASS_ID = 60

_F = spec.Basic.Properties.flags
FLAGS = _F["content_type"] | _F["delivery_mode"] | _F["message_id"] | _F["timestamp"]
FLAGS |= _F["message_type"]
FLAG_EXPIRATION = _F["expiration"]

CONTENT_TYPE = "application/json"
PERSISTENT = 2

_CHANNEL_ATTRIBUTES = (
    "confirmations",
    "message_id_delivery_tag",
    "delivery_tag",
    "write_queue",
    "number",
    "lock",
    "closing",
    "max_content_size",
    "publisher_confirms",
    "is_closed",
)
_MAX_CACHED_KEYS = 256


def shortstr(value: str) -> bytes:
    data = value.encode()
    if len(data) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {value[:40]!r}...")
    return bytes((len(data),)) + data


def supports(channel: Any) -> bool:
    """True if ``channel`` has the aiormq internals this module relies on, confirms on."""
    return (
        all(hasattr(channel, name) for name in _CHANNEL_ATTRIBUTES)
        and isinstance(channel.confirmations, dict)
        and isinstance(channel.message_id_delivery_tag, dict)
        and isinstance(channel.delivery_tag, int)
        and isinstance(channel.write_queue, asyncio.Queue)
        and bool(channel.publisher_confirms)
    )


class Encoded:
    """One message's frames, ready to be written, and its message id for basic.return."""

    __slots__ = ("frames", "message_id")

    def __init__(self, message_id: str, frames: bytes) -> None:
        self.message_id = message_id
        self.frames = frames


class BatchPublisher:
    """Mandatory, persistent JSON messages to one exchange on one confirming aiormq channel."""

    def __init__(self, channel: Any, exchange: str) -> None:
        self.channel = channel
        self.exchange = exchange
        self.number: int = channel.number
        self._max_body: int = channel.max_content_size
        self._constant_props = shortstr(CONTENT_TYPE) + bytes((PERSISTENT,))
        # routing key -> (Basic.Publish frame, "type" property) for that key
        self._per_key: dict[str, tuple[bytes, bytes]] = {}

    def _for_key(self, routing_key: str) -> tuple[bytes, bytes]:
        cached = self._per_key.get(routing_key)
        if cached is None:
            message_type = shortstr(routing_key)  # first: refuses a key over 255 bytes
            method = spec.Basic.Publish(
                exchange=self.exchange, routing_key=routing_key, mandatory=True
            )
            cached = (pamqp.frame.marshal(method, self.number), message_type)
            if len(self._per_key) >= _MAX_CACHED_KEYS:
                self._per_key.clear()
            self._per_key[routing_key] = cached
        return cached

    def encode(
        self,
        routing_key: str,
        body: bytes,
        message_id: str,
        expiration_ms: int | None,
        timestamp: bytes,
    ) -> Encoded:
        """Method, header and body frames for one message (properties as the slow path sets)."""
        method, message_type = self._for_key(routing_key)
        if not message_id:  # as aiormq: basic.return is matched to its publish by message id
            message_id = uuid.uuid4().hex
        flags = FLAGS
        props = self._constant_props
        if expiration_ms is not None:
            flags |= FLAG_EXPIRATION
            props += shortstr(str(max(0, expiration_ms)))
        props += shortstr(message_id) + timestamp + message_type
        size = len(body)
        header = CONTENT_HEADER.pack(BASIC_CLASS_ID, 0, size, flags) + props
        parts = [method, FRAME_HEADER.pack(FRAME_HEADER_TYPE, self.number, len(header)), header]
        parts.append(FRAME_END)
        for start in range(0, size, self._max_body):
            chunk = body[start : start + self._max_body]
            parts += (FRAME_HEADER.pack(FRAME_BODY_TYPE, self.number, len(chunk)), chunk)
            parts.append(FRAME_END)
        return Encoded(message_id, b"".join(parts))

    async def publish(
        self, encoded: Sequence[Encoded], timeout: float
    ) -> tuple[list[bool], BaseException | None]:
        """Send all in one write; True for each the broker acked within ``timeout``.

        Also returns the first error that was neither a nack nor a basic.return (a closed channel
        or connection), for the caller to decide whether the broker is gone.

        The confirmation futures are plain loop futures, not aiormq's tracked ones (which cost
        three done-callbacks each): instead of aiormq rejecting each on close, one watcher on the
        channel's ``closing`` fails whatever is still unconfirmed when the channel goes.
        """
        channel = self.channel
        loop = asyncio.get_running_loop()
        confirmations: dict[int, asyncio.Future[Any]] = channel.confirmations
        by_message_id: dict[str, int] = channel.message_id_delivery_tag
        futures: list[asyncio.Future[Any]] = []
        first_tag = 0
        closed: BaseException | None = None
        try:
            async with channel.lock:
                first_tag = channel.delivery_tag + 1
                tag = first_tag
                for item in encoded:
                    future = loop.create_future()
                    confirmations[tag] = future
                    by_message_id[item.message_id] = tag
                    futures.append(future)
                    tag += 1
                channel.delivery_tag = tag - 1
                payload = b"".join(item.frames for item in encoded)
                try:
                    await channel.write_queue.put(ChannelFrame(payload=payload, should_close=False))
                except BaseException:
                    # Not handed to the writer: the broker never sees these tags; give them back
                    # while still holding the lock, as basic_publish does.
                    channel.delivery_tag = first_tag - 1
                    self._forget(encoded, first_tag, pop_confirmations=True)
                    futures.clear()
                    raise
            if futures:
                closed = await self._wait(loop, futures, timeout)
        finally:
            # Timed out, channel closed, or our caller was cancelled: stop waiting. aiormq
            # ignores a late answer for a done future, as for basic_publish's own.
            for future in futures:
                if not future.done():
                    future.cancel()
            if futures:
                self._forget(encoded, first_tag, pop_confirmations=closed is not None)
        results, failure = self._results(futures)
        return results, failure or closed

    async def _wait(
        self, loop: asyncio.AbstractEventLoop, futures: list[asyncio.Future[Any]], timeout: float
    ) -> BaseException | None:
        """Wait until all are answered, the timeout, or the channel closes (returns why)."""
        all_done = loop.create_future()
        remaining = len(futures)

        def count(_: asyncio.Future[Any]) -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0 and not all_done.done():
                all_done.set_result(None)

        for future in futures:
            future.add_done_callback(count)
        if self.channel.is_closed:  # closed after the write, before we could watch
            closing: asyncio.Future[Any] = loop.create_future()
            closing.set_result(None)
        else:
            closing = self.channel.closing
        try:
            await asyncio.wait(
                (all_done, closing), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if all_done.done() or not closing.done():
                return None  # all answered, or timed out with the channel open
            reason = None if closing.cancelled() else closing.exception()
            return ChannelInvalidStateError(f"channel closed before confirming: {reason!r}")
        finally:
            if not closing.done():
                closing.cancel()  # only stops this observer
            if not all_done.done():
                all_done.cancel()

    def _forget(self, encoded: Sequence[Encoded], first_tag: int, pop_confirmations: bool) -> None:
        by_message_id: dict[str, int] = self.channel.message_id_delivery_tag
        confirmations: dict[int, Any] = self.channel.confirmations
        for tag, item in enumerate(encoded, first_tag):
            if by_message_id.get(item.message_id) == tag:
                del by_message_id[item.message_id]
            if pop_confirmations:
                confirmations.pop(tag, None)

    @staticmethod
    def _results(futures: list[asyncio.Future[Any]]) -> tuple[list[bool], BaseException | None]:
        results: list[bool] = []
        failure: BaseException | None = None
        for future in futures:
            if future.cancelled():
                results.append(False)
                continue
            exc = future.exception()
            if exc is None:
                results.append(isinstance(future.result(), spec.Basic.Ack))
            else:
                results.append(False)
                if failure is None and not isinstance(exc, DeliveryError):
                    failure = exc
        return results, failure


def timestamp_bytes(now: datetime) -> bytes:
    """The AMQP timestamp as pamqp encodes it: whole seconds since the epoch."""
    return TIMESTAMP.pack(int(now.timestamp()))
