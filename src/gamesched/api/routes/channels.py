"""Channels of a guild and their reminder override."""

from __future__ import annotations

from fastapi import APIRouter, status

from gamesched.api import deps, schemas
from gamesched.db import guilds, models

router = APIRouter(prefix="/api/v1", tags=["channels"], responses=schemas.API_ERRORS)


def _out(channel: models.Channel) -> schemas.ChannelOut:
    return schemas.ChannelOut(
        discord_channel_id=channel.discord_channel_id,
        name=channel.name,
        reminder_minutes=None
        if channel.reminder_minutes is None
        else list(channel.reminder_minutes),
    )


@router.post("/guilds/{discord_guild_id}/channels", status_code=status.HTTP_201_CREATED)
def add_channel(
    discord_guild_id: deps.GuildIdPath,
    body: schemas.ChannelIn,
    session: deps.DbSession,
    caller: deps.Caller,
) -> schemas.ChannelOut:
    channel = guilds.create_channel(
        session, discord_guild_id=discord_guild_id, guild_scope=caller.guild_id, **body.model_dump()
    )
    return _out(channel)


@router.patch("/channels/{discord_channel_id}")
def configure_channel(
    discord_channel_id: deps.ChannelIdPath,
    body: schemas.ChannelPatch,
    session: deps.DbSession,
    caller: deps.Caller,
    now: deps.Now,
) -> schemas.ChannelOut:
    """Change the name or the reminder override (``null``: inherit the guild's again)."""
    changes = body.model_dump(exclude_unset=True)
    channel = guilds.update_channel(
        session,
        discord_channel_id=discord_channel_id,
        guild_scope=caller.guild_id,
        now=now,
        **changes,
    )
    return _out(channel)
