"""The benchmark's consumer: its own exclusive queue on the run's exchange, arrival per message.

Arrival is stamped as soon as the client hands the message over, in both wall-clock time (to
compare with ``notification_time``) and ``perf_counter`` (to compare with a commit timestamp in
this process). ``Consumer`` keeps the arrivals; a *receiver* talks AMQP. Three receivers exist so
that ``consumer_capacity --compare`` can measure them on the same messages in one run:

* ``raw`` (the default): the minimal connection of :mod:`benchmarks._amqp`. It is kept because
  the general clients cannot keep up with a burst on this machine; docs/benchmarks.md
  ("Consumer comparison") has the figures.
* ``aiormq`` and ``aio-pika``: the general clients (a task and a decoded message per delivery).

On the PostgreSQL transport the ``pgqueue`` receiver reads the run's queue of ``event_queue``
through the project's own ``PgSource`` (what the bot uses), acking each delivery; ``url`` is
then the benchmark database's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import aio_pika
import aiormq
import aiormq.abc

from benchmarks._amqp import Connection
from gamesched.events import pgqueue

ROUTING_KEY = "game.reminder_due"

ReceiverName = Literal["raw", "aiormq", "aio-pika", "pgqueue"]
RECEIVERS: tuple[ReceiverName, ...] = ("raw", "aiormq", "aio-pika")  # the AMQP ones

# (message_id or "", body): an empty body counts an arrival, a non-empty one is a sampled body.
OnMessage = Callable[[str, bytes], None]


class Receiver(Protocol):
    server_version: str

    async def open(self, exchange: str, routing_key: str) -> str:
        """Connect, declare the exchange and an exclusive queue bound to it; return the queue."""

    async def consume(self, queue: str, sample_bodies: int) -> None: ...

    async def close(self) -> None: ...


def _version(properties: object) -> str:
    version = properties.get("version", b"?") if isinstance(properties, dict) else b"?"
    return version.decode() if isinstance(version, bytes) else str(version)


class RawReceiver:
    """The hand-written connection: no task and no decoding per message."""

    def __init__(self, url: str, on_message: OnMessage) -> None:
        self._conn = Connection(url, on_message)
        self.server_version = "?"

    async def open(self, exchange: str, routing_key: str) -> str:
        await self._conn.open()
        self.server_version = _version(self._conn.server_properties)
        return await self._conn.declare_and_bind(exchange, routing_key)

    async def consume(self, queue: str, sample_bodies: int) -> None:
        await self._conn.consume(queue, sample_bodies)

    async def close(self) -> None:
        await self._conn.close()


class AiormqReceiver:
    """aiormq's own consumer (``basic_consume`` with ``no_ack``)."""

    def __init__(self, url: str, on_message: OnMessage) -> None:
        self.url = url
        self.on_message = on_message
        self.server_version = "?"
        self._conn: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._sample = 0

    async def open(self, exchange: str, routing_key: str) -> str:
        self._conn = await aiormq.connect(self.url)
        self.server_version = _version(self._conn.server_properties)
        self._channel = await self._conn.channel()
        await self._channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        declared = await self._channel.queue_declare("", exclusive=True, auto_delete=True)
        assert declared.queue is not None
        await self._channel.queue_bind(declared.queue, exchange, routing_key=routing_key)
        return declared.queue

    async def _deliver(self, message: aiormq.abc.DeliveredMessage) -> None:
        msg_id = message.header.properties.message_id or ""
        self.on_message(msg_id, b"")
        if self._sample > 0:
            self._sample -= 1
            self.on_message(msg_id, message.body)

    async def consume(self, queue: str, sample_bodies: int) -> None:
        assert self._channel is not None
        self._sample = sample_bodies
        await self._channel.basic_consume(queue, self._deliver, no_ack=True)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class AioPikaReceiver:
    """aio-pika's consumer (``Queue.consume`` with ``no_ack``), as the bot would use it."""

    def __init__(self, url: str, on_message: OnMessage) -> None:
        self.url = url
        self.on_message = on_message
        self.server_version = "?"
        self._conn: aio_pika.abc.AbstractConnection | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None
        self._sample = 0

    async def open(self, exchange: str, routing_key: str) -> str:
        self._conn = await aio_pika.connect(self.url)
        if self._conn.transport is not None:
            self.server_version = _version(self._conn.transport.connection.server_properties)
        channel = await self._conn.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        self._queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await self._queue.bind(ex, routing_key=routing_key)
        return self._queue.name

    async def _deliver(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        msg_id = message.message_id or ""
        self.on_message(msg_id, b"")
        if self._sample > 0:
            self._sample -= 1
            self.on_message(msg_id, message.body)

    async def consume(self, queue: str, sample_bodies: int) -> None:
        assert self._queue is not None and self._queue.name == queue
        self._sample = sample_bodies
        await self._queue.consume(self._deliver, no_ack=True)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class PgQueueReceiver:
    """The run's queue (named after its exchange) of ``event_queue``, via ``PgSource``."""

    server_version = "-"

    def __init__(self, url: str, on_message: OnMessage) -> None:
        self.url = url
        self.on_message = on_message
        self._source: pgqueue.PgSource | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self, exchange: str, routing_key: str) -> str:
        self._source = pgqueue.PgSource(self.url, exchange, prefetch=1000)
        await self._source.connect()
        return exchange

    async def _run(self, source: pgqueue.PgSource, sample_bodies: int) -> None:
        sampled = 0
        async for delivery in source.deliveries():
            self.on_message(delivery.message_id, b"")
            if sampled < sample_bodies:
                sampled += 1
                self.on_message(delivery.message_id, delivery.body)
            await delivery.ack()

    async def consume(self, queue: str, sample_bodies: int) -> None:
        assert self._source is not None
        self._task = asyncio.create_task(self._run(self._source, sample_bodies))

    async def close(self) -> None:
        if self._source is not None:
            await self._source.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def make_receiver(name: ReceiverName, url: str, on_message: OnMessage) -> Receiver:
    if name == "pgqueue":
        return PgQueueReceiver(url, on_message)
    if name == "aiormq":
        return AiormqReceiver(url, on_message)
    if name == "aio-pika":
        return AioPikaReceiver(url, on_message)
    return RawReceiver(url, on_message)


@dataclass
class Arrival:
    wall: float
    perf: float


@dataclass
class Consumer:
    url: str
    exchange: str
    receiver_name: ReceiverName = "raw"
    arrivals: dict[str, Arrival] = field(default_factory=dict)
    duplicates: int = 0
    without_id: int = 0
    bodies: dict[str, bytes] = field(default_factory=dict)
    keep_bodies: int = 3
    server_version: str = "?"
    queue: str = ""
    _waiters: dict[str, asyncio.Future[Arrival]] = field(default_factory=dict)
    _count_event: asyncio.Event = field(default_factory=asyncio.Event)
    _receiver: Receiver | None = None

    async def start(self, consume: bool = True) -> None:
        """Declare the exchange and an exclusive queue bound to it; consume unless told not."""
        self._receiver = make_receiver(self.receiver_name, self.url, self._on_message)
        self.queue = await self._receiver.open(self.exchange, ROUTING_KEY)
        self.server_version = self._receiver.server_version
        if consume:
            await self.begin_consuming()

    async def begin_consuming(self) -> None:
        assert self._receiver is not None
        await self._receiver.consume(self.queue, sample_bodies=self.keep_bodies)

    def _on_message(self, msg_id: str, body: bytes) -> None:
        if body:  # a sampled body of a message already counted
            self.bodies[msg_id] = body
            return
        now = Arrival(time.time(), time.perf_counter())
        if not msg_id:
            self.without_id += 1
            return
        if msg_id in self.arrivals:
            self.duplicates += 1
            return
        self.arrivals[msg_id] = now
        waiter = self._waiters.pop(msg_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        self._count_event.set()

    async def wait_for(self, msg_id: str, limit: float) -> Arrival | None:
        """The arrival of ``msg_id``, or None if it has not arrived within ``limit`` s."""
        if msg_id in self.arrivals:
            return self.arrivals[msg_id]
        fut: asyncio.Future[Arrival] = asyncio.get_running_loop().create_future()
        self._waiters[msg_id] = fut
        try:
            return await asyncio.wait_for(fut, limit)
        except TimeoutError:
            self._waiters.pop(msg_id, None)
            return self.arrivals.get(msg_id)

    async def wait_all(self, ids: set[str], deadline: float, progress: float = 10.0) -> set[str]:
        """Wait until every id in ``ids`` arrived or ``deadline`` (monotonic) passed.

        Returns the ids still missing. Prints progress every ``progress`` s.
        """
        missing = set(ids)
        last_print = time.monotonic()
        while True:
            missing = {i for i in missing if i not in self.arrivals}
            now = time.monotonic()
            if not missing or now >= deadline:
                return missing
            if now - last_print >= progress:
                print(f"    ... {len(ids) - len(missing)}/{len(ids)} arrived", flush=True)
                last_print = now
            self._count_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._count_event.wait(), min(1.0, deadline - now))
            # Don't rescan a large set on every message: let a batch accumulate.
            if len(missing) > 1000:
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self._receiver is not None:
            await self._receiver.close()
            self._receiver = None


async def delete_topology(url: str, exchange: str) -> None:
    """Delete the run's exchange and the daemon's queues (best effort)."""
    conn = await aiormq.connect(url)
    try:
        for queue in (f"{exchange}.bot", f"{exchange}.dlq"):
            channel = await conn.channel()
            with contextlib.suppress(aiormq.exceptions.AMQPError):
                await channel.queue_delete(queue)
        channel = await conn.channel()
        with contextlib.suppress(aiormq.exceptions.AMQPError):
            await channel.exchange_delete(exchange)
    finally:
        await conn.close()


async def rabbitmq_version(url: str) -> str:
    conn = await aiormq.connect(url)
    try:
        return _version(conn.server_properties)
    finally:
        await conn.close()
