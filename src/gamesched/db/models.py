"""SQLAlchemy 2 models: guilds, channels, games and their rosters, the schedule tables the
scheduler claims from, the event outbox and queue, and the bot's and the API's own tables.

All times are ``timestamptz``; :class:`UTCDateTime` rejects naive datetimes before they reach the
database. Discord snowflakes are stored as text (they are JSON strings in the API and exceed
JavaScript's safe integers), checked to be 1-20 digits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import conv
from sqlalchemy.types import TypeDecorator

from gamesched import rules

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SNOWFLAKE_RE = "^[0-9]{1,20}$"
#: The statuses for the CHECK constraints, from rules.GameStatus. The text must stay exactly
#: what migration 0001 created ('SCHEDULED', 'IN_PROGRESS', ...): a new status needs a migration.
_STATUS_LIST = ", ".join(f"'{status.value}'" for status in rules.GameStatus)


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamptz`` that refuses naive datetimes and always returns UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r} rejected: a time zone is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)


def _now() -> Any:
    return text("now()")


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True),
        primary_key=True,
        server_default=text("gen_random_uuid()"),
        default=uuid.uuid4,
    )


def _snowflake_check(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} ~ '{SNOWFLAKE_RE}'", name=f"{column}_snowflake")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class Guild(Base):
    __tablename__ = "guilds"
    __table_args__ = (
        _snowflake_check("discord_guild_id"),
        CheckConstraint("default_duration_minutes > 0", name="default_duration_positive"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    discord_guild_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text, server_default="")
    reminder_minutes: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{60,15}'::integer[]")
    )
    default_duration_minutes: Mapped[int] = mapped_column(Integer, server_default=text("120"))
    #: IANA zone in which the guild's members' typed times are read when they set none of their
    #: own (``/timezone``); checked against the zone database before it is stored.
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC", default="UTC")
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (_snowflake_check("discord_channel_id"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    guild_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("guilds.id", ondelete="CASCADE"), index=True
    )
    discord_channel_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text, server_default="")
    reminder_minutes: Mapped[list[int] | None] = mapped_column(ARRAY(Integer), nullable=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class GameSession(Base):
    __tablename__ = "game_sessions"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status"),
        CheckConstraint(
            "expected_duration_minutes IS NULL OR expected_duration_minutes > 0",
            name="duration_positive",
        ),
        CheckConstraint("max_players IS NULL OR max_players > 0", name="max_players_positive"),
        # no infinite times where the scheduler computes with them (0003_finite_times)
        CheckConstraint("isfinite(scheduled_at)", name="scheduled_at_finite"),
        _snowflake_check("host_discord_id"),
        Index("ix_game_sessions_guild_id_scheduled_at", "guild_id", "scheduled_at", "id"),
        Index("ix_game_sessions_scheduled_at", "scheduled_at", "id"),
        Index("ix_game_sessions_channel_id", "channel_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    guild_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    scheduled_at: Mapped[datetime]
    expected_duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_players: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reminder_minutes: Mapped[list[int] | None] = mapped_column(ARRAY(Integer), nullable=True)
    status: Mapped[str] = mapped_column(String(16), server_default=rules.GameStatus.SCHEDULED.value)
    host_discord_id: Mapped[str] = mapped_column(String(20))
    discord_message_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class GameParticipant(Base):
    """A player in a game. Order is (joined_at, id): the first max_players are confirmed."""

    __tablename__ = "game_participants"
    __table_args__ = (
        UniqueConstraint("game_id", "discord_user_id"),
        _snowflake_check("discord_user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    game_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("game_sessions.id", ondelete="CASCADE"))
    discord_user_id: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime] = mapped_column(server_default=_now())


class NotificationSchedule(Base):
    """One reminder of one game. ``sent`` means done: published, or skipped (``skip_reason``)."""

    __tablename__ = "notification_schedule"
    __table_args__ = (
        UniqueConstraint("game_id", "reminder_minutes"),
        Index(
            "ix_notification_schedule_due",
            "notification_time",
            postgresql_where=text("NOT sent"),
        ),
        CheckConstraint("reminder_minutes >= 0", name="reminder_minutes_nonnegative"),
        CheckConstraint("isfinite(notification_time)", name="notification_time_finite"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    game_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("game_sessions.id", ondelete="CASCADE"))
    reminder_minutes: Mapped[int] = mapped_column(Integer)
    notification_time: Mapped[datetime]
    sent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class GameStatusSchedule(Base):
    """One planned status change. ``executed`` means done, applied or (``skip_reason``) not."""

    __tablename__ = "game_status_schedule"
    __table_args__ = (
        UniqueConstraint("game_id", "target_status"),
        Index(
            "ix_game_status_schedule_due",
            "transition_time",
            postgresql_where=text("NOT executed"),
        ),
        CheckConstraint(f"target_status IN ({_STATUS_LIST})", name="target_status"),
        CheckConstraint("isfinite(transition_time)", name="transition_time_finite"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    game_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("game_sessions.id", ondelete="CASCADE"))
    target_status: Mapped[str] = mapped_column(String(16))
    transition_time: Mapped[datetime]
    executed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    executed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class EventOutbox(Base):
    """An event to publish, written in the same transaction as the change it describes.

    ``game_id`` has no foreign key on purpose: a ``game.deleted`` event outlives its game.
    """

    __tablename__ = "event_outbox"
    __table_args__ = (
        Index(
            "ix_event_outbox_due",
            "available_at",
            postgresql_where=text("NOT published"),
        ),
        CheckConstraint("isfinite(available_at)", name="available_at_finite"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    routing_key: Mapped[str] = mapped_column(String(100))
    game_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    available_at: Mapped[datetime] = mapped_column(server_default=_now())
    published: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # done, not published
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class ApiToken(Base):
    """An API token. Only the SHA-256 (hex) of the token is stored; no guild means admin."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    guild_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("guilds.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ProcessedEvent(Base):
    """A consumed message id, so that a redelivered message is not acted on twice."""

    __tablename__ = "processed_events"

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    routing_key: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(server_default=_now())


class ReminderDelivery(Base):
    """One reminder DM to one user, recorded so a redelivered reminder never DMs twice.

    ``notification_time`` is part of the key: when a game moves and a sent reminder becomes
    pending again for its new time, the new reminder is a new delivery.
    """

    __tablename__ = "reminder_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "notification_id",
            "discord_user_id",
            "notification_time",
            name=conv("uq_reminder_deliveries_once"),
        ),
        _snowflake_check("discord_user_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_schedule.id", ondelete="CASCADE")
    )
    discord_user_id: Mapped[str] = mapped_column(String(20))
    notification_time: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), server_default="sent")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime] = mapped_column(server_default=_now())


class QueuedEvent(Base):
    """A message of the PostgreSQL event transport (``gamesched.events.pgqueue``).

    Written by the scheduler in the transaction that marks its schedule row done; a consumer
    leases it by moving ``available_at`` ahead and deletes it once handled. ``state`` is
    ``parked`` for messages that kept failing (the dead-letter queue), with ``last_error``.
    ``queue`` is the namespace (``GAMESCHED_EXCHANGE``), so several installs or test runs can
    share a database.
    """

    __tablename__ = "event_queue"
    __table_args__ = (
        Index(
            "ix_event_queue_ready",
            "queue",
            "available_at",
            "id",
            postgresql_where=text("state = 'ready'"),
        ),
        Index("ix_event_queue_parked", "queue", "id", postgresql_where=text("state = 'parked'")),
        CheckConstraint("state IN ('ready', 'parked')", name="state"),
        CheckConstraint("isfinite(available_at)", name="available_at_finite"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    queue: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(100))
    routing_key: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    available_at: Mapped[datetime] = mapped_column(server_default=_now())
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    state: Mapped[str] = mapped_column(String(16), server_default="ready", default="ready")
    parked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class UserSettings(Base):
    """A Discord user's own settings, across guilds: the IANA zone their typed times are in."""

    __tablename__ = "user_settings"
    __table_args__ = (_snowflake_check("discord_user_id"),)

    discord_user_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class GameDraft(Base):
    """A game typed into the ``/game create`` or ``/game edit`` modal, waiting for Confirm.

    ``id`` is random and travels in the Confirm and Edit buttons' ``custom_id``; a draft is only
    usable by ``discord_user_id`` in ``discord_guild_id`` until ``expires_at``. ``game_id`` is
    the game being edited (None for a new one). ``typed`` keeps the modal's fields as typed, to
    pre-fill the modal again on Edit.
    """

    __tablename__ = "game_drafts"
    __table_args__ = (
        CheckConstraint("isfinite(scheduled_at)", name="scheduled_at_finite"),
        Index("ix_game_drafts_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    discord_user_id: Mapped[str] = mapped_column(String(20))
    discord_guild_id: Mapped[str] = mapped_column(String(20))
    discord_channel_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    game_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    scheduled_at: Mapped[datetime]
    expected_duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_players: Mapped[int | None] = mapped_column(Integer, nullable=True)
    typed: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    expires_at: Mapped[datetime]
