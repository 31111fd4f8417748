#!/usr/bin/env python3
"""How fast can the benchmark's consumer take messages? (A ceiling on any drain rate it reports.)

A separate publisher process sends N persistent ``game.reminder_due`` messages with unique
message_ids to a fresh exchange as fast as it can (with publisher confirms, in windows of 1,000)
while the consumer's queue is bound but not consumed; then the consumer (the one every scenario
uses) starts and drains the queue. Prints both rates: publisher (confirmed msg/s) and consumer
(N / (last arrival - first arrival)), and the CPU the publisher and RabbitMQ spent per 1,000
messages. ``--quorum`` also binds a quorum queue like the daemon's ``<exchange>.bot``, so the
broker's share of a burst can be told apart from the daemon's.

    .venv/bin/python bench/consumer_capacity.py --messages 100000
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid

from benchmarks import _cpu
from benchmarks._consumer import Consumer, delete_topology

PUBLISHER = """
import asyncio, sys, time, aio_pika, json
async def main(url, exchange, n, quorum):
    conn = await aio_pika.connect(url)
    ch = await conn.channel(publisher_confirms=True)
    ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    if quorum:
        q = await ch.declare_queue(exchange + ".bot", durable=True,
                                   arguments={"x-queue-type": "quorum"})
        await q.bind(ex, routing_key="game.#")
    body = json.dumps({"game_id": "0" * 36, "notification_id": "1" * 36,
                       "reminder_minutes": 100000, "scheduled_at": "2026-12-26T15:00:00+00:00",
                       "notification_time": "2026-11-26T15:00:00+00:00"}).encode()
    print("ready", flush=True)
    await asyncio.sleep(0.5)
    cpu0 = time.process_time()
    window = []
    for i in range(n):
        msg = aio_pika.Message(body, message_id=f"m{i}", delivery_mode=2)
        window.append(ex.publish(msg, routing_key="game.reminder_due"))
        if len(window) >= 1000:
            await asyncio.gather(*window)
            window = []
    await asyncio.gather(*window)
    print(time.process_time() - cpu0, flush=True)
    await conn.close()
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"))
"""


async def run(url: str, n: int, quorum: bool) -> None:
    exchange = f"bench.{uuid.uuid4().hex[:12]}"
    consumer = Consumer(url, exchange)
    await consumer.start(consume=False)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PUBLISHER,
            url,
            exchange,
            str(n),
            "1" if quorum else "0",
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 30)  # "ready"
        cpu0 = _cpu.snapshot([])
        t0 = time.time()
        line = await asyncio.wait_for(proc.stdout.readline(), 600)
        published = time.time() - t0
        cpu = _cpu.delta(cpu0, _cpu.snapshot([]), n)
        await asyncio.wait_for(proc.wait(), 30)
        pub_cpu = float(line or 0)
        print(
            f"publisher ({'quorum queue + ' if quorum else ''}consumer queue): {n} confirmed "
            f"in {published:.2f} s = {n / published:.0f} msg/s; CPU per 1,000 messages: "
            f"publisher {1e6 * pub_cpu / n:.0f} ms, RabbitMQ "
            f"{cpu['rabbitmq_cpu_ms_per_1000_events']:.0f} ms; machine busy "
            f"{cpu.get('machine_busy_fraction', 0) * 100:.0f} %"
        )
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
        try:
            await consumer.close()
        finally:
            await delete_topology(url, exchange)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument(
        "--quorum",
        action="store_true",
        help="also bind a quorum queue to game.#, like the daemon's <exchange>.bot",
    )
    args = parser.parse_args()
    asyncio.run(run(args.rabbitmq_url, args.messages, args.quorum))
    return 0


if __name__ == "__main__":
    sys.exit(main())
