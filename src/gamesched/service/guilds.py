"""Registering and configuring guilds and their channels.

A change of a channel's or guild's ``reminder_minutes`` (or the guild's default duration)
re-plans, in the same transaction, the pending schedule of every open game that inherits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import games as db_games
from gamesched.db import guilds as db_guilds
from gamesched.db import models, schedule
from gamesched.service import scope

#: "Leave this setting as it is" in configure_*: distinct from None, which clears a setting.
_KEEP: Any = object()


def register_guild(
    session: Session,
    *,
    discord_guild_id: str,
    name: str,
    reminder_minutes: Sequence[int],
    default_duration_minutes: int,
) -> models.Guild:
    """Register a guild; Conflict if it already is."""
    guild = db_guilds.insert_guild(
        session,
        discord_guild_id=discord_guild_id,
        name=name,
        reminder_minutes=rules.validate_minutes(reminder_minutes),
        default_duration_minutes=default_duration_minutes,
    )
    if guild is None:
        raise errors.Conflict(
            f"guild {discord_guild_id} is already registered", field="discord_guild_id"
        )
    return guild


def configure_guild(
    session: Session,
    *,
    discord_guild_id: str,
    guild_scope: uuid.UUID | None,
    now: datetime,
    name: str = _KEEP,
    reminder_minutes: Sequence[int] = _KEEP,
    default_duration_minutes: int = _KEEP,
) -> models.Guild:
    """Change a guild; games inheriting its reminders or its duration are re-planned."""
    guild = scope.get_guild(
        session, discord_guild_id=discord_guild_id, guild_scope=guild_scope, lock=True
    )
    replan = False
    if name is not _KEEP:
        guild.name = name
    if reminder_minutes is not _KEEP:
        new = list(rules.validate_minutes(reminder_minutes))
        replan = replan or new != list(guild.reminder_minutes)
        guild.reminder_minutes = new
    if default_duration_minutes is not _KEEP:
        replan = replan or default_duration_minutes != guild.default_duration_minutes
        guild.default_duration_minutes = default_duration_minutes
    guild.updated_at = now
    session.flush()
    if replan:
        _replan_inheriting(session, guild=guild, channel=None, now=now)
    return guild


def register_channel(
    session: Session,
    *,
    discord_guild_id: str,
    guild_scope: uuid.UUID | None,
    discord_channel_id: str,
    name: str,
    reminder_minutes: Sequence[int] | None,
) -> models.Channel:
    """Register a channel of a guild. Already registered: Conflict, except for a guild-scoped
    caller when another guild owns it: NotFound, the same as for a channel it may not see."""
    guild = scope.get_guild(session, discord_guild_id=discord_guild_id, guild_scope=guild_scope)
    channel = db_guilds.insert_channel(
        session,
        guild_id=guild.id,
        discord_channel_id=discord_channel_id,
        name=name,
        reminder_minutes=None
        if reminder_minutes is None
        else rules.validate_minutes(reminder_minutes),
    )
    if channel is None:
        owner = db_guilds.channel_owner(session, discord_channel_id=discord_channel_id)
        if guild_scope is not None and owner not in (None, guild_scope):
            # Another guild's channel: a guild token learns nothing about it (not even that it
            # is registered), exactly as for any other id it may not see.
            raise scope.channel_not_found()
        raise errors.Conflict(
            f"channel {discord_channel_id} is already registered", field="discord_channel_id"
        )
    return channel


def configure_channel(
    session: Session,
    *,
    discord_channel_id: str,
    guild_scope: uuid.UUID | None,
    now: datetime,
    name: str = _KEEP,
    reminder_minutes: Sequence[int] | None = _KEEP,
) -> models.Channel:
    """Change a channel; ``reminder_minutes`` None means "inherit the guild's" again."""
    channel, guild = scope.get_channel(
        session, discord_channel_id=discord_channel_id, guild_scope=guild_scope, lock=True
    )
    if name is not _KEEP:
        channel.name = name
    replan = False
    if reminder_minutes is not _KEEP:
        new = None if reminder_minutes is None else list(rules.validate_minutes(reminder_minutes))
        old = None if channel.reminder_minutes is None else list(channel.reminder_minutes)
        replan = new != old
        channel.reminder_minutes = new
    channel.updated_at = now
    session.flush()
    if replan:
        _replan_inheriting(session, guild=guild, channel=channel, now=now)
    return channel


def _replan_inheriting(
    session: Session, *, guild: models.Guild, channel: models.Channel | None, now: datetime
) -> None:
    """Re-plan the open games of a channel (or of a whole guild) that inherit its setting.

    For a guild, every open game is re-planned: those with reminders of their own or of their
    channel keep them (sync is a no-op for them) but still follow the guild's default duration,
    which they may inherit.
    """
    games = db_games.open_games_of(
        session,
        guild_id=guild.id,
        inheriting_from_channel=None if channel is None else channel.id,
    )
    for game, game_channel in games:
        schedule.sync_schedule(session, game=game, channel=game_channel, guild=guild, now=now)
