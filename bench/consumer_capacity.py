#!/usr/bin/env python3
"""How fast can the benchmark's consumer take messages? (A ceiling on any drain rate it reports.)

A separate publisher process sends N persistent ``game.reminder_due`` messages with unique
message_ids to a fresh exchange as fast as it can (with publisher confirms, in windows of 1,000)
while the consumer's queue is bound but not consumed; then the consumer (the one every scenario
uses) starts and drains the queue. Prints both rates: publisher (confirmed msg/s) and consumer
(N / (last arrival - first arrival)).

    .venv/bin/python bench/consumer_capacity.py --messages 100000
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _consumer import Consumer, delete_topology

PUBLISHER = """
import asyncio, sys, aio_pika, json
async def main(url, exchange, n):
    conn = await aio_pika.connect(url)
    ch = await conn.channel(publisher_confirms=True)
    ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    body = json.dumps({"game_id": "x", "notification_id": "y"}).encode()
    window = []
    for i in range(n):
        msg = aio_pika.Message(body, message_id=f"m{i}", delivery_mode=2)
        window.append(ex.publish(msg, routing_key="game.reminder_due"))
        if len(window) >= 1000:
            await asyncio.gather(*window)
            window = []
    await asyncio.gather(*window)
    await conn.close()
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def run(url: str, n: int) -> None:
    exchange = f"bench.{uuid.uuid4().hex[:12]}"
    consumer = Consumer(url, exchange)
    await consumer.start(consume=False)
    try:
        t0 = time.time()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PUBLISHER, url, exchange, str(n), stdout=subprocess.DEVNULL
        )
        await asyncio.wait_for(proc.wait(), 600)
        published = time.time() - t0
        print(f"publisher: {n} confirmed in {published:.2f} s: {n / published:.0f} msg/s")
        await consumer.begin_consuming()
        missing = await consumer.wait_all({f"m{i}" for i in range(n)}, time.monotonic() + 300)
        times = sorted(a.wall for a in consumer.arrivals.values())
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        rate = len(times) / span if span else 0
        print(
            f"consumer: {len(times)} received ({len(missing)} missing) in {span:.2f} s: "
            f"{rate:.0f} msg/s"
        )
    finally:
        await consumer.close()
        await delete_topology(url, exchange)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=100000)
    args = parser.parse_args()
    asyncio.run(run(args.rabbitmq_url, args.messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
