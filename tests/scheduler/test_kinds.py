"""The pure planners on plain rows (the typed rows the claim queries return): what is published,
what is applied, and why a row is skipped."""

from __future__ import annotations

from typing import Any

from gamesched.db import claims
from gamesched.events import schemas
from gamesched.scheduler import kinds


def status_row(row_id: str, game: str, status: str | None, target: str) -> claims.StatusRow:
    return claims.StatusRow(
        id=row_id, game_id=game, target_status=target, game_status=status, body="{}"
    )


def outcome(planned: list[kinds.Planned]) -> list[tuple[str, str | None, Any]]:
    return [
        (p.row_id, p.skip_reason, p.game_status if p.message is not None else None) for p in planned
    ]


def test_scheduled_cannot_jump_to_completed() -> None:
    planned = kinds.plan_status([status_row("r1", "g", "SCHEDULED", "COMPLETED")])
    assert outcome(planned) == [("r1", "illegal_from_scheduled", None)]
    assert planned[0].message is None


def test_transitions_of_one_game_are_walked_in_order() -> None:
    planned = kinds.plan_status(
        [
            status_row("r1", "g", "SCHEDULED", "IN_PROGRESS"),
            status_row("r2", "g", "SCHEDULED", "COMPLETED"),  # the status read before r1
        ]
    )
    assert outcome(planned) == [
        ("r1", None, ("g", "IN_PROGRESS")),
        ("r2", None, ("g", "COMPLETED")),
    ]
    assert all(p.message is not None for p in planned)
    assert planned[0].message and planned[0].message.routing_key == schemas.STATUS_TRANSITION_DUE


def test_transitions_in_the_wrong_order_are_refused() -> None:
    planned = kinds.plan_status(
        [
            status_row("r1", "g", "SCHEDULED", "COMPLETED"),
            status_row("r2", "g", "SCHEDULED", "IN_PROGRESS"),
        ]
    )
    assert outcome(planned) == [
        ("r1", "illegal_from_scheduled", None),
        ("r2", None, ("g", "IN_PROGRESS")),
    ]


def test_games_are_walked_independently_and_ended_games_refuse() -> None:
    planned = kinds.plan_status(
        [
            status_row("a1", "a", "SCHEDULED", "IN_PROGRESS"),
            status_row("b1", "b", "CANCELLED", "IN_PROGRESS"),
            status_row("a2", "a", "SCHEDULED", "CANCELLED"),
            status_row("c1", "c", "COMPLETED", "CANCELLED"),
            status_row("d1", "d", None, "IN_PROGRESS"),
        ]
    )
    assert outcome(planned) == [
        ("a1", None, ("a", "IN_PROGRESS")),
        ("b1", "illegal_from_cancelled", None),
        ("a2", None, ("a", "CANCELLED")),
        ("c1", "illegal_from_completed", None),
        ("d1", "game_missing", None),
    ]


def reminder_row(row_id: str, status: str | None, started: bool | None) -> claims.ReminderRow:
    return claims.ReminderRow(
        id=row_id, game_status=status, game_started=started, ms_to_start=60_000, body="{}"
    )


def test_reminder_skip_reasons() -> None:
    planned = kinds.plan_reminders(
        [
            reminder_row("ok", "SCHEDULED", False),
            reminder_row("started", "SCHEDULED", True),
            reminder_row("running", "IN_PROGRESS", True),
            reminder_row("cancelled", "CANCELLED", False),
            reminder_row("completed", "COMPLETED", True),
            reminder_row("missing", None, None),
        ]
    )
    assert [(p.row_id, p.skip_reason) for p in planned] == [
        ("ok", None),
        ("started", "game_started"),
        ("running", "game_started"),
        ("cancelled", "game_cancelled"),
        ("completed", "game_completed"),
        ("missing", "game_missing"),
    ]
    (sent,) = [p for p in planned if p.message is not None]
    assert sent.message is not None
    assert (sent.message.message_id, sent.message.routing_key) == ("ok", schemas.REMINDER_DUE)
    assert sent.message.expiration_ms == 60_000  # expires when the game starts
