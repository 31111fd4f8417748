"""A minimal AMQP 0-9-1 consumer connection, fast enough not to limit the drain rates measured.

Control frames (handshake, declare, bind, consume, close) are encoded and decoded with pamqp
(already installed with aiormq). Deliveries are handled without a decode call or a task per
message: ``data_received`` splits frames itself and, for each content-header frame, reads
``message_id`` straight from the property list and calls ``on_message(message_id, body)``.

Why not aiormq or aio-pika: they create a task and decode three frames per delivery. Draining
the same 20,000 queued messages in one run (``consumer_capacity --consumers
raw,aiormq,aio-pika``, 2026-11-29, docs/benchmarks.md "Consumer comparison"): this connection
96,000 msg/s at 5 CPU-ms per 1,000 messages, aiormq 13,700 msg/s at 61 ms, aio-pika 7,300 msg/s
at 89 ms. The daemon's bursts reach 10,000-18,000 ev/s here, so either client would cap them or
take most of a core from the two the daemon, RabbitMQ and PostgreSQL share (skewing their CPU
figures). Keep this module isolated: only ``_consumer.RawReceiver`` uses it.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from pamqp import commands, frame, header

_FRAME_HEAD = struct.Struct(">BHI")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_BASIC_DELIVER = b"\x00\x3c\x00\x3c"  # class 60 (basic), method 60 (deliver)

# Property flags of class basic, in wire order, with how to skip each one.
_SHORTSTR, _TABLE, _OCTET, _LONGLONG = 1, 2, 3, 4
_PROPS = (
    (0x8000, _SHORTSTR),  # content_type
    (0x4000, _SHORTSTR),  # content_encoding
    (0x2000, _TABLE),  # headers
    (0x1000, _OCTET),  # delivery_mode
    (0x0800, _OCTET),  # priority
    (0x0400, _SHORTSTR),  # correlation_id
    (0x0200, _SHORTSTR),  # reply_to
    (0x0100, _SHORTSTR),  # expiration
)
_MESSAGE_ID = 0x0080

_Frame = TypeVar("_Frame", bound=frame.FrameTypes)


def message_id_of(payload: bytes | memoryview) -> str | None:
    """The message_id property of a content-header frame payload, or None."""
    # class id (2), weight (2), body size (8), property flags (2), then the properties.
    flags = _U16.unpack_from(payload, 12)[0]
    if not flags & _MESSAGE_ID:
        return None
    pos = 14
    for bit, kind in _PROPS:
        if not flags & bit:
            continue
        if kind == _SHORTSTR:
            pos += 1 + payload[pos]
        elif kind == _TABLE:
            pos += 4 + _U32.unpack_from(payload, pos)[0]
        else:
            pos += 1
    length = payload[pos]
    return bytes(payload[pos + 1 : pos + 1 + length]).decode()


class ConsumerProtocol(asyncio.Protocol):
    def __init__(self, on_message: Callable[[str, bytes], None]) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        # Control frames (anything but deliveries), or the error that ended the connection.
        self.control: asyncio.Queue[frame.FrameTypes | ConnectionError] = asyncio.Queue()
        self.closed: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.want_body = 0  # bodies to capture (samples), body frames only otherwise skipped
        self._pending_id: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)
        self.control.put_nowait(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        size_all = len(buf)
        view = memoryview(buf)
        try:
            while size_all - pos >= 8:
                ftype, _channel, size = _FRAME_HEAD.unpack_from(buf, pos)
                end = pos + 8 + size
                if end > size_all:
                    break
                if ftype == 2:  # content header: one message
                    msg_id = message_id_of(view[pos + 7 : end - 1])
                    if self.want_body > 0:
                        self._pending_id = msg_id
                    self.on_message(msg_id or "", b"")
                elif ftype == 3:  # body
                    if self._pending_id is not None:
                        self.on_message(self._pending_id, bytes(view[pos + 7 : end - 1]))
                        self._pending_id = None
                        self.want_body -= 1
                elif ftype == 1 and bytes(view[pos + 7 : pos + 11]) != _BASIC_DELIVER:
                    self.control.put_nowait(frame.unmarshal(bytes(view[pos:end]))[2])
                # ftype 8 (heartbeat) is ignored: heartbeats are negotiated off.
                pos = end
        finally:
            view.release()
        del buf[:pos]


class Connection:
    """Connect, declare, bind and consume with ``no_ack``; messages go to ``on_message``."""

    def __init__(self, url: str, on_message: Callable[[str, bytes], None]) -> None:
        self.url = url
        self.on_message = on_message
        self.protocol: ConsumerProtocol | None = None
        self.server_properties: dict[str, Any] = {}

    def _send(self, value: frame.FrameTypes, channel: int = 0) -> None:
        assert self.protocol is not None and self.protocol.transport is not None
        self.protocol.transport.write(frame.marshal(value, channel))

    async def _expect(self, kind: type[_Frame]) -> _Frame:
        assert self.protocol is not None
        value = await asyncio.wait_for(self.protocol.control.get(), 10.0)
        if isinstance(value, ConnectionError):
            raise value
        if not isinstance(value, kind):
            raise ConnectionError(f"expected {kind.__name__}, got {value!r}")
        return value

    async def open(self) -> None:
        parts = urlsplit(self.url)
        loop = asyncio.get_running_loop()
        _, self.protocol = await loop.create_connection(
            lambda: ConsumerProtocol(self.on_message),
            parts.hostname or "localhost",
            parts.port or 5672,
        )
        assert self.protocol.transport is not None
        self.protocol.transport.write(header.ProtocolHeader().marshal())
        start = await self._expect(commands.Connection.Start)
        self.server_properties = dict(start.server_properties or {})
        user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
        self._send(
            commands.Connection.StartOk(
                client_properties={"product": "gamesched-bench"},
                mechanism="PLAIN",
                response=f"\0{user}\0{password}",
            )
        )
        tune = await self._expect(commands.Connection.Tune)
        self._send(
            commands.Connection.TuneOk(
                channel_max=tune.channel_max, frame_max=tune.frame_max, heartbeat=0
            )
        )
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        self._send(commands.Connection.Open(virtual_host=vhost))
        await self._expect(commands.Connection.OpenOk)
        self._send(commands.Channel.Open(), 1)
        await self._expect(commands.Channel.OpenOk)

    async def declare_and_bind(self, exchange: str, routing_key: str) -> str:
        self._send(
            commands.Exchange.Declare(exchange=exchange, exchange_type="topic", durable=True), 1
        )
        await self._expect(commands.Exchange.DeclareOk)
        self._send(commands.Queue.Declare(queue="", exclusive=True, auto_delete=True), 1)
        queue = str((await self._expect(commands.Queue.DeclareOk)).queue)
        self._send(commands.Queue.Bind(queue=queue, exchange=exchange, routing_key=routing_key), 1)
        await self._expect(commands.Queue.BindOk)
        return queue

    async def consume(self, queue: str, sample_bodies: int = 0) -> None:
        assert self.protocol is not None
        self.protocol.want_body = sample_bodies
        self._send(commands.Basic.Consume(queue=queue, no_ack=True), 1)
        await self._expect(commands.Basic.ConsumeOk)

    async def close(self) -> None:
        if self.protocol is None or self.protocol.transport is None:
            return
        try:
            self._send(
                commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0)
            )
            await self._expect(commands.Connection.CloseOk)
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self.protocol.transport.close()
