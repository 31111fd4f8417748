"""Shared pieces of the bot tests: a scripted Discord stand-in, seeding, messages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, orm, text

from gamesched.bot import discord, plan
from gamesched.db import engine as db_engine
from gamesched.events import schemas
from gamesched.events.schemas import Outgoing
from gamesched.settings import Settings

DEADLINE = 10.0


@dataclass
class Scripted(discord.DryRun):
    """The dry run, plus failures on demand: ``fail[(action, target)]`` is a list of errors to
    raise on the next calls."""

    fail: dict[tuple[str, str], list[Exception]] = field(default_factory=dict)

    def _maybe_fail(self, action: str, target: str) -> None:
        errors = self.fail.get((action, target))
        if errors:
            raise errors.pop(0)

    async def post(self, channel_id: str, announcement: plan.Announcement) -> str:
        self._maybe_fail("post", channel_id)
        return await super().post(channel_id, announcement)

    async def edit(self, channel_id: str, message_id: str, announcement: plan.Announcement):
        self._maybe_fail("edit", message_id)
        await super().edit(channel_id, message_id, announcement)

    async def dm(self, user_id: str, content: str, nonce: str) -> None:
        self._maybe_fail("dm", user_id)
        await super().dm(user_id, content, nonce)

    def calls(self, action: str) -> list[discord.Sent]:
        return [s for s in self.sent if s.action == action]


@pytest.fixture
def engine(fresh_settings: Settings) -> Iterator[Engine]:
    eng = db_engine.make_engine(fresh_settings)
    yield eng
    eng.dispose()


def seed_channel(s: orm.Session) -> tuple[uuid.UUID, uuid.UUID]:
    """Guild '10' and its channel '20'; their ids."""
    guild: uuid.UUID = s.execute(
        text("INSERT INTO guilds (discord_guild_id, name) VALUES ('10', 'g') RETURNING id")
    ).scalar_one()
    channel: uuid.UUID = s.execute(
        text(
            "INSERT INTO channels (guild_id, discord_channel_id, name) "
            "VALUES (:g, '20', 'c') RETURNING id"
        ),
        {"g": guild},
    ).scalar_one()
    return guild, channel


def seed(engine: Engine) -> uuid.UUID:
    with orm.Session(engine) as s, s.begin():
        guild, channel = seed_channel(s)
        game: uuid.UUID = s.execute(
            text(
                "INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, "
                "host_discord_id, max_players) "
                "VALUES (:g, :c, 'Catan', now() + interval '1 day', '1', 2) RETURNING id"
            ),
            {"g": guild, "c": channel},
        ).scalar_one()
        for user in ("2", "3", "4"):
            s.execute(
                text(
                    "INSERT INTO game_participants (game_id, discord_user_id, joined_at) "
                    "VALUES (:g, :u, clock_timestamp())"
                ),
                {"g": game, "u": user},
            )
    return game


def reminder_message(engine: Engine, game: uuid.UUID) -> Outgoing:
    with orm.Session(engine) as s, s.begin():
        when = datetime.now(UTC)
        row = s.execute(
            text(
                "INSERT INTO notification_schedule (game_id, reminder_minutes, "
                "notification_time) VALUES (:g, 60, :t) RETURNING id, "
                "(SELECT scheduled_at FROM game_sessions WHERE id = :g)"
            ),
            {"g": game, "t": when},
        ).one()
    event = schemas.ReminderDue(
        game_id=game,
        notification_id=row[0],
        reminder_minutes=60,
        scheduled_at=row[1],
        notification_time=when,
    )
    return Outgoing(str(row[0]), schemas.REMINDER_DUE, event.body())


def change(routing_key: str, game: uuid.UUID, **fields: Any) -> Outgoing:
    return Outgoing(str(uuid.uuid4()), routing_key, {"game_id": str(game), **fields})


def message_id_of(engine: Engine, game: uuid.UUID) -> str | None:
    with orm.Session(engine) as s:
        value: str | None = s.execute(
            text("SELECT discord_message_id FROM game_sessions WHERE id = :g"), {"g": game}
        ).scalar_one()
        return value
