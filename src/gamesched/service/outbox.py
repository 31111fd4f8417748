"""Writing a use case's event: its typed model (``gamesched.events.schemas``) as an outbox row in
the use case's own transaction, so the event exists exactly when the change does."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from gamesched.db import outbox
from gamesched.events import schemas


def record(session: Session, event: schemas.Event) -> None:
    outbox.add_event(
        session, routing_key=event.routing_key, game_id=event.game_id, payload=event.body()
    )


def game_event(session: Session, *, routing_key: str, game_id: uuid.UUID) -> None:
    """``game.created`` / ``game.updated`` / ``game.cancelled``: the body is just the game id."""
    record(session, schemas.MODELS[routing_key](game_id=game_id))


def roster_event(
    session: Session, *, game_id: uuid.UUID, discord_user_id: str, action: schemas.RosterAction
) -> None:
    """``game.roster_changed`` for one user; ``action`` is joined/waitlisted/left/promoted."""
    record(
        session,
        schemas.RosterChanged(game_id=game_id, discord_user_id=discord_user_id, action=action),
    )
