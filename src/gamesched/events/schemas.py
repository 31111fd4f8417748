"""Routing keys and message bodies (DESIGN.md, Events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

REMINDER_DUE = "game.reminder_due"
STATUS_TRANSITION_DUE = "game.status_transition_due"
GAME_CREATED = "game.created"
GAME_UPDATED = "game.updated"
GAME_CANCELLED = "game.cancelled"
GAME_DELETED = "game.deleted"
ROSTER_CHANGED = "game.roster_changed"

ROUTING_KEYS = frozenset(
    {
        REMINDER_DUE,
        STATUS_TRANSITION_DUE,
        GAME_CREATED,
        GAME_UPDATED,
        GAME_CANCELLED,
        GAME_DELETED,
        ROSTER_CHANGED,
    }
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish. ``message_id`` is the id of the row that caused it, so consumers
    can drop redeliveries; ``expiration_ms`` makes the broker drop it when it is too late."""

    message_id: str
    routing_key: str
    body: dict[str, Any]
    expiration_ms: int | None = None


def iso(value: datetime) -> str:
    return value.isoformat()


def reminder_due(
    *,
    notification_id: str,
    game_id: str,
    reminder_minutes: int,
    scheduled_at: datetime,
    notification_time: datetime,
) -> dict[str, Any]:
    return {
        "game_id": game_id,
        "notification_id": notification_id,
        "reminder_minutes": reminder_minutes,
        "scheduled_at": iso(scheduled_at),
        "notification_time": iso(notification_time),
    }


def status_transition_due(
    *, schedule_id: str, game_id: str, target_status: str, transition_time: datetime
) -> dict[str, Any]:
    return {
        "game_id": game_id,
        "schedule_id": schedule_id,
        "target_status": target_status,
        "transition_time": iso(transition_time),
    }
