"""A game's rows in ``notification_schedule`` and ``game_status_schedule``: writing and reading.

:func:`sync_schedule` is the one place that turns a game (and its inherited settings) into
schedule rows. It is called on create, on every change of time, duration or reminders, and when
a channel's or guild's reminder setting changes under games that inherit it, always inside the
caller's transaction.

Reminders whose time was already past when they were planned get no row; readers list them as
``skipped`` (:func:`reminder_states`), computed from the game's current reminders and time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched import rules
from gamesched.db import models

ReminderState = Literal["pending", "sent", "skipped"]
TransitionState = Literal["pending", "executed", "skipped"]


@dataclass(frozen=True, slots=True)
class ReminderEntry:
    id: uuid.UUID | None
    reminder_minutes: int
    notification_time: datetime
    state: ReminderState
    sent_at: datetime | None
    skip_reason: str | None


@dataclass(frozen=True, slots=True)
class TransitionEntry:
    id: uuid.UUID
    target_status: str
    transition_time: datetime
    state: TransitionState
    executed_at: datetime | None
    skip_reason: str | None


def effective_minutes(
    game: models.GameSession, channel: models.Channel, guild: models.Guild
) -> tuple[int, ...]:
    return rules.resolve_reminder_minutes(
        game.reminder_minutes, channel.reminder_minutes, guild.reminder_minutes
    )


def sync_schedule(
    session: Session,
    *,
    game: models.GameSession,
    channel: models.Channel,
    guild: models.Guild,
    now: datetime,
) -> None:
    """Bring the game's schedule rows in line with the game as it is now.

    * every reminder in force whose time is after ``now`` is pending at that time (a row that was
      sent for another time becomes pending again; an unchanged row is left alone);
    * unsent rows that are no longer in force, or whose new time has passed, are removed;
      sent rows stay as history;
    * the status transitions move to the game's start and end (only those still ahead of it).
    """
    minutes = effective_minutes(game, channel, guild)
    future: list[rules.ReminderTime] = []
    if game.status == rules.GameStatus.SCHEDULED:
        future, _past = rules.plan_reminders(game.scheduled_at, minutes, now=now)
    _upsert_reminders(session, game_id=game.id, reminders=future)
    in_force = [r.reminder_minutes for r in future]
    session.execute(
        delete(models.NotificationSchedule).where(
            models.NotificationSchedule.game_id == game.id,
            models.NotificationSchedule.sent.is_(False),
            models.NotificationSchedule.reminder_minutes.not_in(in_force),
        )
    )
    transitions = rules.status_transitions(
        game.scheduled_at, game.expected_duration_minutes, guild.default_duration_minutes
    )
    if game.status == rules.GameStatus.IN_PROGRESS:
        transitions = [t for t in transitions if t.target_status == rules.GameStatus.COMPLETED]
    elif game.status != rules.GameStatus.SCHEDULED:
        transitions = []
    _upsert_transitions(session, game_id=game.id, transitions=transitions)


def _upsert_reminders(
    session: Session, *, game_id: uuid.UUID, reminders: Sequence[rules.ReminderTime]
) -> None:
    if not reminders:
        return
    stmt = insert(models.NotificationSchedule).values(
        [
            {
                "game_id": game_id,
                "reminder_minutes": r.reminder_minutes,
                "notification_time": r.notification_time,
                "sent": False,
            }
            for r in reminders
        ]
    )
    table = models.NotificationSchedule
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.game_id, table.reminder_minutes],
            set_={
                "notification_time": stmt.excluded.notification_time,
                "sent": False,
                "sent_at": None,
                "skip_reason": None,
            },
            # Same time: the row is already right (pending, or sent for exactly this time).
            where=table.notification_time != stmt.excluded.notification_time,
        )
    )


def _upsert_transitions(
    session: Session, *, game_id: uuid.UUID, transitions: Sequence[rules.Transition]
) -> None:
    if not transitions:
        return
    stmt = insert(models.GameStatusSchedule).values(
        [
            {
                "game_id": game_id,
                "target_status": t.target_status.value,
                "transition_time": t.transition_time,
                "executed": False,
            }
            for t in transitions
        ]
    )
    table = models.GameStatusSchedule
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.game_id, table.target_status],
            set_={
                "transition_time": stmt.excluded.transition_time,
                "executed": False,
                "executed_at": None,
                "skip_reason": None,
            },
            where=table.transition_time != stmt.excluded.transition_time,
        )
    )


def remove_pending(session: Session, *, game_id: uuid.UUID) -> None:
    """Drop everything not yet done (a cancelled game): unsent reminders, unexecuted changes."""
    session.execute(
        delete(models.NotificationSchedule).where(
            models.NotificationSchedule.game_id == game_id,
            models.NotificationSchedule.sent.is_(False),
        )
    )
    session.execute(
        delete(models.GameStatusSchedule).where(
            models.GameStatusSchedule.game_id == game_id,
            models.GameStatusSchedule.executed.is_(False),
        )
    )


def reminder_rows(
    session: Session, *, game_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[models.NotificationSchedule]]:
    out: dict[uuid.UUID, list[models.NotificationSchedule]] = {}
    ids = list(game_ids)
    if not ids:
        return out
    rows = session.scalars(
        select(models.NotificationSchedule).where(models.NotificationSchedule.game_id.in_(ids))
    )
    for row in rows:
        out.setdefault(row.game_id, []).append(row)
    return out


def reminder_states(
    *,
    scheduled_at: datetime,
    minutes: Iterable[int],
    rows: Iterable[models.NotificationSchedule],
    status: str = rules.GameStatus.SCHEDULED.value,
) -> list[ReminderEntry]:
    """Every reminder of a game with its state, in time order.

    Rows say pending (not sent), sent (published) or skipped (done with a ``skip_reason``). A
    reminder in force without a row was already past when planned (or its game was cancelled
    first): it is listed as skipped.
    """
    reason = "game_cancelled" if status == rules.GameStatus.CANCELLED else "past_when_planned"
    entries: dict[int, ReminderEntry] = {}
    for row in rows:
        state: ReminderState = "pending"
        if row.sent:
            state = "skipped" if row.skip_reason is not None else "sent"
        entries[row.reminder_minutes] = ReminderEntry(
            row.id, row.reminder_minutes, row.notification_time, state, row.sent_at, row.skip_reason
        )
    for m in rules.normalise_minutes(minutes):
        if m not in entries:
            entries[m] = ReminderEntry(
                None, m, rules.reminder_time(scheduled_at, m), "skipped", None, reason
            )
    return sorted(entries.values(), key=lambda e: (e.notification_time, -e.reminder_minutes))


def transition_states(session: Session, *, game_id: uuid.UUID) -> list[TransitionEntry]:
    rows = session.scalars(
        select(models.GameStatusSchedule)
        .where(models.GameStatusSchedule.game_id == game_id)
        .order_by(models.GameStatusSchedule.transition_time, models.GameStatusSchedule.id)
    )
    out = []
    for row in rows:
        state: TransitionState = "pending"
        if row.executed:
            state = "skipped" if row.skip_reason is not None else "executed"
        out.append(
            TransitionEntry(
                row.id,
                row.target_status,
                row.transition_time,
                state,
                row.executed_at,
                row.skip_reason,
            )
        )
    return out
