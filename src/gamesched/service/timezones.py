"""Whose time zone a typed time is read in: the person's own (``/timezone``), else their guild's,
else UTC. Every zone is checked against the zone database before it is stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from gamesched import errors, when
from gamesched.db import guilds as db_guilds
from gamesched.db import models
from gamesched.db import timezones as db_timezones
from gamesched.service import scope

DEFAULT_ZONE = "UTC"


class Zone(NamedTuple):
    name: str
    #: "you" (the person set it), "server" (the guild's default) or "default" (UTC)
    source: str


def checked_zone(name: str) -> str:
    """The zone's canonical name; InvalidInput with a sentence for one the database lacks."""
    try:
        found = when.lookup_zone(name)
    except when.WhenError as exc:
        raise errors.InvalidInput(str(exc), field="timezone") from exc
    key = getattr(found, "key", None)
    return key if isinstance(key, str) else str(found)


def zone_for(session: Session, *, discord_user_id: str, discord_guild_id: str | None) -> Zone:
    own = db_timezones.user_zone(session, discord_user_id=discord_user_id)
    if own is not None:
        return Zone(own, "you")
    if discord_guild_id is not None:
        guild = db_guilds.find_guild(session, discord_guild_id=discord_guild_id)
        if guild is not None:
            return Zone(guild.timezone, "server")
    return Zone(DEFAULT_ZONE, "default")


def set_user_zone(session: Session, *, discord_user_id: str, zone: str, now: datetime) -> str:
    """Store the person's zone (re-validated: autocomplete only suggests); its canonical name."""
    name = checked_zone(zone)
    db_timezones.set_user_zone(session, discord_user_id=discord_user_id, zone=name, now=now)
    return name


def set_guild_zone(
    session: Session,
    *,
    discord_guild_id: str,
    guild_scope: uuid.UUID | None,
    zone: str,
    now: datetime,
) -> models.Guild:
    """Set the guild's default zone (NotFound for a guild that is not registered or outside
    the scope). Stored games keep their instants: only times typed from now on change."""
    name = checked_zone(zone)
    guild = scope.get_guild(
        session, discord_guild_id=discord_guild_id, guild_scope=guild_scope, lock=True
    )
    guild.timezone = name
    guild.updated_at = now
    session.flush()
    return guild
