"""What the bot reads and records: a game's current state, handled message ids, reminder DMs.

The bot calls these in one transaction per delivery (``processed_events`` and the outcome are
committed together, then the delivery is acked), from a worker thread like the API does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched.bot import plan
from gamesched.db import models, roster
from gamesched.rules import GameStatus
from gamesched.service import games


def load_game(session: Session, *, game_id: uuid.UUID, lock: bool = False) -> plan.Game | None:
    """The game as the announcement shows it, or None if it no longer exists. ``lock`` takes
    the game row FOR UPDATE, so two deliveries of one game render and store in turn."""
    stmt = (
        select(models.GameSession, models.Channel, models.Guild)
        .join(models.Channel, models.Channel.id == models.GameSession.channel_id)
        .join(models.Guild, models.Guild.id == models.GameSession.guild_id)
        .where(models.GameSession.id == game_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=models.GameSession).execution_options(populate_existing=True)
    row = session.execute(stmt).first()
    if row is None:
        return None
    game, channel, guild = row
    entries = roster.roster_entries(
        roster.participants(session, game_ids=[game.id])[game.id], game.max_players
    )
    return plan.Game(
        id=game.id,
        title=game.title,
        description=game.description,
        scheduled_at=game.scheduled_at,
        duration_minutes=game.expected_duration_minutes or guild.default_duration_minutes,
        max_players=game.max_players,
        status=GameStatus(game.status),
        host_id=game.host_discord_id,
        guild_id=guild.discord_guild_id,
        channel_id=channel.discord_channel_id,
        message_id=game.discord_message_id,
        confirmed=tuple(e.discord_user_id for e in entries if e.state == "confirmed"),
        waitlist=tuple(e.discord_user_id for e in entries if e.state == "waitlisted"),
    )


def set_message_id(session: Session, *, game_id: uuid.UUID, message_id: str | None) -> None:
    """Remember (or forget) the announcement's message id: a change of a game, so it goes
    through the use case the API would use (:func:`gamesched.service.games.record_announcement`)."""
    games.record_announcement(session, game_id=game_id, message_id=message_id)


def claim_message(session: Session, *, message_id: str, routing_key: str) -> bool:
    """Record ``message_id`` as handled; False if it already was (a redelivery to drop).

    Concurrent deliveries of one id wait on each other's row lock here, so only one of them
    goes on; the record commits with the handler's outcome, or not at all."""
    result = session.execute(
        insert(models.ProcessedEvent)
        .values(message_id=message_id, routing_key=routing_key)
        .on_conflict_do_nothing(index_elements=[models.ProcessedEvent.message_id])
        .returning(models.ProcessedEvent.message_id)
    )
    return result.first() is not None


def was_handled(session: Session, *, message_id: str) -> bool:
    return session.get(models.ProcessedEvent, message_id) is not None


def delivered(session: Session, *, key: plan.ReminderKey, users: Iterable[str]) -> set[str]:
    """Of ``users``, those whose DM for this reminder (at this time) is already recorded."""
    rows = session.scalars(
        select(models.ReminderDelivery.discord_user_id).where(
            models.ReminderDelivery.notification_id == key.notification_id,
            models.ReminderDelivery.notification_time == key.notification_time,
            models.ReminderDelivery.discord_user_id.in_(list(users)),
        )
    )
    return set(rows)


def record_delivery(
    session: Session,
    *,
    key: plan.ReminderKey,
    user_id: str,
    status: str,
    error: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Record one reminder DM's outcome (``sent`` or ``undeliverable``); False if it was
    recorded already."""
    values: dict[str, object] = {
        "notification_id": key.notification_id,
        "notification_time": key.notification_time,
        "discord_user_id": user_id,
        "status": status,
        "error": error,
    }
    if at is not None:
        values["delivered_at"] = at
    result = session.execute(
        insert(models.ReminderDelivery)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_reminder_deliveries_once")
        .returning(models.ReminderDelivery.id)
    )
    return result.first() is not None
