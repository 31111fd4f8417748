"""Request and response bodies of the HTTP API.

Validation happens here, before anything reaches the database: Discord ids are digit strings,
times are RFC 3339 strings with an offset, text has no NUL (PostgreSQL cannot store it), and
every number has a range, so no input can make a query fail.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from gamesched import rules
from gamesched.db import roster, schedule, views

SNOWFLAKE_PATTERN = r"^[0-9]{1,20}$"
Snowflake = Annotated[
    str,
    StringConstraints(pattern=SNOWFLAKE_PATTERN),
    Field(description="a Discord id (snowflake) as a string of 1-20 digits", examples=["1"]),
]

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)
#: Far enough from datetime's year 9999 that adding a year of minutes can never overflow.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _rfc3339_string(value: object) -> object:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 time with an offset, e.g. 2030-01-31T20:00:00+01:00")
    return value


def _utc_in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if utc >= LATEST:
        raise ValueError("must be before the year 9000")
    return utc


Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_string), AfterValidator(_utc_in_range)]


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Name = Annotated[str, StringConstraints(max_length=100), AfterValidator(_storable)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_storable)]
Description = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_storable)]
#: At least 1: a reminder "0 minutes before" is due when the game starts, which is exactly
#: when reminders expire, so it could never be delivered.
Minutes = Annotated[int, Field(strict=True, ge=1, le=rules.MAX_REMINDER_MINUTES)]
Duration = Annotated[int, Field(strict=True, ge=1, le=rules.MAX_REMINDER_MINUTES)]
MaxPlayers = Annotated[int, Field(strict=True, ge=1, le=1000)]


def _unique(values: list[int]) -> list[int]:
    if len(set(values)) != len(values):
        raise ValueError("must not contain duplicates")
    return values


ReminderMinutes = Annotated[
    list[Minutes],
    Field(
        max_length=rules.MAX_REMINDERS,
        description="minutes before the start, whole numbers 1-525600, at most 10, unique",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_unique),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value


NotNull = BeforeValidator(_not_null)


def keep() -> Any:
    """The default of a PATCH field that may be left out but not set to null
    (``name: Annotated[T, NotNull] = keep()``); its OpenAPI schema is a plain, non-nullable T."""
    # A default_factory (unlike a plain default) is not written into the schema as null.
    return Field(default_factory=lambda: None)


class GuildIn(_In):
    discord_guild_id: Snowflake
    name: Name = ""
    reminder_minutes: ReminderMinutes = [60, 15]
    default_duration_minutes: Duration = 120


class GuildPatch(_In):
    name: Annotated[Name, NotNull] = keep()
    reminder_minutes: Annotated[ReminderMinutes, NotNull] = keep()
    default_duration_minutes: Annotated[Duration, NotNull] = keep()


class GuildOut(BaseModel):
    discord_guild_id: str
    name: str
    reminder_minutes: list[int]
    default_duration_minutes: int


class ChannelIn(_In):
    discord_channel_id: Snowflake
    name: Name = ""
    reminder_minutes: ReminderMinutes | None = Field(
        default=None, description="null: inherit the guild's"
    )


class ChannelPatch(_In):
    name: Annotated[Name, NotNull] = keep()
    reminder_minutes: ReminderMinutes | None = Field(
        default=None, description="null: inherit the guild's"
    )


class ChannelOut(BaseModel):
    discord_channel_id: str
    name: str
    reminder_minutes: list[int] | None


class GameIn(_In):
    discord_channel_id: Snowflake
    title: Title
    description: Description | None = None
    scheduled_at: Time
    expected_duration_minutes: Duration | None = None
    max_players: MaxPlayers | None = None
    reminder_minutes: ReminderMinutes | None = Field(
        default=None, description="null: inherit the channel's, then the guild's"
    )
    host_discord_id: Snowflake


class GamePatch(_In):
    """Only the fields present change; ``null`` clears the nullable ones (description,
    duration, max_players, reminder_minutes) and is refused for the others."""

    title: Annotated[Title, NotNull] = keep()
    description: Description | None = None
    scheduled_at: Annotated[Time, NotNull] = keep()
    expected_duration_minutes: Duration | None = None
    max_players: MaxPlayers | None = None
    reminder_minutes: ReminderMinutes | None = None
    host_discord_id: Annotated[Snowflake, NotNull] = keep()


class ParticipantOut(BaseModel):
    discord_user_id: str
    state: Literal["confirmed", "waitlisted"]
    position: int = Field(description="1-based place in join order over the whole roster")

    @classmethod
    def of(cls, entry: roster.RosterEntry) -> ParticipantOut:
        return cls(
            discord_user_id=entry.discord_user_id, state=entry.state, position=entry.position
        )


class ReminderOut(BaseModel):
    reminder_minutes: int
    notification_time: datetime
    state: Literal["pending", "sent", "skipped"]


class GameOut(BaseModel):
    id: uuid.UUID
    discord_guild_id: str
    discord_channel_id: str
    title: str
    description: str | None
    scheduled_at: datetime
    expected_duration_minutes: int | None
    max_players: int | None
    reminder_minutes: list[int] | None
    status: rules.GameStatus
    host_discord_id: str
    discord_message_id: str | None
    created_at: datetime
    updated_at: datetime
    participants: list[ParticipantOut]
    reminders: list[ReminderOut] = Field(
        description="reminders in force and sent ones; those already past when planned are "
        "listed as skipped"
    )

    @classmethod
    def of(cls, view: views.GameView) -> GameOut:
        game, channel, guild = view.row
        return cls(
            id=game.id,
            discord_guild_id=guild.discord_guild_id,
            discord_channel_id=channel.discord_channel_id,
            title=game.title,
            description=game.description,
            scheduled_at=game.scheduled_at,
            expected_duration_minutes=game.expected_duration_minutes,
            max_players=game.max_players,
            reminder_minutes=game.reminder_minutes,
            status=game.status,
            host_discord_id=game.host_discord_id,
            discord_message_id=game.discord_message_id,
            created_at=game.created_at,
            updated_at=game.updated_at,
            participants=[ParticipantOut.of(p) for p in view.participants],
            reminders=[
                ReminderOut(
                    reminder_minutes=r.reminder_minutes,
                    notification_time=r.notification_time,
                    state=r.state,
                )
                for r in view.reminders
            ],
        )


class GamePage(BaseModel):
    items: list[GameOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class JoinIn(_In):
    discord_user_id: Snowflake


class ScheduledReminderOut(BaseModel):
    id: uuid.UUID | None = Field(description="null for a reminder that never had a row")
    reminder_minutes: int
    notification_time: datetime
    state: Literal["pending", "sent", "skipped"]
    sent_at: datetime | None
    skip_reason: str | None


class TransitionOut(BaseModel):
    id: uuid.UUID
    target_status: rules.GameStatus
    transition_time: datetime
    state: Literal["pending", "executed", "skipped"]
    executed_at: datetime | None
    skip_reason: str | None


class ScheduleOut(BaseModel):
    game_id: uuid.UUID
    status: rules.GameStatus
    reminders: list[ScheduledReminderOut]
    transitions: list[TransitionOut]

    @classmethod
    def of(
        cls,
        view: views.GameView,
        transitions: list[schedule.TransitionEntry],
    ) -> ScheduleOut:
        return cls(
            game_id=view.row.game.id,
            status=view.row.game.status,
            reminders=[
                ScheduledReminderOut(
                    id=r.id,
                    reminder_minutes=r.reminder_minutes,
                    notification_time=r.notification_time,
                    state=r.state,
                    sent_at=r.sent_at,
                    skip_reason=r.skip_reason,
                )
                for r in view.reminders
            ],
            transitions=[
                TransitionOut(
                    id=t.id,
                    target_status=t.target_status,
                    transition_time=t.transition_time,
                    state=t.state,
                    executed_at=t.executed_at,
                    skip_reason=t.skip_reason,
                )
                for t in transitions
            ],
        )


class ErrorItem(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    detail: list[ErrorItem]
    request_id: str | None = None


class Health(BaseModel):
    status: str


def _error(description: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": description}


#: The error answers every authenticated route may give.
API_ERRORS: dict[int | str, dict[str, object]] = {
    400: _error("the body is not valid JSON"),
    401: _error("missing, unknown or revoked token"),
    403: _error("this token may not do that"),
    404: _error("not found (or outside the token's guild)"),
    409: _error("conflicts with the current state"),
    422: _error("invalid input; each item names the field and the problem"),
    503: _error("the database is unavailable; retry after Retry-After seconds"),
}
