"""Queries over ``guilds`` and ``channels``. No rules and no errors here: the use cases in
:mod:`gamesched.service.guilds` decide what a missing or foreign guild or channel means.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched.db import models


def find_guild(
    session: Session, *, discord_guild_id: str, lock: bool = False
) -> models.Guild | None:
    stmt = select(models.Guild).where(models.Guild.discord_guild_id == discord_guild_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def insert_guild(
    session: Session,
    *,
    discord_guild_id: str,
    name: str,
    reminder_minutes: Sequence[int],
    default_duration_minutes: int,
) -> models.Guild | None:
    """The new guild, or None if that Discord guild is already registered."""
    guild_id = session.scalar(
        insert(models.Guild)
        .values(
            discord_guild_id=discord_guild_id,
            name=name,
            reminder_minutes=list(reminder_minutes),
            default_duration_minutes=default_duration_minutes,
        )
        .on_conflict_do_nothing(index_elements=["discord_guild_id"])
        .returning(models.Guild.id)
    )
    return None if guild_id is None else session.get(models.Guild, guild_id)


def find_channel(
    session: Session, *, discord_channel_id: str, lock: bool = False
) -> tuple[models.Channel, models.Guild] | None:
    """The channel and its guild, or None. ``lock`` takes the channel row FOR UPDATE."""
    stmt = (
        select(models.Channel, models.Guild)
        .join(models.Guild, models.Guild.id == models.Channel.guild_id)
        .where(models.Channel.discord_channel_id == discord_channel_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=models.Channel)
    row = session.execute(stmt).first()
    return None if row is None else (row.Channel, row.Guild)


def channel_owner(session: Session, *, discord_channel_id: str) -> uuid.UUID | None:
    """The id of the guild that registered the channel, or None if nobody did."""
    return session.scalar(
        select(models.Channel.guild_id).where(
            models.Channel.discord_channel_id == discord_channel_id
        )
    )


def insert_channel(
    session: Session,
    *,
    guild_id: uuid.UUID,
    discord_channel_id: str,
    name: str,
    reminder_minutes: Sequence[int] | None,
) -> models.Channel | None:
    """The new channel, or None if that Discord channel is already registered (by anyone)."""
    channel_id = session.scalar(
        insert(models.Channel)
        .values(
            guild_id=guild_id,
            discord_channel_id=discord_channel_id,
            name=name,
            reminder_minutes=None if reminder_minutes is None else list(reminder_minutes),
        )
        .on_conflict_do_nothing(index_elements=["discord_channel_id"])
        .returning(models.Channel.id)
    )
    return None if channel_id is None else session.get(models.Channel, channel_id)
