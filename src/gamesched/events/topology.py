"""Broker topology, named from GAMESCHED_EXCHANGE and declared idempotently by whichever of the
scheduler and the bot starts first.

* ``<exchange>``: topic exchange, durable.
* ``<exchange>.bot``: the bot's quorum queue (replicated in a cluster), bound to ``game.#``,
  dead-lettering to ``<exchange>.dlq`` (at-least-once dead-lettering needs ``reject-publish``).
* ``<exchange>.dlq``: quorum queue for messages that keep failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange


@dataclass(frozen=True, slots=True)
class Names:
    exchange: str

    @property
    def bot_queue(self) -> str:
        return f"{self.exchange}.bot"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.exchange}.dlq"


async def declare(channel: AbstractChannel, names: Names) -> AbstractExchange:
    """Declare the exchange, the bot's queue and the dead-letter queue; return the exchange."""
    exchange = await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    await channel.declare_queue(
        names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    bot = await channel.declare_queue(
        names.bot_queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": names.dead_letter_queue,
        },
    )
    await bot.bind(exchange, routing_key="game.#")
    return exchange
