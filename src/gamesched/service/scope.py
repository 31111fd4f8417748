"""Finding what a caller may see: a game, a guild or a channel inside ``guild_scope``.

Outside the scope is NotFound, with the same message as for an id that does not exist, so a
guild-scoped caller cannot even learn that another guild's game or channel exists.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from gamesched import errors
from gamesched.db import games as db_games
from gamesched.db import guilds as db_guilds
from gamesched.db import models


def get_game(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, lock: bool = False
) -> db_games.GameRow:
    """The game with its channel and guild. ``lock`` takes the game row FOR UPDATE, which
    serialises every change of one game (joins, leaves, patches, cancel)."""
    row = db_games.find_game(session, game_id=game_id, guild_id=guild_scope, lock=lock)
    if row is None:
        raise errors.NotFound("game not found", field="game_id")
    return row


def get_guild(
    session: Session, *, discord_guild_id: str, guild_scope: uuid.UUID | None, lock: bool = False
) -> models.Guild:
    guild = db_guilds.find_guild(session, discord_guild_id=discord_guild_id, lock=lock)
    if guild is None or (guild_scope is not None and guild.id != guild_scope):
        raise errors.NotFound("guild not found", field="discord_guild_id")
    return guild


def get_channel(
    session: Session, *, discord_channel_id: str, guild_scope: uuid.UUID | None, lock: bool = False
) -> tuple[models.Channel, models.Guild]:
    """The channel and its guild. ``lock`` takes the channel row FOR UPDATE."""
    found = db_guilds.find_channel(session, discord_channel_id=discord_channel_id, lock=lock)
    if found is None or (guild_scope is not None and found[1].id != guild_scope):
        raise channel_not_found()
    return found


def channel_not_found() -> errors.NotFound:
    """The one answer for a channel the caller may not see, whether or not it exists."""
    return errors.NotFound("channel not found", field="discord_channel_id")
