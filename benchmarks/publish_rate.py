"""Publish rate of ``Publisher.publish_many`` against a real RabbitMQ.

Publishes N messages (~200-byte JSON bodies) in batches via ``publish_many`` to an exchange of
its own, checks every one was confirmed, prints msg/s and client CPU (process time) per message,
and deletes what it declared.

    .venv/bin/python -m benchmarks.publish_rate [-n 20000] [--batch 500] [--loop asyncio|uvloop]
        [--classic] [--fallback]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from typing import Any

import aio_pika

from benchmarks import _machine, _results
from gamesched.events import publisher, schemas, topology


def messages(n: int) -> list[schemas.Outgoing]:
    return [
        schemas.Outgoing(
            message_id=str(uuid.uuid4()),
            routing_key=schemas.REMINDER_DUE,
            body={
                "game_id": str(uuid.uuid4()),
                "notification_id": str(uuid.uuid4()),
                "reminder_minutes": 60,
                "scheduled_at": "2025-01-01T20:00:00+00:00",
                "notification_time": "2025-01-01T19:00:00+00:00",
            },
            expiration_ms=3_600_000,
        )
        for _ in range(n)
    ]


async def swap_to_classic(url: str, names: topology.Names) -> str:
    """Replace the quorum bot queue with a classic durable one, so the broker is cheaper."""
    classic = f"{names.exchange}.classic"
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        await ch.queue_delete(names.bot_queue)
        queue = await ch.declare_queue(classic, durable=True)
        await queue.bind(names.exchange, routing_key="game.#")
    return classic


async def cleanup(url: str, names: topology.Names, extra: list[str]) -> None:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        for queue in [names.bot_queue, names.dead_letter_queue, *extra]:
            await ch.queue_delete(queue)
        await ch.exchange_delete(names.exchange)


async def run(url: str, n: int, batch: int, classic: bool, fallback: bool) -> dict[str, Any]:
    names = topology.Names(f"rate.{uuid.uuid4().hex[:8]}")
    pub = publisher.Publisher(url, names)
    extra: list[str] = []
    try:
        await pub.connect()
        if fallback:
            pub._batch = None  # force the per-message path, for comparison
        if classic:
            extra.append(await swap_to_classic(url, names))
        todo = messages(n)
        await pub.publish_many(todo[:batch])  # warm-up, not counted
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, n, batch):
            results = await pub.publish_many(todo[i : i + batch])
            assert all(results), f"{results.count(False)} not confirmed"
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"{n / wall:8.0f} msg/s  {cpu / n * 1e6:6.1f} us CPU/msg  "
            f"(n={n} batch={batch} classic={classic} fallback={fallback})"
        )
    finally:
        await pub.close()
        await cleanup(url, names, extra)
    return {
        "scenario": "publish_rate",
        "exchange": names.exchange,
        "messages": n,
        "batch": batch,
        "classic": classic,
        "fallback": fallback,
        "messages_per_s": n / wall,
        "client_cpu_us_per_message": cpu / n * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--rabbitmq-url",
        default=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--classic", action="store_true")
    parser.add_argument("--fallback", action="store_true")
    _results.add_argument(parser)
    args = parser.parse_args(argv)
    load = _machine.load_average()
    coro = run(args.rabbitmq_url, args.n, args.batch, args.classic, args.fallback)
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    result.update(loop=args.loop, load_average_at_start=load)
    path = _results.save(args.results_dir, "publish_rate", {"results": [result]})
    print(f"result written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
