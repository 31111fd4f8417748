"""Guilds and channels, and the reminder settings their games inherit.

A change of a channel's or guild's ``reminder_minutes`` re-plans, in the same transaction, the
pending reminders of every SCHEDULED game that inherits it (``reminder_minutes`` NULL).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import models, schedule

_UNSET: Any = object()


def _scope_check(guild: models.Guild | None, guild_scope: uuid.UUID | None) -> models.Guild:
    if guild is None or (guild_scope is not None and guild.id != guild_scope):
        raise errors.NotFound("guild not found", field="discord_guild_id")
    return guild


def get_guild(
    session: Session, *, discord_guild_id: str, guild_scope: uuid.UUID | None
) -> models.Guild:
    """The guild, or NotFound (also when a guild-scoped caller asks for another guild)."""
    guild = session.scalar(
        select(models.Guild).where(models.Guild.discord_guild_id == discord_guild_id)
    )
    return _scope_check(guild, guild_scope)


def create_guild(
    session: Session,
    *,
    discord_guild_id: str,
    name: str,
    reminder_minutes: Sequence[int],
    default_duration_minutes: int,
) -> models.Guild:
    guild_id = session.scalar(
        insert(models.Guild)
        .values(
            discord_guild_id=discord_guild_id,
            name=name,
            reminder_minutes=list(rules.validate_minutes(reminder_minutes)),
            default_duration_minutes=default_duration_minutes,
        )
        .on_conflict_do_nothing(index_elements=["discord_guild_id"])
        .returning(models.Guild.id)
    )
    if guild_id is None:
        raise errors.Conflict(
            f"guild {discord_guild_id} is already registered", field="discord_guild_id"
        )
    guild = session.get(models.Guild, guild_id)
    assert guild is not None
    return guild


def update_guild(
    session: Session,
    *,
    discord_guild_id: str,
    guild_scope: uuid.UUID | None,
    now: datetime,
    name: str = _UNSET,
    reminder_minutes: Sequence[int] = _UNSET,
    default_duration_minutes: int = _UNSET,
) -> models.Guild:
    """Change a guild; games inheriting its reminders or its duration are re-planned."""
    guild = session.scalar(
        select(models.Guild)
        .where(models.Guild.discord_guild_id == discord_guild_id)
        .with_for_update()
    )
    guild = _scope_check(guild, guild_scope)
    replan = False
    if name is not _UNSET:
        guild.name = name
    if reminder_minutes is not _UNSET:
        new = list(rules.validate_minutes(reminder_minutes))
        replan = replan or new != list(guild.reminder_minutes)
        guild.reminder_minutes = new
    if default_duration_minutes is not _UNSET:
        replan = replan or default_duration_minutes != guild.default_duration_minutes
        guild.default_duration_minutes = default_duration_minutes
    guild.updated_at = now
    session.flush()
    if replan:
        _replan_inheriting(session, guild=guild, channel=None, now=now)
    return guild


def get_channel(
    session: Session, *, discord_channel_id: str, guild_scope: uuid.UUID | None, lock: bool = False
) -> tuple[models.Channel, models.Guild]:
    """The channel and its guild, or NotFound (also outside the caller's guild)."""
    stmt = (
        select(models.Channel, models.Guild)
        .join(models.Guild, models.Guild.id == models.Channel.guild_id)
        .where(models.Channel.discord_channel_id == discord_channel_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=models.Channel)
    row = session.execute(stmt).first()
    if row is None or (guild_scope is not None and row.Guild.id != guild_scope):
        raise _channel_not_found()
    return row.Channel, row.Guild


def _channel_not_found() -> errors.NotFound:
    """The one answer for a channel the caller may not see, whether or not it exists."""
    return errors.NotFound("channel not found", field="discord_channel_id")


def create_channel(
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
    guild = get_guild(session, discord_guild_id=discord_guild_id, guild_scope=guild_scope)
    minutes = None if reminder_minutes is None else list(rules.validate_minutes(reminder_minutes))
    channel_id = session.scalar(
        insert(models.Channel)
        .values(
            guild_id=guild.id,
            discord_channel_id=discord_channel_id,
            name=name,
            reminder_minutes=minutes,
        )
        .on_conflict_do_nothing(index_elements=["discord_channel_id"])
        .returning(models.Channel.id)
    )
    if channel_id is None:
        owner = session.scalar(
            select(models.Channel.guild_id).where(
                models.Channel.discord_channel_id == discord_channel_id
            )
        )
        if guild_scope is not None and owner not in (None, guild_scope):
            # Another guild's channel: a guild token learns nothing about it (not even that it
            # is registered), exactly as for any other id it may not see.
            raise _channel_not_found()
        raise errors.Conflict(
            f"channel {discord_channel_id} is already registered", field="discord_channel_id"
        )
    channel = session.get(models.Channel, channel_id)
    assert channel is not None
    return channel


def update_channel(
    session: Session,
    *,
    discord_channel_id: str,
    guild_scope: uuid.UUID | None,
    now: datetime,
    name: str = _UNSET,
    reminder_minutes: Sequence[int] | None = _UNSET,
) -> models.Channel:
    """Change a channel; ``reminder_minutes`` None means "inherit the guild's" again."""
    channel, guild = get_channel(
        session, discord_channel_id=discord_channel_id, guild_scope=guild_scope, lock=True
    )
    if name is not _UNSET:
        channel.name = name
    replan = False
    if reminder_minutes is not _UNSET:
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
    """Re-plan the SCHEDULED games of a channel (or of a whole guild) that inherit its setting.

    For a guild, every scheduled game is re-planned: those with reminders of their own or of
    their channel keep them (sync is a no-op for them) but still follow the guild's default
    duration, which they may inherit.
    """
    stmt = (
        select(models.GameSession, models.Channel)
        .join(models.Channel, models.Channel.id == models.GameSession.channel_id)
        .where(
            models.GameSession.status.in_(
                [rules.GameStatus.SCHEDULED.value, rules.GameStatus.IN_PROGRESS.value]
            )
        )
        .order_by(models.GameSession.id)
        .with_for_update(of=models.GameSession)
    )
    if channel is not None:
        stmt = stmt.where(
            models.GameSession.channel_id == channel.id,
            models.GameSession.reminder_minutes.is_(None),
        )
    else:
        stmt = stmt.where(models.GameSession.guild_id == guild.id)
    for game, game_channel in session.execute(stmt):
        schedule.sync_schedule(session, game=game, channel=game_channel, guild=guild, now=now)
