"""Finding one game (and its channel and guild), scoped to the caller's guild, optionally locked.

Shared by :mod:`games` and :mod:`roster`; a game outside the caller's guild is NotFound, so a
guild-scoped token cannot even learn that it exists.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from gamesched import errors
from gamesched.db import models


class GameRow(NamedTuple):
    game: models.GameSession
    channel: models.Channel
    guild: models.Guild


def get_game(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, lock: bool = False
) -> GameRow:
    """The game with its channel and guild. ``lock`` takes the game row FOR UPDATE, which
    serialises every change of one game (joins, leaves, patches, cancel)."""
    stmt = (
        select(models.GameSession, models.Channel, models.Guild)
        .join(models.Channel, models.Channel.id == models.GameSession.channel_id)
        .join(models.Guild, models.Guild.id == models.GameSession.guild_id)
        .where(models.GameSession.id == game_id)
    )
    if guild_scope is not None:
        stmt = stmt.where(models.GameSession.guild_id == guild_scope)
    if lock:
        # populate_existing: what we waited for wins over anything this session loaded before
        stmt = stmt.with_for_update(of=models.GameSession).execution_options(populate_existing=True)
    row = session.execute(stmt).first()
    if row is None:
        raise errors.NotFound("game not found", field="game_id")
    return GameRow(*row)


def lock_game(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None
) -> models.GameSession:
    return get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True).game
