"""Joining and leaving a game.

Both lock the game row first (``SELECT ... FOR UPDATE``), so concurrent joins for the last seat
are serialised and each player's ``joined_at`` is taken after the lock: the first
``max_players`` in join order are confirmed, the rest wait in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import models
from gamesched.db import roster as db_roster
from gamesched.service import outbox, scope


def join(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, discord_user_id: str
) -> db_roster.RosterEntry:
    """Add a player: confirmed while seats remain, else waitlisted. Conflict if already in, or
    if the game is cancelled or finished."""
    game = scope.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True).game
    if game.status not in rules.OPEN_STATUSES:
        raise errors.Conflict(f"the game is {game.status}: nobody can join it", field="game_id")
    if not db_roster.add_participant(session, game_id=game.id, discord_user_id=discord_user_id):
        raise errors.Conflict("already in this game", field="discord_user_id")
    roster = db_roster.roster_of(session, game=game)
    entry = next(e for e in roster if e.discord_user_id == discord_user_id)
    outbox.roster_event(
        session,
        game_id=game.id,
        discord_user_id=discord_user_id,
        action="joined" if entry.state == "confirmed" else "waitlisted",
    )
    return entry


def leave(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, discord_user_id: str
) -> list[db_roster.RosterEntry]:
    """Remove a player; if they held a seat, the first waiting player gets it.

    Writes one ``game.roster_changed`` event per affected user: ``left`` for the leaver and
    ``promoted`` for the promoted player. Returns the promoted players' new entries.
    """
    game = scope.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True).game
    if game.status not in rules.OPEN_STATUSES:
        raise errors.Conflict(f"the game is {game.status}: its roster is final", field="game_id")
    before = db_roster.roster_of(session, game=game)
    if all(e.discord_user_id != discord_user_id for e in before):
        raise errors.NotFound("that user is not in this game", field="discord_user_id")
    db_roster.remove_participant(session, game_id=game.id, discord_user_id=discord_user_id)
    outbox.roster_event(session, game_id=game.id, discord_user_id=discord_user_id, action="left")
    return promote_after_change(session, game=game, before=before)


def promote_after_change(
    session: Session, *, game: models.GameSession, before: Sequence[db_roster.RosterEntry]
) -> list[db_roster.RosterEntry]:
    """Write ``promoted`` events for players who were waiting before and are confirmed now."""
    was_waiting = {e.discord_user_id for e in before if e.state == "waitlisted"}
    now_confirmed = (e for e in db_roster.roster_of(session, game=game) if e.state == "confirmed")
    promoted = [e for e in now_confirmed if e.discord_user_id in was_waiting]
    for entry in promoted:
        outbox.roster_event(
            session, game_id=game.id, discord_user_id=entry.discord_user_id, action="promoted"
        )
    return promoted
