"""Use-case tests: the service functions called directly on a rollback-isolated session, the way
the API, the interactions endpoint and the bot call them (no HTTP)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gamesched.db import games as db_games
from gamesched.service import games, guilds

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Place:
    """A registered guild and one of its channels, with Discord ids unique to the test."""

    guild_id: uuid.UUID
    discord_guild_id: str
    discord_channel_id: str


def snowflake() -> str:
    return str(uuid.uuid4().int % 10**18)


def register(session: Session, **guild_fields: Any) -> Place:
    fields: dict[str, Any] = {
        "name": "g",
        "reminder_minutes": [60],
        "default_duration_minutes": 120,
        **guild_fields,
    }
    guild = guilds.register_guild(session, discord_guild_id=snowflake(), **fields)
    channel = guilds.register_channel(
        session,
        discord_guild_id=guild.discord_guild_id,
        guild_scope=guild.id,
        discord_channel_id=snowflake(),
        name="c",
        reminder_minutes=None,
    )
    return Place(guild.id, guild.discord_guild_id, channel.discord_channel_id)


def new_game(session: Session, place: Place, **overrides: Any) -> db_games.GameRow:
    fields: dict[str, Any] = {
        "title": "Game night",
        "description": None,
        "scheduled_at": NOW + timedelta(days=1),
        "expected_duration_minutes": None,
        "max_players": None,
        "reminder_minutes": None,
        "host_discord_id": "1",
        **overrides,
    }
    return games.create_game(
        session,
        guild_scope=place.guild_id,
        discord_channel_id=place.discord_channel_id,
        now=NOW,
        **fields,
    )


def outbox(session: Session, game_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    """The game's outbox events, sorted (one transaction writes them all at the same now())."""
    rows = session.execute(
        text("SELECT routing_key, payload FROM event_outbox WHERE game_id = :g"), {"g": game_id}
    )
    return sorted(((r.routing_key, r.payload) for r in rows), key=repr)


@pytest.fixture
def place(db_session: Session) -> Place:
    return register(db_session)
