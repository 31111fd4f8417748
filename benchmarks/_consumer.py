"""The benchmark's consumer: its own exclusive queue on the run's exchange, arrival per message.

Built on the minimal connection of ``_amqp`` (``no_ack``, no task per message); arrival is stamped
as soon as the message's header frame is read, in both wall-clock time (to compare with
``notification_time``) and ``perf_counter`` (to compare with a commit timestamp in this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import aiormq

from benchmarks._amqp import Connection

ROUTING_KEY = "game.reminder_due"


@dataclass
class Arrival:
    wall: float
    perf: float


@dataclass
class Consumer:
    url: str
    exchange: str
    arrivals: dict[str, Arrival] = field(default_factory=dict)
    duplicates: int = 0
    without_id: int = 0
    bodies: dict[str, bytes] = field(default_factory=dict)
    keep_bodies: int = 3
    _waiters: dict[str, asyncio.Future[Arrival]] = field(default_factory=dict)
    _count_event: asyncio.Event = field(default_factory=asyncio.Event)
    _conn: Connection | None = None
    server_version: str = "?"
    queue: str = ""

    async def start(self, consume: bool = True) -> None:
        """Declare the exchange and an exclusive queue bound to it; consume unless told not."""
        self._conn = Connection(self.url, self._on_message)
        await self._conn.open()
        version = self._conn.server_properties.get("version", b"?")
        self.server_version = version.decode() if isinstance(version, bytes) else str(version)
        self.queue = await self._conn.declare_and_bind(self.exchange, ROUTING_KEY)
        if consume:
            await self.begin_consuming()

    async def begin_consuming(self) -> None:
        assert self._conn is not None
        await self._conn.consume(self.queue, sample_bodies=self.keep_bodies)

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
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


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
        version = (conn.server_properties or {}).get("version", b"?")
    finally:
        await conn.close()
    return version.decode() if isinstance(version, bytes) else str(version)
