"""Removing what a test or benchmark run declared on RabbitMQ.

Each run uses its own exchange name; the bot's queues, its retry queues and the dead-letter
queue are named from it (:class:`gamesched.events.topology.Names`). They are quorum queues: each
one left behind holds file handles on the broker, and a broker out of them silently stops
accepting connections. Every run deletes its namespace when it ends.
"""

from __future__ import annotations

import contextlib


async def delete_namespace(url: str, exchange: str) -> None:
    """Delete every queue named from ``exchange`` (retry queues included) and the exchange;
    a broker that cannot be reached is left as it is."""
    import aio_pika

    from gamesched.events import topology, transport

    try:
        conn = await aio_pika.connect(url, timeout=5)
    except Exception:  # broker down at teardown: nothing we can clean
        return
    async with conn:
        for queue in topology.Names(exchange).queues(len(transport.RETRY_DELAYS)):
            channel = await conn.channel()  # a failed delete closes its channel
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
        channel = await conn.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(exchange)
