"""Helpers for scheduler tests: a consumer written against the transport's ``Source``, a TCP
proxy that can cut a connection off, row factories and a daemon as a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from gamesched import errors
from gamesched.events import schemas, transport, transports
from gamesched.settings import Settings


@dataclass
class Received:
    message_id: str
    routing_key: str
    body: dict[str, Any]
    arrived: float  # time.time()
    # the AMQP properties on RabbitMQ (none on PostgreSQL, whose messages have no such thing)
    properties: dict[str, Any] = field(default_factory=dict)


def _amqp_properties(delivery: transport.Delivery) -> dict[str, Any]:
    message = getattr(delivery, "_message", None)  # a RabbitDelivery's incoming message
    if message is None:
        return {}
    return {
        "type": message.type,
        "content_type": message.content_type,
        "delivery_mode": message.delivery_mode,
        "expiration": message.expiration,
        "timestamp": message.timestamp,
    }


class Consumer:
    """A consumer written against the ``Source`` protocol, on whichever transport the settings
    choose: it acks every delivery and records its message id, routing key and body. On
    RabbitMQ it reads ``<exchange>.bot``, on PostgreSQL the queue's rows of ``event_queue``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.source = transports.source(settings, prefetch=1000)
        self.messages: list[Received] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def start(self) -> None:
        await self.source.connect()
        self._task = asyncio.create_task(self._consume(), name="test-consumer")

    async def _consume(self) -> None:
        # as the protocol asks of a consumer: on a lost connection, reconnect and iterate again
        # (the unsettled deliveries come back); a message is recorded once its ack succeeded
        while True:
            try:
                async for delivery in self.source.deliveries():
                    body = json.loads(delivery.body)
                    await delivery.ack()
                    self.messages.append(
                        Received(
                            message_id=delivery.message_id,
                            routing_key=delivery.routing_key,
                            body=body,
                            arrived=time.time(),
                            properties=_amqp_properties(delivery),
                        )
                    )
                    self._changed.set()
                return  # closed
            except (psycopg.Error, errors.BrokerUnavailable, OSError):
                self.reconnects += 1
                await asyncio.sleep(0.2)
                with contextlib.suppress(psycopg.Error, errors.BrokerUnavailable, OSError):
                    await self.source.connect()

    def ids(self) -> list[str]:
        return [m.message_id for m in self.messages]

    async def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Wait until at least ``count`` messages arrived, or fail at the deadline."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if self._task is not None and self._task.done():
                self._task.result()  # the consumer died: say why
                raise AssertionError("consumer ended")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"only {len(self.messages)} of {count} messages within {timeout}s"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
        return self.messages

    async def close(self) -> None:
        await self.source.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


@contextlib.asynccontextmanager
async def consuming(settings: Settings) -> AsyncIterator[Consumer]:
    consumer = Consumer(settings)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.close()


async def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll an (async or plain) predicate until true or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


# -- rows --------------------------------------------------------------------------------------


async def aconnect(settings: Settings) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(settings.libpq_url, autocommit=True)


async def seed_game(conn: psycopg.AsyncConnection[Any], *, starts_in: str = "1 day") -> str:
    cur = await conn.execute(
        """
        WITH g AS (
            INSERT INTO guilds (discord_guild_id, name) VALUES (%(n)s, 'guild')
            ON CONFLICT (discord_guild_id) DO UPDATE SET name = 'guild' RETURNING id
        ), c AS (
            INSERT INTO channels (guild_id, discord_channel_id, name)
            SELECT id, %(n)s, 'channel' FROM g
            ON CONFLICT (discord_channel_id) DO UPDATE SET name = 'channel'
            RETURNING id, guild_id
        )
        INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, host_discord_id)
        SELECT guild_id, id, 'Game', now() + %(starts)s::interval, '3' FROM c
        RETURNING id
        """,
        {"n": "1", "starts": starts_in},
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def insert_reminders(
    conn: psycopg.AsyncConnection[Any], game_id: str, count: int, *, due_in: str = "0 s"
) -> None:
    """``count`` reminders of one game, all due at now() + ``due_in``, in one statement."""
    await conn.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
        "SELECT %s, g, now() + %s::interval FROM generate_series(1, %s) g",
        (game_id, due_in, count),
    )


async def fetch_one(conn: psycopg.AsyncConnection[Any], query: str, *args: Any) -> Any:
    cur = await conn.execute(query, args or None)
    row = await cur.fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


# -- a daemon as a subprocess ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports_for_run() -> tuple[int, int]:
    """``API_PORT`` and ``METRICS_PORT`` for ``gamesched run``, which serves the scheduler's
    metrics on METRICS_PORT and the bot's on the next port: three distinct free ports."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second, socket.socket() as api:
            first.bind(("127.0.0.1", 0))
            metrics = int(first.getsockname()[1])
            try:
                second.bind(("127.0.0.1", metrics + 1))
            except OSError:
                continue
            api.bind(("127.0.0.1", 0))  # while both are held, so it is neither
            return int(api.getsockname()[1]), metrics
    raise RuntimeError("no two adjacent free ports")


class DaemonProcess:
    """``gamesched scheduler`` as a real process, for kill and signal tests."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "GAMESCHED_TRANSPORT": settings.transport,
            "GAMESCHED_EXCHANGE": settings.gamesched_exchange,
            "METRICS_PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            "SCHEDULER_MAX_WAIT_SECONDS": "300",
            **env,
        }
        self.env.pop("RABBITMQ_URL", None)
        if settings.rabbitmq_url is not None:
            self.env["RABBITMQ_URL"] = settings.rabbitmq_url
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gamesched", "scheduler"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    async def wait_ready(self, timeout: float = 20) -> None:
        async def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited: {self.stderr()}")
            try:
                async with httpx.AsyncClient() as client:
                    r = await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                return r.status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(ready, timeout, "daemon ready", interval=0.1)

    def stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        self.kill()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


async def flush(consumer: Consumer, settings: Settings) -> None:
    """Publish a sentinel through the transport and wait for it: the queue is FIFO (on
    PostgreSQL: leased oldest first), so everything published before it has then arrived too."""
    sink = transports.sink(settings)
    before = len(consumer.messages)
    await sink.connect()
    try:
        async with await aconnect(settings) as conn:
            sentinel = schemas.Outgoing("sentinel", "game.sentinel", {})
            assert await sink.publish(conn, [sentinel]) == [True]
    finally:
        await sink.close()
    # a deadline, not a timing: the PostgreSQL consumer acks one statement at a time and may
    # still be working through a 20,000-message burst
    await wait_until(lambda: "sentinel" in consumer.ids()[before:], 60, "sentinel", interval=0.1)
    consumer.messages = [m for m in consumer.messages if m.message_id != "sentinel"]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses new
    ones until ``restore()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
