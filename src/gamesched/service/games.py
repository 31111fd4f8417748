"""Games: create, change, cancel, delete, list, and record the bot's announcement.

Every change writes the game, its schedule rows and its outbox event in the caller's one
transaction, so a crash can never leave a game without its schedule or an event unpublished.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import games as db_games
from gamesched.db import models, schedule
from gamesched.db import roster as db_roster
from gamesched.events import schemas
from gamesched.service import outbox, roster, scope

#: What a PATCH may change, and which of those may not be cleared.
CHANGEABLE = frozenset(
    {
        "title", "description", "scheduled_at", "expected_duration_minutes", "max_players",
        "reminder_minutes", "host_discord_id",
    }
)  # fmt: skip
_NOT_NULL = ("title", "scheduled_at", "host_discord_id")
#: A change of any of these re-plans the schedule.
_PLANNED_FROM = ("scheduled_at", "reminder_minutes", "expected_duration_minutes")


def _require_future(scheduled_at: datetime, now: datetime) -> datetime:
    scheduled_at = rules.require_aware(scheduled_at, "scheduled_at")
    if scheduled_at <= now:
        raise errors.InvalidInput("scheduled_at: must be in the future", field="scheduled_at")
    return scheduled_at


def list_games(
    session: Session,
    *,
    guild_scope: uuid.UUID | None,
    discord_guild_id: str | None,
    status: rules.GameStatus | None,
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[db_games.GameRow], bool]:
    """Up to ``limit`` games in ``(scheduled_at, id)`` order after the key ``after``, and
    whether more follow. A ``discord_guild_id`` outside the caller's guild is NotFound."""
    guild_id = guild_scope
    if discord_guild_id is not None:
        guild_id = scope.get_guild(
            session, discord_guild_id=discord_guild_id, guild_scope=guild_scope
        ).id
    rows = db_games.page_of_games(
        session,
        guild_id=guild_id,
        status=status,
        start=start,
        end=end,
        after=after,
        limit=limit + 1,
    )
    return rows[:limit], len(rows) > limit


def create_game(
    session: Session,
    *,
    guild_scope: uuid.UUID | None,
    discord_channel_id: str,
    title: str,
    description: str | None,
    scheduled_at: datetime,
    expected_duration_minutes: int | None,
    max_players: int | None,
    reminder_minutes: Sequence[int] | None,
    host_discord_id: str,
    now: datetime,
) -> db_games.GameRow:
    """Insert a game, its reminders still ahead, its two status changes and ``game.created``."""
    scheduled_at = _require_future(scheduled_at, now)
    channel, guild = scope.get_channel(
        session, discord_channel_id=discord_channel_id, guild_scope=guild_scope
    )
    game = models.GameSession(
        guild_id=guild.id,
        channel_id=channel.id,
        title=title,
        description=description,
        scheduled_at=scheduled_at,
        expected_duration_minutes=expected_duration_minutes,
        max_players=max_players,
        reminder_minutes=None
        if reminder_minutes is None
        else list(rules.validate_minutes(reminder_minutes)),
        status=rules.GameStatus.SCHEDULED.value,
        host_discord_id=host_discord_id,
        created_at=now,
        updated_at=now,
    )
    session.add(game)
    session.flush()
    schedule.sync_schedule(session, game=game, channel=channel, guild=guild, now=now)
    outbox.game_event(session, routing_key=schemas.GAME_CREATED, game_id=game.id)
    return db_games.GameRow(game, channel, guild)


def change_game(
    session: Session,
    *,
    game_id: uuid.UUID,
    guild_scope: uuid.UUID | None,
    now: datetime,
    **changes: Any,
) -> db_games.GameRow:
    """Apply the given changes (any of :data:`CHANGEABLE`).

    A new time, duration or reminder list re-plans the schedule; a new ``max_players`` may
    promote waiting players. Finished games cannot change; a started one cannot move.
    """
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise errors.InvalidInput(f"cannot change {sorted(unknown)}", field=sorted(unknown)[0])
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise errors.InvalidInput(f"{name}: must not be null", field=name)
    row = scope.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True)
    game = row.game
    if game.status in rules.TERMINAL_STATUSES:
        raise errors.Conflict(f"the game is {game.status} and can no longer change")
    if "scheduled_at" in changes:
        if game.status != rules.GameStatus.SCHEDULED:
            raise errors.Conflict("a game that has started cannot move", field="scheduled_at")
        changes["scheduled_at"] = _require_future(changes["scheduled_at"], now)
    if changes.get("reminder_minutes") is not None:
        changes["reminder_minutes"] = list(rules.validate_minutes(changes["reminder_minutes"]))

    replan = any(name in changes and changes[name] != getattr(game, name) for name in _PLANNED_FROM)
    before = None
    if "max_players" in changes and changes["max_players"] != game.max_players:
        before = db_roster.roster_of(session, game=game)
    for name, value in changes.items():
        setattr(game, name, value)
    game.updated_at = now
    session.flush()
    if replan:
        schedule.sync_schedule(session, game=game, channel=row.channel, guild=row.guild, now=now)
    if before is not None:
        roster.promote_after_change(session, game=game, before=before)
    outbox.game_event(session, routing_key=schemas.GAME_UPDATED, game_id=game.id)
    return row


def cancel_game(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, now: datetime
) -> db_games.GameRow:
    """CANCELLED, with every pending reminder and status change removed. IllegalTransition
    (a Conflict) if the game is already finished."""
    row = scope.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True)
    if not rules.can_transition(row.game.status, rules.GameStatus.CANCELLED):
        raise errors.IllegalTransition(f"the game is already {row.game.status}", field="status")
    row.game.status = rules.GameStatus.CANCELLED.value
    row.game.updated_at = now
    session.flush()
    schedule.remove_pending(session, game_id=row.game.id)
    outbox.game_event(session, routing_key=schemas.GAME_CANCELLED, game_id=row.game.id)
    return row


def delete_game(session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None) -> None:
    """Delete the game with its schedule and roster. The ``game.deleted`` event carries the
    channel and message ids so the bot can remove the announcement."""
    row = scope.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True)
    event = schemas.GameDeleted(
        game_id=row.game.id,
        discord_channel_id=row.channel.discord_channel_id,
        discord_message_id=row.game.discord_message_id,
    )
    db_games.delete_game(session, game=row.game)
    outbox.record(session, event)


def record_announcement(session: Session, *, game_id: uuid.UUID, message_id: str | None) -> None:
    """Remember (or, with None, forget) the id of the game's announcement message. Not a
    change of the game people see, so ``updated_at`` and the outbox are left alone, and a game
    deleted meanwhile is simply not updated."""
    db_games.set_message_id(session, game_id=game_id, message_id=message_id)
