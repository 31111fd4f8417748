"""The event outbox: events written in the same transaction as the change they describe.

The scheduler publishes ``payload`` verbatim with ``message_id`` = the row's id, so the payload is
the complete event body; :mod:`gamesched.service.outbox` builds it from the event's model.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from gamesched.db import models


def add_event(
    session: Session, *, routing_key: str, game_id: uuid.UUID, payload: dict[str, Any]
) -> models.EventOutbox:
    """Queue one event; it is published only if the surrounding transaction commits."""
    row = models.EventOutbox(routing_key=routing_key, game_id=game_id, payload=payload)
    session.add(row)
    session.flush()
    return row
