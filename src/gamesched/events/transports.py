"""The configured event transport (``GAMESCHED_TRANSPORT``): its sink, source and dead letters.

The one place that knows both transports; the scheduler, the bot and the CLI ask here.
"""

from __future__ import annotations

from gamesched.events import pgqueue, rabbitmq, topology, transport
from gamesched.settings import Settings


def describe(settings: Settings) -> str:
    """One line for start-up logs: which transport, where."""
    if settings.transport == "rabbitmq":
        url = settings.masked(settings.amqp_url)
        return f"RabbitMQ at {url}, exchange {settings.gamesched_exchange}"
    return f"PostgreSQL queue table event_queue, queue {settings.gamesched_exchange}"


def sink(settings: Settings) -> transport.Sink:
    if settings.transport == "rabbitmq":
        return rabbitmq.RabbitSink(settings.amqp_url, topology.Names(settings.gamesched_exchange))
    return pgqueue.PgSink(settings.gamesched_exchange)


def source(settings: Settings, *, prefetch: int) -> transport.Source:
    if settings.transport == "rabbitmq":
        return rabbitmq.RabbitSource(
            settings.amqp_url, topology.Names(settings.gamesched_exchange), prefetch=prefetch
        )
    return pgqueue.PgSource(settings.libpq_url, settings.gamesched_exchange, prefetch=prefetch)


def dead_letters(settings: Settings) -> transport.DeadLetters:
    if settings.transport == "rabbitmq":
        return rabbitmq.RabbitDeadLetters(
            settings.amqp_url, topology.Names(settings.gamesched_exchange)
        )
    return pgqueue.PgDeadLetters(settings.libpq_url, settings.gamesched_exchange)
