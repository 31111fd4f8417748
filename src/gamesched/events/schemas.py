"""The event contract: routing keys, one typed model per key, and the button ids.

Producers and consumers share this module and nothing else about a message's shape:

* the scheduler publishes ``game.reminder_due`` and ``game.status_transition_due`` with bodies
  that PostgreSQL builds as JSON text in the claim query (``gamesched.db.claims``), several times
  cheaper than building them in Python; the tests hold those bodies to the models below;
* the API writes the other events to the outbox with ``Event.body()``;
* a consumer calls ``parse(routing_key, body)`` and gets a model back, or ``MalformedEvent``
  (which it parks in the dead-letter queue: retrying a malformed body cannot help).

Models ignore fields they do not know, so a newer producer never breaks an older consumer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import pydantic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from gamesched import errors
from gamesched.rules import GameStatus

REMINDER_DUE = "game.reminder_due"
STATUS_TRANSITION_DUE = "game.status_transition_due"
GAME_CREATED = "game.created"
GAME_UPDATED = "game.updated"
GAME_CANCELLED = "game.cancelled"
GAME_DELETED = "game.deleted"
ROSTER_CHANGED = "game.roster_changed"

# Bodies are a few hundred bytes; anything far larger is not ours.
MAX_BODY_BYTES = 64 * 1024

# A Discord id: ASCII digits only (str.isdigit() would accept "²" or Arabic-Indic digits).
Snowflake = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]
RosterAction = Literal["joined", "waitlisted", "left", "promoted"]


class MalformedEvent(errors.InvalidInput):
    """The message is not a valid event for its routing key."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish. ``message_id`` is the id of the row that caused it, so consumers
    can drop redeliveries; ``expiration_ms`` makes the broker drop it when it is too late.
    ``body`` is a JSON object, or its JSON text when the database already built it."""

    message_id: str
    routing_key: str
    body: dict[str, Any] | str
    expiration_ms: int | None = None


class Event(BaseModel):
    """A message body. Every event concerns one game."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    routing_key: ClassVar[str]

    game_id: uuid.UUID

    def body(self) -> dict[str, Any]:
        """The JSON object to publish (ids and times as strings)."""
        return self.model_dump(mode="json")


class ReminderDue(Event):
    """A reminder of ``notification_schedule`` is due: DM the players."""

    routing_key: ClassVar[str] = REMINDER_DUE
    notification_id: uuid.UUID
    reminder_minutes: int = Field(ge=1)
    scheduled_at: AwareDatetime
    notification_time: AwareDatetime


class StatusTransitionDue(Event):
    """A ``game_status_schedule`` row is due; the scheduler applied it in the same transaction."""

    routing_key: ClassVar[str] = STATUS_TRANSITION_DUE
    schedule_id: uuid.UUID
    target_status: GameStatus
    transition_time: AwareDatetime


class GameCreated(Event):
    routing_key: ClassVar[str] = GAME_CREATED


class GameUpdated(Event):
    routing_key: ClassVar[str] = GAME_UPDATED


class GameCancelled(Event):
    routing_key: ClassVar[str] = GAME_CANCELLED


class GameDeleted(Event):
    """The game row is gone; these ids are what the bot needs to remove the announcement."""

    routing_key: ClassVar[str] = GAME_DELETED
    discord_channel_id: Snowflake | None = None
    discord_message_id: Snowflake | None = None


class RosterChanged(Event):
    routing_key: ClassVar[str] = ROSTER_CHANGED
    discord_user_id: Snowflake
    action: RosterAction


MODELS: dict[str, type[Event]] = {
    m.routing_key: m
    for m in (
        ReminderDue,
        StatusTransitionDue,
        GameCreated,
        GameUpdated,
        GameCancelled,
        GameDeleted,
        RosterChanged,
    )
}
ROUTING_KEYS = tuple(MODELS)
# The fields of the two scheduled events' bodies, which PostgreSQL builds (see the module doc).
REMINDER_DUE_FIELDS = tuple(ReminderDue.model_fields)
STATUS_TRANSITION_DUE_FIELDS = tuple(StatusTransitionDue.model_fields)


def parse(routing_key: str, body: bytes | str | Mapping[str, Any]) -> Event:
    """The typed event for ``routing_key``; ``MalformedEvent`` with a readable reason for an
    unknown key, a body that is not a JSON object of the right shape, or an oversized one."""
    model = MODELS.get(routing_key)
    if model is None:
        raise MalformedEvent(f"unknown routing key {routing_key[:100]!r}")
    try:
        if isinstance(body, Mapping):
            return model.model_validate(body)
        if len(body) > MAX_BODY_BYTES:
            raise MalformedEvent(f"{routing_key}: body of {len(body)} bytes is too large")
        return model.model_validate_json(body)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise MalformedEvent(f"{routing_key}: {where}: {first['msg']}") from exc


# -- button ids (custom_id) --------------------------------------------------------------------
# The bot puts these on the announcement's buttons; the API's interactions endpoint reads them.

ButtonAction = Literal["join", "leave"]
BUTTON_ACTIONS: tuple[ButtonAction, ...] = ("join", "leave")


def button_id(action: ButtonAction, game_id: uuid.UUID) -> str:
    """``game:join:<id>`` / ``game:leave:<id>`` (at most 47 characters; Discord allows 100)."""
    return f"game:{action}:{game_id}"


def parse_button_id(custom_id: object) -> tuple[ButtonAction, uuid.UUID] | None:
    """The inverse of ``button_id``; None for anything that is not one of ours."""
    if not isinstance(custom_id, str) or len(custom_id) > 100:
        return None
    parts = custom_id.split(":")
    if len(parts) != 3 or parts[0] != "game":
        return None
    action = next((a for a in BUTTON_ACTIONS if a == parts[1]), None)
    if action is None:
        return None
    try:
        return action, uuid.UUID(parts[2])
    except ValueError:
        return None
