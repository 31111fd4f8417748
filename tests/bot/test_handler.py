"""The bot's handler on real deliveries of the PostgreSQL transport and a real database, with
Discord replaced at the outer edge by a scripted stand-in of the bot's Discord interface."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, orm

from gamesched.bot import discord, handler
from gamesched.events import pgqueue, schemas
from gamesched.events.schemas import Outgoing
from gamesched.settings import Settings
from tests.bot._helpers import (
    DEADLINE,
    Scripted,
    change,
    message_id_of,
    reminder_message,
    seed,
)
from tests.scheduler._helpers import aconnect, fetch_one


class Bot:
    def __init__(self, settings: Settings, engine: Engine, fake: Scripted, queue: str) -> None:
        self.settings = settings
        self.queue = queue
        self.handler = handler.Handler(orm.sessionmaker(engine), fake)
        self.source = pgqueue.PgSource(
            settings.libpq_url, queue, max_wait=60, retry_delays=(0.1, 0.1, 0.1)
        )
        self._it: AsyncIterator[Any] | None = None

    async def publish(self, *messages: Outgoing) -> None:
        async with await aconnect(self.settings) as conn, conn.transaction():
            await pgqueue.PgSink(self.queue).publish(conn, list(messages))

    async def handle(self, n: int = 1) -> list[str]:
        assert self._it is not None
        outcomes = []
        for _ in range(n):
            delivery = await asyncio.wait_for(anext(self._it), DEADLINE)
            outcomes.append(await self.handler.handle(delivery))
        return outcomes


@asynccontextmanager
async def bot(settings: Settings, engine: Engine, fake: Scripted) -> AsyncIterator[Bot]:
    b = Bot(settings, engine, fake, f"bot.{uuid.uuid4().hex[:8]}")
    await b.source.connect()
    b._it = b.source.deliveries()
    try:
        yield b
    finally:
        await b.source.close()


async def test_created_posts_then_updates_edit_the_same_message(
    fresh_settings: Settings, engine: Engine
):
    game = seed(engine)
    fake = Scripted()
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(change(schemas.GAME_CREATED, game))
        assert await b.handle() == ["done"]
        (posted,) = fake.calls("post")
        assert posted.target == "20" and "'Catan'" in posted.text and "2/2" in posted.text
        assert message_id_of(engine, game) == posted.message_id
        await b.publish(change(schemas.GAME_UPDATED, game))
        assert await b.handle() == ["done"]
        (edited,) = fake.calls("edit")
        assert edited.message_id == posted.message_id
        assert len(fake.calls("post")) == 1


async def test_a_deleted_announcement_is_posted_again(fresh_settings: Settings, engine: Engine):
    game = seed(engine)
    fake = Scripted()
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(change(schemas.GAME_CREATED, game))
        await b.handle()
        first = message_id_of(engine, game)
        assert first is not None
        fake.fail[("edit", first)] = [discord.MessageGone("Unknown Message", code=10008)]
        await b.publish(change(schemas.GAME_UPDATED, game))
        assert await b.handle() == ["done"]
        assert len(fake.calls("post")) == 2
        assert message_id_of(engine, game) not in (None, first)


async def test_a_message_handled_twice_acts_once(fresh_settings: Settings, engine: Engine):
    game = seed(engine)
    fake = Scripted()
    created = change(schemas.GAME_CREATED, game)
    reminder = reminder_message(engine, game)
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(created, reminder)
        assert sorted(await b.handle(2)) == ["done", "done"]
        await b.publish(created, reminder)  # republished by hand: same message ids
        assert await b.handle(2) == ["duplicate", "duplicate"]
    assert len(fake.calls("post")) == 1
    assert sorted(s.target for s in fake.calls("dm")) == ["1", "2", "3", "4"]


async def test_reminder_reaches_host_players_and_waitlist_and_is_recorded(
    fresh_settings: Settings, engine: Engine
):
    game = seed(engine)
    fake = Scripted()
    fake.fail[("dm", "3")] = [discord.DmClosed("Cannot send messages to this user", code=50007)]
    reminder = reminder_message(engine, game)
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(reminder)
        assert await b.handle() == ["done"]
    dms = {s.target: s.text for s in fake.calls("dm")}
    assert sorted(dms) == ["1", "2", "4"]  # 3 has closed DMs and does not stop the others
    assert "#1 on the waitlist" in dms["4"]
    async with await aconnect(fresh_settings) as conn:
        cur = await conn.execute(
            "SELECT discord_user_id, status FROM reminder_deliveries ORDER BY discord_user_id"
        )
        assert await cur.fetchall() == [
            ("1", "sent"),
            ("2", "sent"),
            ("3", "undeliverable"),
            ("4", "sent"),
        ]


async def test_a_transient_failure_is_retried_and_nobody_is_dmed_twice(
    fresh_settings: Settings, engine: Engine
):
    game = seed(engine)
    fake = Scripted()
    fake.fail[("dm", "3")] = [discord.Transient("502 Bad Gateway", status=502)]
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(reminder_message(engine, game))
        assert await b.handle() == ["retried"]
        assert await b.handle() == ["done"]  # after the retry delay
    assert sorted(s.target for s in fake.calls("dm")) == ["1", "2", "3", "4"]


async def test_malformed_and_unknown_messages_are_parked(fresh_settings: Settings, engine: Engine):
    fake = Scripted()
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(
            Outgoing("bad-1", schemas.GAME_UPDATED, '{"game_id": "not a uuid"}'),
            Outgoing("bad-2", "game.exploded", "{}"),
        )
        assert await b.handle(2) == ["parked", "parked"]
    parked = await pgqueue.PgDeadLetters(fresh_settings.libpq_url, b.queue).list()
    reasons = {p.message_id: p.reason for p in parked}
    assert reasons["bad-1"].startswith("game.updated: game_id: ")
    assert reasons["bad-2"] == "unknown routing key 'game.exploded'"
    assert fake.sent == []


async def test_a_deleted_game_removes_its_announcement(fresh_settings: Settings, engine: Engine):
    fake = Scripted()
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(
            change(
                schemas.GAME_DELETED,
                uuid.uuid4(),
                discord_channel_id="20",
                discord_message_id="99",
            )
        )
        assert await b.handle() == ["done"]
    assert [(s.action, s.target, s.message_id) for s in fake.sent] == [("delete", "20", "99")]


async def test_reminder_for_a_started_game_dms_nobody(fresh_settings: Settings, engine: Engine):
    game = seed(engine)
    reminder = reminder_message(engine, game)
    async with await aconnect(fresh_settings) as conn:
        await conn.execute(
            "UPDATE game_sessions SET status = 'IN_PROGRESS', scheduled_at = now() WHERE id = %s",
            (str(game),),
        )
    fake = Scripted()
    async with bot(fresh_settings, engine, fake) as b:
        await b.publish(reminder)
        assert await b.handle() == ["game_in_progress"]
    assert fake.sent == []
    async with await aconnect(fresh_settings) as conn:
        assert await fetch_one(conn, "SELECT count(*) FROM reminder_deliveries") == 0
