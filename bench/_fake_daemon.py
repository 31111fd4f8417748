"""A minimal stand-in for ``gamesched scheduler`` (reminders only), to self-test the harness.

NOT the product: it exists so that the harness can be run end to end before the real daemon
lands (``--daemon-cmd ".venv/bin/python bench/_fake_daemon.py"``). It follows the same contract:
env configuration, /readyz on METRICS_PORT, LISTEN + sleep until the next due time, claim due
rows FOR UPDATE SKIP LOCKED, publish with confirms, mark them sent, exit 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import UTC, datetime

import aio_pika
import psycopg


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readline()
    body = b"ok\n"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    writer.close()


async def main() -> int:
    db = os.environ["DATABASE_URL"]
    batch = int(os.environ.get("SCHEDULER_BATCH_SIZE", "500"))
    max_wait = float(os.environ.get("SCHEDULER_MAX_WAIT_SECONDS", "300"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    amqp = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    channel = await amqp.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(
        os.environ["GAMESCHED_EXCHANGE"], aio_pika.ExchangeType.TOPIC, durable=True
    )
    listen = await psycopg.AsyncConnection.connect(db, autocommit=True)
    await listen.execute("LISTEN notification_schedule_changed")
    work = await psycopg.AsyncConnection.connect(db)
    server = await asyncio.start_server(_http, "127.0.0.1", int(os.environ["METRICS_PORT"]))
    while not stop.is_set():
        async with work.transaction():
            cur = await work.execute(
                "SELECT n.id::text, n.game_id::text, n.reminder_minutes, n.notification_time, "
                "g.scheduled_at FROM notification_schedule n JOIN game_sessions g "
                "ON g.id = n.game_id WHERE NOT n.sent AND n.notification_time <= now() "
                "ORDER BY n.notification_time LIMIT %s FOR UPDATE OF n SKIP LOCKED",
                (batch,),
            )
            rows = await cur.fetchall()
            now = datetime.now(UTC)
            pubs = []
            for rid, gid, minutes, due, start in rows:
                body = {
                    "game_id": gid,
                    "notification_id": rid,
                    "reminder_minutes": minutes,
                    "scheduled_at": start.isoformat(),
                    "notification_time": due.isoformat(),
                }
                msg = aio_pika.Message(
                    json.dumps(body).encode(),
                    message_id=rid,
                    timestamp=now,
                    type="game.reminder_due",
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    expiration=max(1.0, (start - now).total_seconds()),
                )
                pubs.append(exchange.publish(msg, routing_key="game.reminder_due"))
            await asyncio.gather(*pubs)
            if rows:
                await work.execute(
                    "UPDATE notification_schedule SET sent = true, sent_at = clock_timestamp() "
                    "WHERE id = ANY(%s::uuid[])",
                    ([r[0] for r in rows],),
                )
        if len(rows) == batch:
            continue
        cur = await work.execute(
            "SELECT extract(epoch FROM min(notification_time) - now()) "
            "FROM notification_schedule WHERE NOT sent"
        )
        row = await cur.fetchone()
        await work.commit()
        wait = max_wait if row is None or row[0] is None else min(max_wait, float(row[0]))
        if wait <= 0:
            continue
        gen = listen.notifies(timeout=wait, stop_after=1)
        waiter = asyncio.ensure_future(anext(gen, None))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()
    server.close()
    await amqp.close()
    await listen.close()
    await work.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
