"""Routing keys and message bodies (DESIGN.md, Events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REMINDER_DUE = "game.reminder_due"
STATUS_TRANSITION_DUE = "game.status_transition_due"
GAME_CREATED = "game.created"
GAME_UPDATED = "game.updated"
GAME_CANCELLED = "game.cancelled"
GAME_DELETED = "game.deleted"
ROSTER_CHANGED = "game.roster_changed"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish. ``message_id`` is the id of the row that caused it, so consumers
    can drop redeliveries; ``expiration_ms`` makes the broker drop it when it is too late.
    ``body`` is a JSON object, or its JSON text when the database already built it."""

    message_id: str
    routing_key: str
    body: dict[str, Any] | str
    expiration_ms: int | None = None


# Bodies of the scheduled events (DESIGN.md). The scheduler has PostgreSQL build them as JSON
# text in the claim query (``gamesched.db.claims``), which is several times cheaper than
# building and encoding them in Python; these are their fields, for consumers and tests.
REMINDER_DUE_FIELDS = (
    "game_id",
    "notification_id",
    "reminder_minutes",
    "scheduled_at",
    "notification_time",
)
STATUS_TRANSITION_DUE_FIELDS = ("game_id", "schedule_id", "target_status", "transition_time")
