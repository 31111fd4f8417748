"""Helpers for scheduler tests: a consumer bound to the exchange, a TCP proxy that can cut the
broker off, row factories and a daemon as a real subprocess."""

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

import aio_pika
import httpx
import psycopg

from gamesched.settings import Settings


@dataclass
class Received:
    message_id: str
    routing_key: str
    body: dict[str, Any]
    arrived: float  # time.time()
    properties: dict[str, Any] = field(default_factory=dict)


class Consumer:
    """An exclusive queue bound to ``game.#`` on the test's exchange, recording every message."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url = url
        self.exchange = exchange
        self.messages: list[Received] = []
        self._changed = asyncio.Event()
        self._conn: aio_pika.abc.AbstractConnection | None = None

    async def start(self) -> None:
        self._conn = await aio_pika.connect(self.url)
        channel = await self._conn.channel()
        await channel.set_qos(prefetch_count=1000)
        ex = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(ex, "game.#")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.messages.append(
            Received(
                message_id=msg.message_id or "",
                routing_key=msg.routing_key or "",
                body=json.loads(msg.body),
                arrived=time.time(),
                properties={
                    "type": msg.type,
                    "content_type": msg.content_type,
                    "delivery_mode": msg.delivery_mode,
                    "expiration": msg.expiration,
                    "timestamp": msg.timestamp,
                },
            )
        )
        self._changed.set()

    def ids(self) -> list[str]:
        return [m.message_id for m in self.messages]

    async def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Wait until at least ``count`` messages arrived, or fail at the deadline."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"only {len(self.messages)} of {count} messages within {timeout}s"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.messages

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


@contextlib.asynccontextmanager
async def consuming(settings: Settings) -> AsyncIterator[Consumer]:
    consumer = Consumer(settings.rabbitmq_url, settings.gamesched_exchange)
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


class DaemonProcess:
    """``gamesched scheduler`` as a real process, for kill and signal tests."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "RABBITMQ_URL": settings.rabbitmq_url,
            "GAMESCHED_EXCHANGE": settings.gamesched_exchange,
            "METRICS_PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            "SCHEDULER_MAX_WAIT_SECONDS": "300",
            **env,
        }
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
    """Publish a sentinel and wait for it: a queue is FIFO, so everything published before it
    has then arrived too."""
    conn = await aio_pika.connect(settings.rabbitmq_url)
    async with conn:
        channel = await conn.channel()
        ex = await channel.get_exchange(settings.gamesched_exchange)
        before = len(consumer.messages)
        await ex.publish(aio_pika.Message(b"{}", message_id="sentinel"), "game.sentinel")
    await wait_until(lambda: "sentinel" in consumer.ids()[before:], 10, "sentinel")
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
