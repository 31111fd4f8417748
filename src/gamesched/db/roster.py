"""Who plays: joining and leaving a game, and who is confirmed or waiting.

Order is ``(joined_at, id)``; the first ``max_players`` are confirmed, the rest wait in order.
Join and leave lock the game row (``SELECT ... FOR UPDATE``), so concurrent joins for the last
seat are serialised and ``joined_at`` is taken *after* the lock (``clock_timestamp()``): the
order in the table is the order in which seats were handed out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import game_rows, models, outbox

RosterState = Literal["confirmed", "waitlisted"]
_OPEN = (rules.GameStatus.SCHEDULED.value, rules.GameStatus.IN_PROGRESS.value)


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


def _roster(session: Session, game: models.GameSession) -> list[RosterEntry]:
    return roster_entries(participants(session, game_ids=[game.id])[game.id], game.max_players)


def join(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, discord_user_id: str
) -> RosterEntry:
    """Add a player: confirmed while seats remain, else waitlisted. 409 if already in, or if
    the game is cancelled or finished."""
    game = game_rows.lock_game(session, game_id=game_id, guild_scope=guild_scope)
    if game.status not in _OPEN:
        raise errors.Conflict(f"the game is {game.status}: nobody can join it", field="game_id")
    added = session.scalar(
        insert(models.GameParticipant)
        .values(game_id=game.id, discord_user_id=discord_user_id, joined_at=func.clock_timestamp())
        .on_conflict_do_nothing(index_elements=["game_id", "discord_user_id"])
        .returning(models.GameParticipant.id)
    )
    if added is None:
        raise errors.Conflict("already in this game", field="discord_user_id")
    entry = next(e for e in _roster(session, game) if e.discord_user_id == discord_user_id)
    outbox.add_roster_event(
        session,
        game_id=game.id,
        discord_user_id=discord_user_id,
        action="joined" if entry.state == "confirmed" else "waitlisted",
    )
    return entry


def leave(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, discord_user_id: str
) -> list[RosterEntry]:
    """Remove a player; if they held a seat, the first waiting player gets it.

    Writes one ``game.roster_changed`` event per affected user: ``left`` for the leaver and
    ``promoted`` for the promoted player. Returns the promoted players' new entries.
    """
    game = game_rows.lock_game(session, game_id=game_id, guild_scope=guild_scope)
    if game.status not in _OPEN:
        raise errors.Conflict(f"the game is {game.status}: its roster is final", field="game_id")
    before = _roster(session, game)
    leaving = next((e for e in before if e.discord_user_id == discord_user_id), None)
    if leaving is None:
        raise errors.NotFound("that user is not in this game", field="discord_user_id")
    session.execute(
        delete(models.GameParticipant).where(
            models.GameParticipant.game_id == game.id,
            models.GameParticipant.discord_user_id == discord_user_id,
        )
    )
    outbox.add_roster_event(
        session, game_id=game.id, discord_user_id=discord_user_id, action="left"
    )
    return promote_after_change(session, game=game, before=before)


def promote_after_change(
    session: Session, *, game: models.GameSession, before: Sequence[RosterEntry]
) -> list[RosterEntry]:
    """Write ``promoted`` events for players who were waiting before and are confirmed now."""
    was_waiting = {e.discord_user_id for e in before if e.state == "waitlisted"}
    now_confirmed = (e for e in _roster(session, game) if e.state == "confirmed")
    promoted = [e for e in now_confirmed if e.discord_user_id in was_waiting]
    for entry in promoted:
        outbox.add_roster_event(
            session, game_id=game.id, discord_user_id=entry.discord_user_id, action="promoted"
        )
    return promoted
