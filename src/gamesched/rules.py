"""Schedule rules: pure functions of a game and ``now``. No I/O, no clock, no database.

Everything is computed in UTC on aware datetimes; a guild's local time zone (and so DST) never
enters the arithmetic, which is why "60 minutes before" is always exactly 3,600 seconds before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gamesched import errors

MAX_REMINDER_MINUTES = 525_600  # one year
MAX_REMINDERS = 10


class GameStatus(StrEnum):
    """The one definition of a game's statuses: the table's CHECK constraints, the API's
    schemas and filters and every status comparison are derived from it."""

    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


_LEGAL: dict[GameStatus, frozenset[GameStatus]] = {
    GameStatus.SCHEDULED: frozenset({GameStatus.IN_PROGRESS, GameStatus.CANCELLED}),
    GameStatus.IN_PROGRESS: frozenset({GameStatus.COMPLETED, GameStatus.CANCELLED}),
    GameStatus.COMPLETED: frozenset(),
    GameStatus.CANCELLED: frozenset(),
}

TERMINAL_STATUSES = frozenset({GameStatus.COMPLETED, GameStatus.CANCELLED})
#: A game whose roster may still change and whose schedule may still be re-planned.
OPEN_STATUSES = frozenset(GameStatus) - TERMINAL_STATUSES


def can_transition(current: GameStatus | str, target: GameStatus | str) -> bool:
    """True if a game may go from ``current`` to ``target`` (SCHEDULED -> IN_PROGRESS ->
    COMPLETED; SCHEDULED or IN_PROGRESS -> CANCELLED; nothing leaves COMPLETED or CANCELLED)."""
    return GameStatus(target) in _LEGAL[GameStatus(current)]


def require_aware(value: datetime, field: str = "datetime") -> datetime:
    """Return ``value`` in UTC; a naive datetime is an error, never silently taken as local."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise errors.InvalidInput(f"{field}: a time zone offset is required", field=field)
    return value.astimezone(UTC)


def normalise_minutes(minutes: Iterable[int]) -> tuple[int, ...]:
    """Unique reminder minutes, largest (earliest reminder) first."""
    return tuple(sorted(set(minutes), reverse=True))


def validate_minutes(minutes: Sequence[int], field: str = "reminder_minutes") -> tuple[int, ...]:
    """Check a user-given list: whole numbers 0..525,600, at most 10, no duplicates."""
    if len(minutes) > MAX_REMINDERS:
        raise errors.InvalidInput(f"{field}: at most {MAX_REMINDERS} reminders", field=field)
    for m in minutes:
        if isinstance(m, bool) or not isinstance(m, int):
            raise errors.InvalidInput(f"{field}: {m!r} is not a whole number", field=field)
        if not 0 <= m <= MAX_REMINDER_MINUTES:
            raise errors.InvalidInput(
                f"{field}: {m} is outside 0..{MAX_REMINDER_MINUTES}", field=field
            )
    if len(set(minutes)) != len(minutes):
        raise errors.InvalidInput(f"{field}: duplicate values", field=field)
    return normalise_minutes(minutes)


def resolve_reminder_minutes(
    game: Sequence[int] | None,
    channel: Sequence[int] | None,
    guild: Sequence[int],
) -> tuple[int, ...]:
    """The reminder minutes in force: the game's, else the channel's, else the guild's.

    ``None`` means "inherit"; an explicit empty list means "no reminders" and stops inheritance.
    """
    for level in (game, channel):
        if level is not None:
            return normalise_minutes(level)
    return normalise_minutes(guild)


@dataclass(frozen=True, slots=True)
class ReminderTime:
    reminder_minutes: int
    notification_time: datetime


def reminder_time(scheduled_at: datetime, minutes: int) -> datetime:
    return require_aware(scheduled_at, "scheduled_at") - timedelta(minutes=minutes)


def plan_reminders(
    scheduled_at: datetime, minutes: Iterable[int], *, now: datetime
) -> tuple[list[ReminderTime], list[ReminderTime]]:
    """Split reminders into (future, past), each unique and ordered by notification time.

    A reminder is in the future when its time is strictly after ``now``.
    """
    now = require_aware(now, "now")
    future: list[ReminderTime] = []
    past: list[ReminderTime] = []
    for m in normalise_minutes(minutes):
        r = ReminderTime(m, reminder_time(scheduled_at, m))
        (future if r.notification_time > now else past).append(r)
    return future, past


def reminder_times(
    scheduled_at: datetime, minutes: Iterable[int], *, now: datetime
) -> list[ReminderTime]:
    """Only the reminders still in the future, unique and in time order."""
    return plan_reminders(scheduled_at, minutes, now=now)[0]


@dataclass(frozen=True, slots=True)
class Transition:
    target_status: GameStatus
    transition_time: datetime


def completion_time(
    scheduled_at: datetime, expected_duration_minutes: int | None, default_duration_minutes: int
) -> datetime:
    duration = (
        expected_duration_minutes
        if expected_duration_minutes is not None
        else default_duration_minutes
    )
    return require_aware(scheduled_at, "scheduled_at") + timedelta(minutes=duration)


def status_transitions(
    scheduled_at: datetime,
    expected_duration_minutes: int | None,
    default_duration_minutes: int,
) -> list[Transition]:
    """IN_PROGRESS at ``scheduled_at``; COMPLETED after the expected (or guild default) duration."""
    start = require_aware(scheduled_at, "scheduled_at")
    return [
        Transition(GameStatus.IN_PROGRESS, start),
        Transition(
            GameStatus.COMPLETED,
            completion_time(start, expected_duration_minutes, default_duration_minutes),
        ),
    ]
