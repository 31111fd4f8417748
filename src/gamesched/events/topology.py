"""Broker topology, named from GAMESCHED_EXCHANGE and declared idempotently by whichever of the
scheduler and the bot starts first.

* ``<exchange>``: topic exchange, durable.
* ``<exchange>.bot``: the bot's quorum queue (replicated in a cluster), bound to ``game.#``,
  dead-lettering what expires in it to ``<exchange>.dlq``.
* ``<exchange>.dlq``: quorum queue for parked messages: those that kept failing, could not be
  parsed, or expired before they were consumed. No TTL, no delivery limit: nothing leaves it but
  an operator's ``dlq replay``.
* ``<exchange>.retry.<n>`` (declared by the consumer, ``declare_retry_queues``): quorum queues
  with no consumer, where a message waits ``RETRY_DELAYS[n-1]`` (``x-message-ttl``) before
  RabbitMQ dead-letters it back to ``<exchange>.bot``.

Dead-lettering is at-least-once (RabbitMQ 3.10+, quorum queues only): the source queue keeps a
message until the target queue has confirmed it, where at-most-once would drop it if the target
were unavailable. It requires ``x-overflow: reject-publish``; no queue here has a length limit, so
that changes nothing else.

A queue cannot change its arguments once declared (a declare with others fails with
PRECONDITION_FAILED). A bot queue declared before at-least-once dead-lettering (without it) is
used as it is, with a warning at each connect. To upgrade it: stop the scheduler and the bot,
delete the queue once it is empty, start them again. Or, keeping it, apply a policy
(``rabbitmqctl set_policy gamesched-dlx '^<exchange>\\.bot$'
'{"dead-letter-strategy":"at-least-once","overflow":"reject-publish"}' --apply-to queues``;
the warning stays, as a declare cannot see policies).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from gamesched import errors

log = logging.getLogger(__name__)

# What at-least-once dead-lettering needs (see the module doc).
AT_LEAST_ONCE: dict[str, Any] = {
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


@dataclass(frozen=True, slots=True)
class Names:
    exchange: str

    @property
    def bot_queue(self) -> str:
        return f"{self.exchange}.bot"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.exchange}.dlq"

    def retry_queue(self, n: int) -> str:
        """Where a message waits before its ``n+1``-th delivery (``n`` from 1)."""
        return f"{self.exchange}.retry.{n}"

    def queues(self, retries: int) -> list[str]:
        """Every queue of this namespace, with ``retries`` retry queues (for clean-up)."""
        retry = [self.retry_queue(n) for n in range(1, retries + 1)]
        return [self.bot_queue, self.dead_letter_queue, *retry]


def bot_queue_arguments(names: Names) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.dead_letter_queue,
        **AT_LEAST_ONCE,
    }


def retry_queue_arguments(names: Names, delay: float) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": max(1, round(delay * 1000)),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.bot_queue,
        **AT_LEAST_ONCE,
    }


async def declare(channel: AbstractChannel, names: Names) -> AbstractExchange:
    """Declare the exchange, the bot's queue and the dead-letter queue; return the exchange."""
    exchange = await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    await channel.declare_queue(
        names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    try:
        bot = await channel.declare_queue(
            names.bot_queue, durable=True, arguments=bot_queue_arguments(names)
        )
    except aio_pika.exceptions.ChannelPreconditionFailed as exc:
        # Declared by an older version with other arguments: the broker closed the channel.
        log.warning(
            "queue %s exists with other arguments, used as it is (%s); see events/topology.py "
            "to upgrade it to at-least-once dead-lettering",
            names.bot_queue,
            exc,
            extra={"action": "legacy_queue"},
        )
        await channel.reopen()
        bot = await channel.declare_queue(names.bot_queue, passive=True)
    await bot.bind(exchange, routing_key="game.#")
    return exchange


async def declare_retry_queues(
    channel: AbstractChannel, names: Names, delays: Sequence[float]
) -> None:
    """Declare ``<exchange>.retry.1..len(delays)``; only a consumer that retries needs them."""
    for n, delay in enumerate(delays, start=1):
        try:
            await channel.declare_queue(
                names.retry_queue(n), durable=True, arguments=retry_queue_arguments(names, delay)
            )
        except aio_pika.exceptions.ChannelPreconditionFailed as exc:
            # Another retry schedule declared it: not an outage, so not worth reconnecting for.
            raise errors.ConfigError(
                f"{names.retry_queue(n)} exists with other arguments than a {delay} s delay "
                f"({exc}); let it drain, delete it, and start again"
            ) from exc
