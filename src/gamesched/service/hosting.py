"""What a Discord member may do with a guild's games, and the games they pick from.

The host may change or cancel their game; so may a member who manages the guild's events. The
Discord permission bits behind "manages" are read by the caller (the interactions endpoint); the
rule itself is here, next to the use cases it guards.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from gamesched import errors
from gamesched.db import games as db_games
from gamesched.db import models
from gamesched.service import scope


def may_manage(game: models.GameSession, *, discord_user_id: str, manager: bool) -> bool:
    """The host may change or cancel their game; so may a member who manages the guild's events
    (``manager``, decided by the caller from the member's permissions)."""
    return manager or game.host_discord_id == discord_user_id


def manageable_game(
    session: Session,
    *,
    game_id: uuid.UUID,
    guild_scope: uuid.UUID,
    discord_user_id: str,
    manager: bool,
    lock: bool = False,
) -> db_games.GameRow:
    """The game, if this member may change it: NotFound outside the guild, Forbidden if they
    neither host it nor manage events."""
    row = scope.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=lock)
    if not may_manage(row.game, discord_user_id=discord_user_id, manager=manager):
        raise errors.Forbidden(
            "only the game's host or someone with Manage Events can change it", field="game_id"
        )
    return row


def upcoming_games(
    session: Session,
    *,
    discord_guild_id: str,
    title_contains: str | None = None,
    offset: int = 0,
    limit: int,
) -> list[db_games.GameRow]:
    """The guild's open games, soonest first (NotFound for a guild that is not registered)."""
    guild = scope.get_guild(session, discord_guild_id=discord_guild_id, guild_scope=None)
    return db_games.upcoming_games(
        session, guild_id=guild.id, title_contains=title_contains, offset=offset, limit=limit
    )
