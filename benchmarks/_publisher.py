"""Publisher process of ``consumer_capacity``: N persistent messages as fast as confirms allow.

Run as ``python -m benchmarks._publisher URL EXCHANGE N QUORUM`` (a process of its own, so its
CPU is not the consumer's). Prints ``ready``, waits 0.5 s, publishes with publisher confirms in
windows of 1,000, then prints the CPU seconds it spent publishing.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aio_pika

BODY = json.dumps(
    {
        "game_id": "0" * 36,
        "notification_id": "1" * 36,
        "reminder_minutes": 100000,
        "scheduled_at": "2026-12-26T15:00:00+00:00",
        "notification_time": "2026-11-26T15:00:00+00:00",
    }
).encode()


async def publish(url: str, exchange: str, n: int, quorum: bool) -> float:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        if quorum:  # like the daemon's <exchange>.bot
            q = await ch.declare_queue(
                f"{exchange}.bot", durable=True, arguments={"x-queue-type": "quorum"}
            )
            await q.bind(ex, routing_key="game.#")
        print("ready", flush=True)
        await asyncio.sleep(0.5)
        cpu0 = time.process_time()
        for start in range(0, n, 1000):
            await asyncio.gather(
                *(
                    ex.publish(
                        aio_pika.Message(BODY, message_id=f"m{i}", delivery_mode=2),
                        routing_key="game.reminder_due",
                    )
                    for i in range(start, min(n, start + 1000))
                )
            )
        return time.process_time() - cpu0


def main() -> None:
    url, exchange, n, quorum = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    print(asyncio.run(publish(url, exchange, n, quorum)), flush=True)


if __name__ == "__main__":
    main()
