"""The event outbox: events written in the same transaction as the change they describe.

The scheduler publishes ``payload`` verbatim with ``message_id`` = the row's id, so the payload is
the complete event body (``gamesched.events.schemas``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from gamesched.db import models
from gamesched.events import schemas


def add_event(
    session: Session, *, routing_key: str, game_id: uuid.UUID, payload: dict[str, Any]
) -> models.EventOutbox:
    """Queue one event; it is published only if the surrounding transaction commits."""
    row = models.EventOutbox(routing_key=routing_key, game_id=game_id, payload=payload)
    session.add(row)
    session.flush()
    return row


def add_game_event(session: Session, *, routing_key: str, game_id: uuid.UUID) -> None:
    """``game.created`` / ``game.updated`` / ``game.cancelled``: the body is just the game id."""
    event = schemas.MODELS[routing_key](game_id=game_id)
    add_event(session, routing_key=routing_key, game_id=game_id, payload=event.body())


def add_roster_event(
    session: Session, *, game_id: uuid.UUID, discord_user_id: str, action: schemas.RosterAction
) -> None:
    """``game.roster_changed`` for one user; ``action`` is joined/waitlisted/left/promoted."""
    add_event(
        session,
        routing_key=schemas.ROSTER_CHANGED,
        game_id=game_id,
        payload=schemas.RosterChanged(
            game_id=game_id, discord_user_id=discord_user_id, action=action
        ).body(),
    )
