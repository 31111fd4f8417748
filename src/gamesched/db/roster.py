"""Who plays: the participants of games, in join order, and the two roster writes.

Order is ``(joined_at, id)``; the first ``max_players`` are confirmed, the rest wait in order.
``joined_at`` is taken by the server *when the row is inserted* (``clock_timestamp()``), and
:mod:`gamesched.service.roster` inserts only while holding the game's row lock, so the order in
the table is the order in which seats were handed out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched.db import models

RosterState = Literal["confirmed", "waitlisted"]


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One player; ``position`` is the 1-based place in join order over the whole roster."""

    discord_user_id: str
    state: RosterState
    position: int


def roster_entries(
    participants: Sequence[models.GameParticipant], max_players: int | None
) -> list[RosterEntry]:
    """Participants already in ``(joined_at, id)`` order, with their state."""
    return [
        RosterEntry(
            p.discord_user_id,
            "confirmed" if max_players is None or i <= max_players else "waitlisted",
            i,
        )
        for i, p in enumerate(participants, start=1)
    ]


def participants(
    session: Session, *, game_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[models.GameParticipant]]:
    ids = list(game_ids)
    out: dict[uuid.UUID, list[models.GameParticipant]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.scalars(
        select(models.GameParticipant)
        .where(models.GameParticipant.game_id.in_(ids))
        .order_by(models.GameParticipant.joined_at, models.GameParticipant.id)
    )
    for row in rows:
        out[row.game_id].append(row)
    return out


def roster_of(session: Session, *, game: models.GameSession) -> list[RosterEntry]:
    """The game's roster now, in join order, with each player's state."""
    return roster_entries(participants(session, game_ids=[game.id])[game.id], game.max_players)


def add_participant(session: Session, *, game_id: uuid.UUID, discord_user_id: str) -> bool:
    """Insert the player with ``joined_at`` = now; False if they were already in."""
    added = session.scalar(
        insert(models.GameParticipant)
        .values(game_id=game_id, discord_user_id=discord_user_id, joined_at=func.clock_timestamp())
        .on_conflict_do_nothing(index_elements=["game_id", "discord_user_id"])
        .returning(models.GameParticipant.id)
    )
    return added is not None


def remove_participant(session: Session, *, game_id: uuid.UUID, discord_user_id: str) -> None:
    session.execute(
        delete(models.GameParticipant).where(
            models.GameParticipant.game_id == game_id,
            models.GameParticipant.discord_user_id == discord_user_id,
        )
    )
