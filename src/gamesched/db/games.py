"""Queries over ``game_sessions``: find a game with its channel and guild, a page of games, and
the few writes that are not an ORM attribute change. No rules and no errors here: the use cases
in :mod:`gamesched.service.games` decide what a missing game or a finished one means.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, delete, literal, select, tuple_, update
from sqlalchemy.orm import Session

from gamesched import rules
from gamesched.db import models


class GameRow(NamedTuple):
    game: models.GameSession
    channel: models.Channel
    guild: models.Guild


def _with_place() -> Select[models.GameSession, models.Channel, models.Guild]:
    return (
        select(models.GameSession, models.Channel, models.Guild)
        .join(models.Channel, models.Channel.id == models.GameSession.channel_id)
        .join(models.Guild, models.Guild.id == models.GameSession.guild_id)
    )


def find_game(
    session: Session, *, game_id: uuid.UUID, guild_id: uuid.UUID | None, lock: bool = False
) -> GameRow | None:
    """The game with its channel and guild, or None (also when ``guild_id`` is given and the
    game belongs to another guild). ``lock`` takes the game row FOR UPDATE, which serialises
    every change of one game (joins, leaves, patches, cancel)."""
    stmt = _with_place().where(models.GameSession.id == game_id)
    if guild_id is not None:
        stmt = stmt.where(models.GameSession.guild_id == guild_id)
    if lock:
        # populate_existing: what we waited for wins over anything this session loaded before
        stmt = stmt.with_for_update(of=models.GameSession).execution_options(populate_existing=True)
    row = session.execute(stmt).first()
    return None if row is None else GameRow(*row)


def page_of_games(
    session: Session,
    *,
    guild_id: uuid.UUID | None,
    status: rules.GameStatus | None,
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[GameRow]:
    """Up to ``limit`` games in ``(scheduled_at, id)`` order, strictly after the key ``after``."""
    stmt = _with_place().order_by(models.GameSession.scheduled_at, models.GameSession.id)
    if guild_id is not None:
        stmt = stmt.where(models.GameSession.guild_id == guild_id)
    if status is not None:
        stmt = stmt.where(models.GameSession.status == status.value)
    if start is not None:
        stmt = stmt.where(models.GameSession.scheduled_at >= start)
    if end is not None:
        stmt = stmt.where(models.GameSession.scheduled_at < end)
    if after is not None:
        key = (models.GameSession.scheduled_at, models.GameSession.id)
        stmt = stmt.where(
            tuple_(*key)
            > tuple_(literal(after[0], type_=key[0].type), literal(after[1], type_=key[1].type))
        )
    return [GameRow(*r) for r in session.execute(stmt.limit(limit))]


def open_games_of(
    session: Session, *, guild_id: uuid.UUID, inheriting_from_channel: uuid.UUID | None
) -> list[tuple[models.GameSession, models.Channel]]:
    """SCHEDULED and IN_PROGRESS games of a guild, locked, in id order (so two re-plans lock
    them in the same order). With ``inheriting_from_channel``: only that channel's games whose
    ``reminder_minutes`` is NULL (they inherit)."""
    stmt = (
        select(models.GameSession, models.Channel)
        .join(models.Channel, models.Channel.id == models.GameSession.channel_id)
        .where(
            models.GameSession.guild_id == guild_id,
            models.GameSession.status.in_(_values(rules.OPEN_STATUSES)),
        )
        .order_by(models.GameSession.id)
        .with_for_update(of=models.GameSession)
    )
    if inheriting_from_channel is not None:
        stmt = stmt.where(
            models.GameSession.channel_id == inheriting_from_channel,
            models.GameSession.reminder_minutes.is_(None),
        )
    return [(game, channel) for game, channel in session.execute(stmt)]


def _values(statuses: Sequence[rules.GameStatus] | frozenset[rules.GameStatus]) -> list[str]:
    return sorted(s.value for s in statuses)


def delete_game(session: Session, *, game: models.GameSession) -> None:
    """Delete the row; the database cascades to its schedule and roster."""
    session.execute(delete(models.GameSession).where(models.GameSession.id == game.id))
    session.expunge(game)


def set_message_id(session: Session, *, game_id: uuid.UUID, message_id: str | None) -> None:
    session.execute(
        update(models.GameSession)
        .where(models.GameSession.id == game_id)
        .values(discord_message_id=message_id)
    )


def upcoming_games(
    session: Session,
    *,
    guild_id: uuid.UUID,
    title_contains: str | None = None,
    offset: int = 0,
    limit: int,
) -> list[GameRow]:
    """The guild's open (scheduled or in progress) games, soonest first, for Discord's game
    list and its game pickers; ``title_contains`` filters case-insensitively."""
    stmt = (
        _with_place()
        .where(
            models.GameSession.guild_id == guild_id,
            models.GameSession.status.in_(_values(rules.OPEN_STATUSES)),
        )
        .order_by(models.GameSession.scheduled_at, models.GameSession.id)
    )
    if title_contains:
        pattern = "%" + title_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(models.GameSession.title.ilike(pattern + "%", escape="\\"))
    return [GameRow(*r) for r in session.execute(stmt.offset(offset).limit(limit))]
