"""Registering and configuring guilds and channels as use cases."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.service import guilds
from tests.service.conftest import NOW, Place, new_game, register, snowflake


def _reminder_minutes(session: Session, game_id: uuid.UUID) -> list[int]:
    rows = session.scalars(
        text(
            "SELECT reminder_minutes FROM notification_schedule WHERE game_id = :g"
            " ORDER BY reminder_minutes"
        ),
        {"g": game_id},
    )
    return list(rows)


def test_a_guild_is_registered_once(db_session: Session, place: Place) -> None:
    with pytest.raises(errors.Conflict) as conflict:
        guilds.register_guild(
            db_session,
            discord_guild_id=place.discord_guild_id,
            name="again",
            reminder_minutes=[],
            default_duration_minutes=60,
        )
    assert conflict.value.field == "discord_guild_id"


def test_reminder_minutes_are_checked_before_anything_is_written(db_session: Session) -> None:
    with pytest.raises(errors.InvalidInput):
        register(db_session, reminder_minutes=[rules.MAX_REMINDER_MINUTES + 1])
    with pytest.raises(errors.InvalidInput):
        register(db_session, reminder_minutes=[5, 5])


def test_another_guilds_channel_is_404_for_a_guild_and_409_for_an_admin(
    db_session: Session, place: Place
) -> None:
    squatter = register(db_session)

    def claim(guild_scope: uuid.UUID | None) -> None:
        guilds.register_channel(
            db_session,
            discord_guild_id=squatter.discord_guild_id,
            guild_scope=guild_scope,
            discord_channel_id=place.discord_channel_id,
            name="mine",
            reminder_minutes=None,
        )

    with pytest.raises(errors.NotFound) as hidden:
        claim(squatter.guild_id)
    assert hidden.value.field == "discord_channel_id"
    with pytest.raises(errors.Conflict):
        claim(None)


def test_a_channel_override_replans_only_its_inheriting_games(
    db_session: Session, place: Place
) -> None:
    inheriting = new_game(db_session, place).game.id
    own = new_game(db_session, place, reminder_minutes=[15]).game.id
    assert _reminder_minutes(db_session, inheriting) == [60]

    guilds.configure_channel(
        db_session,
        discord_channel_id=place.discord_channel_id,
        guild_scope=place.guild_id,
        now=NOW,
        reminder_minutes=[10, 30],
    )
    assert _reminder_minutes(db_session, inheriting) == [10, 30]
    assert _reminder_minutes(db_session, own) == [15]

    # None: inherit the guild's again
    guilds.configure_channel(
        db_session,
        discord_channel_id=place.discord_channel_id,
        guild_scope=place.guild_id,
        now=NOW,
        reminder_minutes=None,
    )
    assert _reminder_minutes(db_session, inheriting) == [60]


def test_a_guild_duration_change_moves_completion(db_session: Session, place: Place) -> None:
    game = new_game(db_session, place).game
    guilds.configure_guild(
        db_session,
        discord_guild_id=place.discord_guild_id,
        guild_scope=place.guild_id,
        now=NOW,
        default_duration_minutes=30,
    )
    completes = db_session.scalar(
        text(
            "SELECT transition_time FROM game_status_schedule"
            " WHERE game_id = :g AND target_status = 'COMPLETED'"
        ),
        {"g": game.id},
    )
    assert completes == game.scheduled_at + timedelta(minutes=30)


def test_configuring_another_guild_is_not_found(db_session: Session, place: Place) -> None:
    stranger = register(db_session)
    with pytest.raises(errors.NotFound):
        guilds.configure_guild(
            db_session,
            discord_guild_id=place.discord_guild_id,
            guild_scope=stranger.guild_id,
            now=NOW,
            name="taken",
        )
    with pytest.raises(errors.NotFound):
        guilds.configure_channel(
            db_session,
            discord_channel_id=place.discord_channel_id,
            guild_scope=stranger.guild_id,
            now=NOW,
            name="taken",
        )
    with pytest.raises(errors.NotFound):
        guilds.configure_channel(
            db_session,
            discord_channel_id=snowflake(),
            guild_scope=None,
            now=NOW,
            name="nobody's",
        )
