"""Channels of a guild and their reminder override."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from gamesched import discord_rest, errors
from gamesched.api import deps, schemas
from gamesched.api.errors import RETRY_AFTER_SECONDS
from gamesched.db import models
from gamesched.service import guilds, scope
from gamesched.settings import Settings

log = logging.getLogger("gamesched.api.channels")

router = APIRouter(prefix="/api/v1", tags=["channels"])


def _out(channel: models.Channel) -> schemas.ChannelOut:
    return schemas.ChannelOut(
        discord_channel_id=channel.discord_channel_id,
        name=channel.name,
        reminder_minutes=None
        if channel.reminder_minutes is None
        else list(channel.reminder_minutes),
    )


@router.post(
    "/guilds/{discord_guild_id}/channels",
    status_code=status.HTTP_201_CREATED,
    summary="Register a channel",
    response_description="the registered channel",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 404, 409),
)
async def add_channel(
    discord_guild_id: deps.GuildIdPath,
    body: schemas.ChannelInBody,
    session: deps.DbSession,
    caller: deps.Caller,
    request: Request,
) -> schemas.ChannelOut:
    """Register a channel of the guild. With a bot token configured, Discord must first confirm
    that the channel belongs to this guild (422 if it does not, 503 if Discord cannot be asked).
    A channel another guild registered is a 404 for a guild token, a 409 for an admin."""
    # Async so that the Discord call is awaited on the event loop rather than holding a worker
    # thread for up to its timeout; the (sync) database work runs in the threadpool as usual.
    await run_in_threadpool(
        scope.get_guild, session, discord_guild_id=discord_guild_id, guild_scope=caller.guild_id
    )
    settings: Settings = request.app.state.settings
    if settings.discord_token is not None:
        # Nothing is written yet: end the read-only transaction so that no pooled connection
        # sits idle in it while Discord answers.
        await run_in_threadpool(session.commit)
        await _check_with_discord(settings, discord_guild_id, body.discord_channel_id)
    channel = await run_in_threadpool(
        guilds.register_channel,
        session,
        discord_guild_id=discord_guild_id,
        guild_scope=caller.guild_id,
        **body.model_dump(),
    )
    return _out(channel)


async def _check_with_discord(settings: Settings, discord_guild_id: str, channel_id: str) -> None:
    assert settings.discord_token is not None
    try:
        owner = await discord_rest.channel_guild_id(
            api_base=settings.discord_api_base, token=settings.discord_token, channel_id=channel_id
        )
    except discord_rest.DiscordUnavailable as exc:
        log.warning(
            "channel check failed: %s",
            exc.message,
            extra={
                "action": "api.discord_unavailable",
                "discord_guild_id": discord_guild_id,
                "discord_channel_id": channel_id,
            },
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="Discord cannot be asked about this channel now; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    if owner is None:
        raise errors.InvalidInput(
            f"Discord has no channel {channel_id} that the bot can see",
            field="discord_channel_id",
        )
    if owner != discord_guild_id:
        raise errors.InvalidInput(
            f"channel {channel_id} is not a channel of guild {discord_guild_id} on Discord",
            field="discord_channel_id",
        )


@router.patch(
    "/channels/{discord_channel_id}",
    summary="Change a channel",
    response_description="the channel as changed",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 404),
)
def configure_channel(
    discord_channel_id: deps.ChannelIdPath,
    body: schemas.ChannelPatchBody,
    session: deps.DbSession,
    caller: deps.Caller,
    now: deps.Now,
) -> schemas.ChannelOut:
    """Change the name or the reminder override (``null``: inherit the guild's again)."""
    changes = body.model_dump(exclude_unset=True)
    channel = guilds.configure_channel(
        session,
        discord_channel_id=discord_channel_id,
        guild_scope=caller.guild_id,
        now=now,
        **changes,
    )
    return _out(channel)
