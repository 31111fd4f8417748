"""Registering and configuring guilds."""

from __future__ import annotations

from fastapi import APIRouter, status

from gamesched.api import deps, schemas
from gamesched.db import models
from gamesched.service import guilds, scope

router = APIRouter(prefix="/api/v1/guilds", tags=["guilds"])


def _out(guild: models.Guild) -> schemas.GuildOut:
    return schemas.GuildOut(
        discord_guild_id=guild.discord_guild_id,
        name=guild.name,
        reminder_minutes=list(guild.reminder_minutes),
        default_duration_minutes=guild.default_duration_minutes,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a guild",
    response_description="the registered guild",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 403, 409),
)
def register_guild(
    body: schemas.GuildInBody, session: deps.DbSession, admin: deps.Admin
) -> schemas.GuildOut:
    """Register a guild (admin tokens only); 409 if it is already registered."""
    return _out(guilds.register_guild(session, **body.model_dump()))


@router.get(
    "/{discord_guild_id}",
    summary="Read a guild",
    response_description="the guild",
    responses=schemas.errors(*schemas.API, 404),
)
def read_guild(
    discord_guild_id: deps.GuildIdPath, session: deps.DbSession, caller: deps.Caller
) -> schemas.GuildOut:
    """The guild's settings: its reminders and default game length."""
    return _out(
        scope.get_guild(session, discord_guild_id=discord_guild_id, guild_scope=caller.guild_id)
    )


@router.patch(
    "/{discord_guild_id}",
    summary="Change a guild",
    response_description="the guild as changed",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 404),
)
def configure_guild(
    discord_guild_id: deps.GuildIdPath,
    body: schemas.GuildPatchBody,
    session: deps.DbSession,
    caller: deps.Caller,
    now: deps.Now,
) -> schemas.GuildOut:
    """Change name, reminders or default duration; games that inherit them are re-planned."""
    changes = body.model_dump(exclude_unset=True)
    guild = guilds.configure_guild(
        session,
        discord_guild_id=discord_guild_id,
        guild_scope=caller.guild_id,
        now=now,
        **changes,
    )
    return _out(guild)
