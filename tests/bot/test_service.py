"""The bot's consuming loop on the PostgreSQL transport: throughput of a burst, a database cut
while messages keep arriving, and a stop with deliveries in hand."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import Engine, orm

from gamesched.bot import handler, plan, service
from gamesched.events import pgqueue, schemas
from gamesched.events.schemas import Outgoing
from gamesched.settings import Settings
from tests.bot._helpers import Scripted, change, seed
from tests.scheduler._helpers import aconnect, fetch_one, wait_until


async def publish(settings: Settings, queue: str, *messages: Outgoing) -> None:
    async with await aconnect(settings) as conn, conn.transaction():
        await pgqueue.PgSink(queue).publish(conn, list(messages))


def make(settings: Settings, engine: Engine, fake: Scripted, queue: str) -> service.BotService:
    source = pgqueue.PgSource(settings.libpq_url, queue, prefetch=8, max_wait=60)
    return service.BotService(
        source,
        handler.Handler(orm.sessionmaker(engine), fake, concurrency=8),
        metrics=service.BotMetrics(),
        concurrency=8,
    )


async def queue_is_empty(settings: Settings) -> bool:
    async with await aconnect(settings) as conn:
        return bool(await fetch_one(conn, "SELECT count(*) = 0 FROM event_queue"))


async def test_every_message_handled_once_through_a_database_cut(
    fresh_settings: Settings, engine: Engine
):
    game = seed(engine)
    fake = Scripted()
    queue = f"bot.{uuid.uuid4().hex[:8]}"
    bot = make(fresh_settings, engine, fake, queue)
    running = asyncio.create_task(bot.run())
    try:
        await wait_until(lambda: _true(bot.connected), 10, "bot connected")
        first = [change(schemas.GAME_UPDATED, game) for _ in range(20)]
        await publish(fresh_settings, queue, change(schemas.GAME_CREATED, game), *first)
        await wait_until(lambda: queue_is_empty(fresh_settings), 20, "first batch handled")
        # cut the consumer's connections; keep publishing while it is away
        async with await aconnect(fresh_settings) as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (f"gamesched-consumer-{queue}",),
            )
        second = [change(schemas.GAME_UPDATED, game) for _ in range(20)]
        await publish(fresh_settings, queue, *second)
        await wait_until(lambda: queue_is_empty(fresh_settings), 30, "second batch handled")
        assert not running.done()
    finally:
        bot.stop()
        assert await asyncio.wait_for(running, 10) == 0
    outcomes = bot.metrics.handled
    done = outcomes.labels(schemas.GAME_UPDATED, "done")._value.get()
    assert done == 40
    assert len(fake.calls("post")) == 1  # one announcement, edited 40 times
    assert len(fake.calls("edit")) == 40


async def test_stop_lets_deliveries_in_hand_finish(fresh_settings: Settings, engine: Engine):
    game = seed(engine)
    release = asyncio.Event()
    entered = asyncio.Event()

    class Slow(Scripted):
        async def post(self, channel_id: str, announcement: plan.Announcement) -> str:
            entered.set()
            await release.wait()
            return await super().post(channel_id, announcement)

    fake = Slow()
    queue = f"bot.{uuid.uuid4().hex[:8]}"
    bot = make(fresh_settings, engine, fake, queue)
    running = asyncio.create_task(bot.run())
    await publish(fresh_settings, queue, change(schemas.GAME_CREATED, game))
    await asyncio.wait_for(entered.wait(), 10)
    bot.stop()  # a delivery is in hand, half done
    await asyncio.wait_for(bot.draining.wait(), 10)  # no longer taking deliveries...
    release.set()  # ...when Discord answers the one in hand
    assert await asyncio.wait_for(running, 10) == 0
    assert len(fake.calls("post")) == 1
    assert await queue_is_empty(fresh_settings)  # handled and acked, not left for a redelivery


async def _true(value: bool) -> bool:
    return value
