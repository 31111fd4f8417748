"""Request and response bodies of the HTTP API, and the error answers each route documents.

Validation happens here, before anything reaches the database: Discord ids are digit strings,
times are RFC 3339 strings with an offset, text has no NUL (PostgreSQL cannot store it), and
every number has a range, so no input can make a query fail.

Every field has a description and every request body has examples (``*_EXAMPLES``, shown and
prefilled by ``/docs``): the OpenAPI document is the API's reference.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Body
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
    Field(
        description="a Discord id (snowflake) as a string of 1-20 digits",
        examples=["111111111111111111"],
    ),
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


def described(description: str) -> Any:
    """``Field`` metadata that only describes (for ``Annotated[T, described("...")]``)."""
    return Field(description=description)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value


NotNull = BeforeValidator(_not_null)


def keep(description: str) -> Any:
    """The default of a PATCH field that may be left out but not set to null
    (``name: Annotated[T, NotNull] = keep("...")``); its OpenAPI schema is a plain, non-nullable
    T."""
    # A default_factory (unlike a plain default) is not written into the schema as null.
    return Field(default_factory=lambda: None, description=description)


INHERIT_GUILD = "null (the default): inherit the guild's"

# Examples hold no null: FastAPI writes the OpenAPI document without None values, so a null in
# an example would silently vanish from it (test_openapi compares the two).

# --- guilds ---------------------------------------------------------------------------------


class GuildIn(_In):
    """A Discord server (guild) to register, with its defaults for every game in it."""

    discord_guild_id: Annotated[Snowflake, described("the guild's Discord id")]
    name: Annotated[Name, described("a name for people to recognise it by (up to 100)")] = ""
    reminder_minutes: Annotated[
        ReminderMinutes, described("default reminders, in minutes before a game starts")
    ] = [60, 15]
    default_duration_minutes: Annotated[
        Duration, described("how long a game lasts when it does not say, in minutes")
    ] = 120


class GuildPatch(_In):
    """The guild settings to change; a field left out keeps its value."""

    name: Annotated[Name, NotNull] = keep("a new name")
    reminder_minutes: Annotated[ReminderMinutes, NotNull] = keep(
        "new default reminders; games that inherit them are re-planned"
    )
    default_duration_minutes: Annotated[Duration, NotNull] = keep(
        "new default duration in minutes; games that inherit it are re-planned"
    )


class GuildOut(BaseModel):
    """A registered guild."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "discord_guild_id": "111111111111111111",
                    "name": "Board gamers",
                    "reminder_minutes": [60, 15],
                    "default_duration_minutes": 120,
                }
            ]
        }
    )

    discord_guild_id: str = Field(description="the guild's Discord id")
    name: str = Field(description="its name")
    reminder_minutes: list[int] = Field(description="default reminders, minutes before a start")
    default_duration_minutes: int = Field(description="default game length in minutes")


GUILD_IN_EXAMPLES = {
    "guild": {
        "summary": "a guild with reminders an hour and 15 minutes before",
        "value": {
            "discord_guild_id": "111111111111111111",
            "name": "Board gamers",
            "reminder_minutes": [60, 15],
            "default_duration_minutes": 120,
        },
    },
    "minimal": {
        "summary": "only the id: the defaults apply",
        "value": {"discord_guild_id": "111111111111111111"},
    },
}
GUILD_PATCH_EXAMPLES = {
    "reminders": {
        "summary": "remind a day and an hour before",
        "value": {"reminder_minutes": [1440, 60]},
    },
    "rename": {"summary": "a new name", "value": {"name": "Tabletop club"}},
}

# --- channels -------------------------------------------------------------------------------


class ChannelIn(_In):
    """A channel of the guild where games are announced."""

    discord_channel_id: Annotated[Snowflake, described("the channel's Discord id")]
    name: Annotated[Name, described("a name for people to recognise it by (up to 100)")] = ""
    reminder_minutes: ReminderMinutes | None = Field(
        default=None, description=f"reminders for the channel's games; {INHERIT_GUILD}"
    )


class ChannelPatch(_In):
    """The channel settings to change; a field left out keeps its value."""

    name: Annotated[Name, NotNull] = keep("a new name")
    reminder_minutes: ReminderMinutes | None = Field(
        default=None,
        description=f"new reminders for the channel's games; {INHERIT_GUILD} again",
    )


class ChannelOut(BaseModel):
    """A registered channel."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "discord_channel_id": "222222222222222222",
                    "name": "game-night",
                    "reminder_minutes": [30],
                }
            ]
        }
    )

    discord_channel_id: str = Field(description="the channel's Discord id")
    name: str = Field(description="its name")
    reminder_minutes: list[int] | None = Field(
        description="the channel's own reminders; null: it inherits the guild's"
    )


CHANNEL_IN_EXAMPLES = {
    "channel": {
        "summary": "a channel that inherits the guild's reminders",
        "value": {"discord_channel_id": "222222222222222222", "name": "game-night"},
    },
    "own reminders": {
        "summary": "a channel with a reminder of its own",
        "value": {
            "discord_channel_id": "222222222222222222",
            "name": "game-night",
            "reminder_minutes": [30],
        },
    },
}
CHANNEL_PATCH_EXAMPLES = {
    "own reminders": {"summary": "remind 30 minutes before", "value": {"reminder_minutes": [30]}},
    "rename": {"summary": "a new name", "value": {"name": "board-games"}},
}

# --- games ----------------------------------------------------------------------------------

_TIME = "RFC 3339 with an offset, e.g. 2030-06-01T19:30:00+02:00; must be in the future"


class GameIn(_In):
    """A game to create in a registered channel."""

    discord_channel_id: Annotated[Snowflake, described("the registered channel to announce in")]
    title: Annotated[Title, described("what is played (1-200 characters)")]
    description: Description | None = Field(
        default=None, description="more for the players (up to 4000 characters)"
    )
    scheduled_at: Annotated[Time, described(f"when it starts: {_TIME}")]
    expected_duration_minutes: Duration | None = Field(
        default=None, description=f"how long it lasts, in minutes; {INHERIT_GUILD} default"
    )
    max_players: MaxPlayers | None = Field(
        default=None, description="seats (1-1000); later joiners wait; null: no limit"
    )
    reminder_minutes: ReminderMinutes | None = Field(
        default=None, description="null: inherit the channel's, then the guild's"
    )
    host_discord_id: Annotated[Snowflake, described("the Discord user id of the host")]


class GamePatch(_In):
    """Only the fields present change; ``null`` clears the nullable ones (description,
    duration, max_players, reminder_minutes) and is refused for the others."""

    title: Annotated[Title, NotNull] = keep("a new title")
    description: Description | None = Field(default=None, description="a new description")
    scheduled_at: Annotated[Time, NotNull] = keep(
        f"a new start ({_TIME}); only while the game is scheduled"
    )
    expected_duration_minutes: Duration | None = Field(
        default=None, description="a new length in minutes; null: the guild's default"
    )
    max_players: MaxPlayers | None = Field(
        default=None, description="new seat count; more seats promote waiting players"
    )
    reminder_minutes: ReminderMinutes | None = Field(
        default=None, description="new reminders; null: inherit the channel's, then the guild's"
    )
    host_discord_id: Annotated[Snowflake, NotNull] = keep("the Discord user id of a new host")


class ParticipantOut(BaseModel):
    """A player on a game's roster."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"discord_user_id": "444444444444444444", "state": "confirmed", "position": 1}
            ]
        }
    )

    discord_user_id: str = Field(description="the player's Discord user id")
    state: Literal["confirmed", "waitlisted"] = Field(
        description="confirmed: has a seat; waitlisted: waits for one"
    )
    position: int = Field(description="1-based place in join order over the whole roster")

    @classmethod
    def of(cls, entry: roster.RosterEntry) -> ParticipantOut:
        return cls(
            discord_user_id=entry.discord_user_id, state=entry.state, position=entry.position
        )


_REMINDER_STATE = (
    "pending: to be sent; sent: sent; skipped: not sent (past when planned, the game started "
    "first, or it was cancelled)"
)


class ReminderOut(BaseModel):
    """One reminder of a game."""

    reminder_minutes: int = Field(description="minutes before the start")
    notification_time: datetime = Field(description="when it is (or was) due")
    state: Literal["pending", "sent", "skipped"] = Field(description=_REMINDER_STATE)


GameStatusField = Annotated[
    rules.GameStatus,
    Field(description="SCHEDULED, IN_PROGRESS from the start, COMPLETED at the end; or CANCELLED"),
]


class GameOut(BaseModel):
    """A game with its roster and reminders."""

    id: uuid.UUID = Field(description="the game's id")
    discord_guild_id: str = Field(description="its guild's Discord id")
    discord_channel_id: str = Field(description="its channel's Discord id")
    title: str = Field(description="what is played")
    description: str | None = Field(description="more for the players")
    scheduled_at: datetime = Field(description="when it starts (UTC)")
    expected_duration_minutes: int | None = Field(
        description="its own length in minutes; null: the guild's default applies"
    )
    max_players: int | None = Field(description="seats; null: no limit")
    reminder_minutes: list[int] | None = Field(
        description="its own reminders; null: the channel's, then the guild's apply"
    )
    status: GameStatusField
    host_discord_id: str = Field(description="the host's Discord user id")
    discord_message_id: str | None = Field(
        description="the bot's announcement message; null until it is posted"
    )
    created_at: datetime = Field(description="when it was created")
    updated_at: datetime = Field(description="when it last changed")
    participants: list[ParticipantOut] = Field(description="the roster in join order")
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
    """One page of games."""

    items: list[GameOut] = Field(description="the games, in scheduled_at order")
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


GAME_IN_EXAMPLES = {
    "game": {
        "summary": "a four-player game with the channel's reminders",
        "value": {
            "discord_channel_id": "222222222222222222",
            "title": "Catan",
            "description": "Base game, bring snacks",
            "scheduled_at": "2030-06-01T19:30:00+02:00",
            "expected_duration_minutes": 120,
            "max_players": 4,
            "host_discord_id": "333333333333333333",
        },
    },
    "own reminders": {
        "summary": "reminders of its own: a day and 10 minutes before",
        "value": {
            "discord_channel_id": "222222222222222222",
            "title": "Gloomhaven",
            "scheduled_at": "2030-06-08T18:00:00Z",
            "reminder_minutes": [1440, 10],
            "host_discord_id": "333333333333333333",
        },
    },
}
GAME_PATCH_EXAMPLES = {
    "move": {
        "summary": "move it an hour later",
        "value": {"scheduled_at": "2030-06-01T20:30:00+02:00"},
    },
    "seats": {"summary": "two more seats", "value": {"max_players": 6}},
}


class JoinIn(_In):
    """Who joins."""

    discord_user_id: Annotated[Snowflake, described("the joining player's Discord user id")]


JOIN_IN_EXAMPLES = {
    "join": {"summary": "a player joins", "value": {"discord_user_id": "444444444444444444"}}
}


class ScheduledReminderOut(BaseModel):
    """One reminder of a game, as the scheduler sees it."""

    id: uuid.UUID | None = Field(description="null for a reminder that never had a row")
    reminder_minutes: int = Field(description="minutes before the start")
    notification_time: datetime = Field(description="when it is (or was) due")
    state: Literal["pending", "sent", "skipped"] = Field(description=_REMINDER_STATE)
    sent_at: datetime | None = Field(description="when it was sent or skipped; null while pending")
    skip_reason: str | None = Field(
        description="why it was not sent (e.g. past_when_planned, game_started, "
        "game_cancelled); null otherwise"
    )


class TransitionOut(BaseModel):
    """One planned status change of a game."""

    id: uuid.UUID = Field(description="the row's id")
    target_status: GameStatusField
    transition_time: datetime = Field(description="when it is (or was) due")
    state: Literal["pending", "executed", "skipped"] = Field(
        description="pending: to come; executed: applied; skipped: no longer legal when due"
    )
    executed_at: datetime | None = Field(description="when it was done; null while pending")
    skip_reason: str | None = Field(description="why it was skipped; null otherwise")


class ScheduleOut(BaseModel):
    """What will happen to a game and what has."""

    game_id: uuid.UUID = Field(description="the game's id")
    status: GameStatusField
    reminders: list[ScheduledReminderOut] = Field(description="its reminders in time order")
    transitions: list[TransitionOut] = Field(description="its status changes in time order")

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


# --- request bodies with their examples ------------------------------------------------------

GuildInBody = Annotated[GuildIn, Body(openapi_examples=GUILD_IN_EXAMPLES)]
GuildPatchBody = Annotated[GuildPatch, Body(openapi_examples=GUILD_PATCH_EXAMPLES)]
ChannelInBody = Annotated[ChannelIn, Body(openapi_examples=CHANNEL_IN_EXAMPLES)]
ChannelPatchBody = Annotated[ChannelPatch, Body(openapi_examples=CHANNEL_PATCH_EXAMPLES)]
GameInBody = Annotated[GameIn, Body(openapi_examples=GAME_IN_EXAMPLES)]
GamePatchBody = Annotated[GamePatch, Body(openapi_examples=GAME_PATCH_EXAMPLES)]
JoinInBody = Annotated[JoinIn, Body(openapi_examples=JOIN_IN_EXAMPLES)]

# --- errors ---------------------------------------------------------------------------------


class ErrorItem(BaseModel):
    """One problem with the request."""

    field: str | None = Field(description="the field (dotted path) it concerns; null: none")
    message: str = Field(description="what is wrong, in words")


class ErrorOut(BaseModel):
    """Every error answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": [
                        {"field": "scheduled_at", "message": "scheduled_at: must be in the future"}
                    ],
                    "request_id": "5f0c9a1e2b3d4c6e8f7a9b0c1d2e3f40",
                }
            ]
        }
    )

    detail: list[ErrorItem] = Field(description="the problems, at least one")
    request_id: str | None = Field(
        default=None, description="this request's id (also the X-Request-ID header), for logs"
    )


class Health(BaseModel):
    """A health or readiness answer."""

    status: str = Field(description="ok, or what is wrong")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


#: Every error answer a route may document, by status. Each route lists, with :func:`errors`,
#: only those it can give.
ERRORS: dict[int, dict[str, Any]] = {
    400: _error("the body cannot be decoded (not UTF-8, or JSON nested too deeply)"),
    401: _error("missing, unknown or revoked token"),
    403: _error("this token may not do that (an admin token is needed)"),
    404: _error("not found (or outside the token's guild)"),
    409: _error("conflicts with the current state"),
    413: _error("the request body is over the size cap"),
    422: _error(
        "invalid input, including a body that is not JSON; each item names the field and the "
        "problem"
    ),
    503: _error(
        "the database (or Discord, for a channel check) is unavailable; retry after "
        "Retry-After seconds"
    ),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer ``statuses`` besides its success."""
    return {status: ERRORS[status] for status in sorted(statuses)}


#: What every route under /api/v1 can answer: no or a bad token (the gate, before anything
#: else), a bad path or query parameter, the database away.
API = (401, 422, 503)
#: ... and with a JSON body: undecodable, too large.
BODY = (400, 413)
