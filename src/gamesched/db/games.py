"""Games: every change writes the game, its schedule rows and its outbox event in the caller's
one transaction, so a crash can never leave a game without its schedule or an event unpublished.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, select, tuple_
from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import game_rows, guilds, models, outbox, roster, schedule
from gamesched.events import schemas

_UNSET: Any = object()
_FINISHED = (rules.GameStatus.COMPLETED.value, rules.GameStatus.CANCELLED.value)


def _require_future(scheduled_at: datetime, now: datetime) -> datetime:
    scheduled_at = rules.require_aware(scheduled_at, "scheduled_at")
    if scheduled_at <= now:
        raise errors.InvalidInput("scheduled_at: must be in the future", field="scheduled_at")
    return scheduled_at


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
) -> game_rows.GameRow:
    """Insert a game, its reminders still ahead, its two status changes and ``game.created``."""
    scheduled_at = _require_future(scheduled_at, now)
    channel, guild = guilds.get_channel(
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
    outbox.add_game_event(session, routing_key=schemas.GAME_CREATED, game_id=game.id)
    return game_rows.GameRow(game, channel, guild)


def update_game(
    session: Session,
    *,
    game_id: uuid.UUID,
    guild_scope: uuid.UUID | None,
    now: datetime,
    **changes: Any,
) -> game_rows.GameRow:
    """Apply the given changes (any of title, description, scheduled_at,
    expected_duration_minutes, max_players, reminder_minutes, host_discord_id).

    A new time, duration or reminder list re-plans the schedule; a new ``max_players`` may
    promote waiting players. Finished games cannot change; a started one cannot move.
    """
    allowed = {
        "title", "description", "scheduled_at", "expected_duration_minutes", "max_players",
        "reminder_minutes", "host_discord_id",
    }  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise errors.InvalidInput(f"cannot change {sorted(unknown)}", field=sorted(unknown)[0])
    for name in ("title", "scheduled_at", "host_discord_id"):
        if name in changes and changes[name] is None:
            raise errors.InvalidInput(f"{name}: must not be null", field=name)
    row = game_rows.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True)
    game = row.game
    if game.status in _FINISHED:
        raise errors.Conflict(f"the game is {game.status} and can no longer change")
    if "scheduled_at" in changes:
        if game.status != rules.GameStatus.SCHEDULED:
            raise errors.Conflict("a game that has started cannot move", field="scheduled_at")
        changes["scheduled_at"] = _require_future(changes["scheduled_at"], now)
    if changes.get("reminder_minutes") is not None:
        changes["reminder_minutes"] = list(rules.validate_minutes(changes["reminder_minutes"]))

    replan = any(
        name in changes and changes[name] != getattr(game, name)
        for name in ("scheduled_at", "reminder_minutes", "expected_duration_minutes")
    )
    before = None
    if "max_players" in changes and changes["max_players"] != game.max_players:
        before = roster.roster_entries(
            roster.participants(session, game_ids=[game.id])[game.id], game.max_players
        )
    for name, value in changes.items():
        setattr(game, name, value)
    game.updated_at = now
    session.flush()
    if replan:
        schedule.sync_schedule(session, game=game, channel=row.channel, guild=row.guild, now=now)
    if before is not None:
        roster.promote_after_change(session, game=game, before=before)
    outbox.add_game_event(session, routing_key=schemas.GAME_UPDATED, game_id=game.id)
    return row


def cancel_game(
    session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None, now: datetime
) -> game_rows.GameRow:
    """CANCELLED, with every pending reminder and status change removed. 409 if finished."""
    row = game_rows.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True)
    if not rules.can_transition(row.game.status, rules.GameStatus.CANCELLED):
        raise errors.IllegalTransition(f"the game is already {row.game.status}", field="status")
    row.game.status = rules.GameStatus.CANCELLED.value
    row.game.updated_at = now
    session.flush()
    schedule.remove_pending(session, game_id=row.game.id)
    outbox.add_game_event(session, routing_key=schemas.GAME_CANCELLED, game_id=row.game.id)
    return row


def delete_game(session: Session, *, game_id: uuid.UUID, guild_scope: uuid.UUID | None) -> None:
    """Delete the game; the database cascades to its schedule and roster. The ``game.deleted``
    event carries the channel and message ids so the bot can remove the announcement."""
    row = game_rows.get_game(session, game_id=game_id, guild_scope=guild_scope, lock=True)
    payload = {
        "game_id": str(row.game.id),
        "discord_channel_id": row.channel.discord_channel_id,
        "discord_message_id": row.game.discord_message_id,
    }
    session.execute(delete(models.GameSession).where(models.GameSession.id == row.game.id))
    session.expunge(row.game)
    outbox.add_event(
        session, routing_key=schemas.GAME_DELETED, game_id=row.game.id, payload=payload
    )


def encode_cursor(game: models.GameSession) -> str:
    raw = json.dumps([game.scheduled_at.isoformat(), str(game.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, game_id = json.loads(raw)
        return rules.require_aware(datetime.fromisoformat(when)), uuid.UUID(game_id)
    # OverflowError: a tampered time near year 1 or 9999 whose offset moves it out of range
    except (ValueError, TypeError, OverflowError, binascii.Error, errors.InvalidInput):
        raise errors.InvalidInput(
            "cursor: not a cursor this API returned", field="cursor"
        ) from None


def list_games(
    session: Session,
    *,
    guild_scope: uuid.UUID | None,
    discord_guild_id: str | None,
    status: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[game_rows.GameRow], str | None]:
    """One page of games in ``(scheduled_at, id)`` order, and the cursor of the next page."""
    stmt = (
        select(models.GameSession, models.Channel, models.Guild)
        .join(models.Channel, models.Channel.id == models.GameSession.channel_id)
        .join(models.Guild, models.Guild.id == models.GameSession.guild_id)
        .order_by(models.GameSession.scheduled_at, models.GameSession.id)
        .limit(limit + 1)
    )
    if discord_guild_id is not None:
        guild = guilds.get_guild(
            session, discord_guild_id=discord_guild_id, guild_scope=guild_scope
        )
        stmt = stmt.where(models.GameSession.guild_id == guild.id)
    if guild_scope is not None:
        stmt = stmt.where(models.GameSession.guild_id == guild_scope)
    if status is not None:
        stmt = stmt.where(models.GameSession.status == status)
    if start is not None:
        stmt = stmt.where(models.GameSession.scheduled_at >= start)
    if end is not None:
        stmt = stmt.where(models.GameSession.scheduled_at < end)
    if cursor is not None:
        when, last_id = decode_cursor(cursor)
        key = (models.GameSession.scheduled_at, models.GameSession.id)
        stmt = stmt.where(
            tuple_(*key)
            > tuple_(literal(when, type_=key[0].type), literal(last_id, type_=key[1].type))
        )
    rows = [game_rows.GameRow(*r) for r in session.execute(stmt)]
    next_cursor = encode_cursor(rows[limit - 1].game) if len(rows) > limit else None
    return rows[:limit], next_cursor
