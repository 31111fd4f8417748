"""The bot's two benchmarks (issue 9), against the real ``gamesched bot`` process and the fake
Discord run in this process, on a database of their own:

* ``latency``: one reminder at a time on an idle system: from the moment its message is
  published (the reminder is due) to its DM request arriving at the fake Discord; p50 / p99.
* ``rate``: N reminders published at once, four recipients each (the same four users, so after
  the first DMs each DM is one request): DMs per second and the bot's CPU per DM; then again with
  the fake enforcing 50 requests/s: the time to deliver all and the 429s it answered.

``python -m benchmarks.bot_bench [--transport postgres|rabbitmq] [--reminders 1000]
[--trials 200]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks import _db
from gamesched.events import schemas, transports
from gamesched.events.schemas import Outgoing
from gamesched.settings import Settings
from gamesched.testing import broker
from gamesched.testing.fake_discord import FakeDiscord

USERS = ("100", "101", "102", "103")  # host and three players of every game


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed(settings: Settings, games: int) -> list[Outgoing]:
    """``games`` games with the four users, and one reminder row due now for each."""
    when = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(settings.libpq_url) as conn:
        guild = await (
            await conn.execute(
                "INSERT INTO guilds (discord_guild_id, name) VALUES ('10', 'g') "
                "ON CONFLICT (discord_guild_id) DO UPDATE SET name = 'g' RETURNING id"
            )
        ).fetchone()
        channel = await (
            await conn.execute(
                "INSERT INTO channels (guild_id, discord_channel_id, name) VALUES (%s, '20', 'c') "
                "ON CONFLICT DO NOTHING RETURNING id",
                (guild[0],),  # type: ignore[index]
            )
        ).fetchone()
        if channel is None:
            channel = await (
                await conn.execute("SELECT id FROM channels WHERE discord_channel_id = '20'")
            ).fetchone()
        rows = await (
            await conn.execute(
                "WITH games AS ("
                " INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at,"
                "  host_discord_id, max_players)"
                " SELECT %(g)s, %(c)s, 'Game ' || i, now() + interval '1 hour', '100', 4"
                " FROM generate_series(1, %(n)s) AS i RETURNING id),"
                " players AS ("
                " INSERT INTO game_participants (game_id, discord_user_id, joined_at)"
                " SELECT id, u, now() FROM games, unnest(ARRAY['101', '102', '103']) AS u)"
                " INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time)"
                " SELECT id, 60, %(t)s FROM games"
                " RETURNING id, game_id, (SELECT now() + interval '1 hour')",
                {"g": guild[0], "c": channel[0], "n": games, "t": when},  # type: ignore[index]
            )
        ).fetchall()
    return [
        Outgoing(
            str(rid),
            schemas.REMINDER_DUE,
            schemas.ReminderDue(
                game_id=gid,
                notification_id=rid,
                reminder_minutes=60,
                scheduled_at=at,
                notification_time=when,
            ).body(),
        )
        for rid, gid, at in rows
    ]


async def publish(settings: Settings, messages: list[Outgoing]) -> None:
    sink = transports.sink(settings)
    await sink.connect()
    try:
        conn = await psycopg.AsyncConnection.connect(settings.libpq_url)
        async with conn, conn.transaction():
            await sink.publish(conn, messages)
    finally:
        await sink.close()


def dms(fake: FakeDiscord) -> int:
    channels = set(fake.dm_channels.values())
    return sum(1 for m in fake.messages.values() if m.channel_id in channels)


async def wait_dms(fake: FakeDiscord, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while dms(fake) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dms(fake)} of {count} DMs after {timeout} s")
        fake.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.arrived.wait(), 1.0)


async def start_bot(settings: Settings, fake: FakeDiscord) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": settings.url,
        "RABBITMQ_URL": settings.rabbitmq_url or "",
        "GAMESCHED_TRANSPORT": settings.transport,
        "GAMESCHED_EXCHANGE": settings.gamesched_exchange,
        "DISCORD_TOKEN": "bench",
        "DISCORD_API_BASE": fake.base_url,
        "METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gamesched", "bot", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    await asyncio.sleep(3.0)  # start-up checks and the first consume
    return proc


async def latency(settings: Settings, fake: FakeDiscord, trials: int) -> dict[str, Any]:
    """Publish one reminder at a time on connections opened once (connecting is not part of
    what a due reminder costs), and time it to its first DM request at the fake Discord."""
    samples = []
    sink = transports.sink(settings)
    await sink.connect()
    try:
        async with await psycopg.AsyncConnection.connect(settings.libpq_url) as conn:
            for _ in range(trials):
                (message,) = await seed(settings, 1)
                before = len(fake.requests)
                start = time.monotonic()
                async with conn.transaction():
                    await sink.publish(conn, [message])
                await wait_dms(fake, dms(fake) + len(USERS), 30)
                # the first request of this reminder: its first DM reaching Discord
                first = fake.requests[before].at
                samples.append((first - start) * 1000)
                await asyncio.sleep(0.05)
    finally:
        await sink.close()
    samples.sort()
    return {
        "trials": trials,
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
    }


async def rate(settings: Settings, fake: FakeDiscord, pid: int, reminders: int) -> dict[str, Any]:
    messages = await seed(settings, reminders)
    before, limited = dms(fake), fake.count(429)
    cpu = cpu_seconds(pid)
    start = time.monotonic()
    await publish(settings, messages)
    await wait_dms(fake, before + reminders * len(USERS), 600)
    took = time.monotonic() - start
    sent = dms(fake) - before
    return {
        "reminders": reminders,
        "dms": sent,
        "seconds": round(took, 2),
        "dms_per_s": round(sent / took, 1),
        "bot_cpu_ms_per_dm": round((cpu_seconds(pid) - cpu) * 1000 / sent, 3),
        "answered_429": fake.count(429) - limited,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    url, name = _db.create(args.database_url, prefix="gsbench_bot")
    settings = Settings(
        database_url=url,
        rabbitmq_url=args.rabbitmq_url if args.transport == "rabbitmq" else None,
        gamesched_transport=args.transport,
        gamesched_exchange=f"gamesched.bench.{name}",
    )
    fake = FakeDiscord()
    await fake.start()
    proc = await start_bot(settings, fake)
    try:
        result: dict[str, Any] = {
            "transport": args.transport,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": os.getloadavg(),
        }
        result["latency"] = await latency(settings, fake, args.trials)
        result["rate_unlimited"] = await rate(settings, fake, proc.pid, args.reminders)
        fake.global_rate = 50
        result["rate_50_per_s"] = await rate(settings, fake, proc.pid, args.reminders)
        result["load_average_after"] = os.getloadavg()
        return result
    finally:
        proc.terminate()
        await proc.wait()
        await fake.stop()
        if args.transport == "rabbitmq":  # its quorum queues would hold broker file handles
            await broker.delete_namespace(args.rabbitmq_url, settings.gamesched_exchange)
        _db.drop(url, name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--transport", choices=["postgres", "rabbitmq"], default="postgres")
    p.add_argument("--reminders", type=int, default=1000)
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    return p.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args())), indent=2))
