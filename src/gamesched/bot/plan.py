"""What Discord should show or receive for one event: pure decisions, no I/O.

``decide(event, game, now)`` reads an event and the game as the database has it *now* and
returns the plan: the announcement to show (always rendered from the current state, so a late
or reordered event can never show stale data), DMs to send, or why nothing is done. The bot's
Discord adapter carries the plan out; this module never talks to Discord or the database.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gamesched.events import schemas
from gamesched.rules import GameStatus

# Discord's limits (message content, embed parts)
MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_VALUE = 1024

COLOURS = {
    GameStatus.SCHEDULED: 0x5865F2,  # blurple
    GameStatus.IN_PROGRESS: 0x57F287,  # green
    GameStatus.COMPLETED: 0x99AAB5,  # grey
    GameStatus.CANCELLED: 0xED4245,  # red
}
STATUS_TEXT = {
    GameStatus.SCHEDULED: "Scheduled",
    GameStatus.IN_PROGRESS: "In progress",
    GameStatus.COMPLETED: "Completed",
    GameStatus.CANCELLED: "Cancelled",
}


@dataclass(frozen=True, slots=True)
class Game:
    """One game as the bot reads it from the database."""

    id: uuid.UUID
    title: str
    description: str | None
    scheduled_at: datetime
    duration_minutes: int
    max_players: int | None
    status: GameStatus
    host_id: str
    guild_id: str
    channel_id: str
    message_id: str | None
    confirmed: tuple[str, ...] = ()
    waitlist: tuple[str, ...] = ()

    @property
    def link(self) -> str | None:
        """The announcement's URL, once it is posted."""
        if self.message_id is None:
            return None
        return f"https://discord.com/channels/{self.guild_id}/{self.channel_id}/{self.message_id}"


# -- what the adapter is asked to do -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmbedField:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    custom_id: str
    style: str  # "success" | "danger" (green Join, red Leave)
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Announcement:
    title: str
    description: str
    colour: int
    fields: tuple[EmbedField, ...]
    buttons: tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class ShowAnnouncement:
    """Post the announcement (no ``message_id`` yet) or edit it; if it was deleted on Discord,
    post it again. The adapter stores the new message id."""

    game_id: uuid.UUID
    channel_id: str
    message_id: str | None
    announcement: Announcement


@dataclass(frozen=True, slots=True)
class DeleteAnnouncement:
    channel_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class SendDm:
    """One DM. ``nonce`` (at most 25 characters, Discord's limit) is stable for the same DM, so
    Discord drops a resend after a crash between its answer and our commit; ``reminder`` ties
    the DM to its ``reminder_deliveries`` row (None for DMs that are not reminders)."""

    user_id: str
    content: str
    nonce: str
    reminder: ReminderKey | None = None


@dataclass(frozen=True, slots=True)
class ReminderKey:
    notification_id: uuid.UUID
    notification_time: datetime


Action = ShowAnnouncement | DeleteAnnouncement | SendDm


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...] = ()
    skipped: str | None = None  # why nothing is done, for the log and metrics

    @property
    def dms(self) -> list[SendDm]:
        return [a for a in self.actions if isinstance(a, SendDm)]


# -- rendering -----------------------------------------------------------------------------------


def discord_time(when: datetime, style: str) -> str:
    """``<t:UNIX:F>`` (full date and time) or ``<t:UNIX:R>`` (relative): every reader sees it
    in their own time zone."""
    return f"<t:{int(when.timestamp())}:{style}>"


def mentions(user_ids: Sequence[str], limit: int = MAX_FIELD_VALUE, numbered: bool = False) -> str:
    """``<@1>, <@2>`` (or numbered lines), cut to ``limit`` characters with "and N more"."""
    parts = [f"{i}. <@{u}>" if numbered else f"<@{u}>" for i, u in enumerate(user_ids, 1)]
    sep = "\n" if numbered else ", "
    out: list[str] = []
    for i, part in enumerate(parts):
        rest = len(parts) - i
        tail = f"{sep}and {rest} more" if rest > 1 else ""
        if len(sep.join([*out, part])) + len(tail) > limit:
            return sep.join([*out, f"and {rest} more"])
        out.append(part)
    return sep.join(out) or "nobody yet"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration_text(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


def announcement(game: Game) -> Announcement:
    seats = f"{len(game.confirmed)}/{game.max_players}" if game.max_players else "open"
    fields = [
        EmbedField(
            "When",
            f"{discord_time(game.scheduled_at, 'F')} ({discord_time(game.scheduled_at, 'R')})",
            inline=False,
        ),
        EmbedField("Duration", duration_text(game.duration_minutes)),
        EmbedField("Host", f"<@{game.host_id}>"),
        EmbedField("Status", STATUS_TEXT[game.status]),
        EmbedField(f"Players ({seats})", mentions(game.confirmed), inline=False),
    ]
    if game.waitlist:
        fields.append(
            EmbedField(
                f"Waitlist ({len(game.waitlist)})",
                mentions(game.waitlist, numbered=True),
                inline=False,
            )
        )
    open_ = game.status in (GameStatus.SCHEDULED, GameStatus.IN_PROGRESS)
    buttons = (
        Button("Join", schemas.button_id("join", game.id), "success", disabled=not open_),
        Button("Leave", schemas.button_id("leave", game.id), "danger", disabled=not open_),
    )
    title = game.title if open_ else f"{game.title} ({STATUS_TEXT[game.status].lower()})"
    return Announcement(
        title=_clip(title, MAX_TITLE),
        description=_clip(game.description or "", MAX_DESCRIPTION),
        colour=COLOURS[game.status],
        fields=tuple(fields),
        buttons=buttons,
    )


def nonce(*parts: object) -> str:
    """A stable 25-character nonce for one DM (Discord accepts at most 25)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:25]


def _with_link(text: str, game: Game) -> str:
    return _clip(f"{text}\n{game.link}" if game.link else text, MAX_CONTENT)


def reminder_text(game: Game, place: int | None) -> str:
    when = f"{discord_time(game.scheduled_at, 'F')} ({discord_time(game.scheduled_at, 'R')})"
    lead = f"Reminder: **{game.title}** starts {when}."
    if place is not None:
        lead += f" You are #{place} on the waitlist: you get a seat if someone leaves."
    return _with_link(lead, game)


# -- deciding ------------------------------------------------------------------------------------


def _show(game: Game) -> ShowAnnouncement:
    return ShowAnnouncement(game.id, game.channel_id, game.message_id, announcement(game))


def decide(event: schemas.Event, game: Game | None, *, now: datetime, message_id: str) -> Plan:
    """The plan for ``event`` (delivered as ``message_id``) given the game's current state
    (None: the game no longer exists) at ``now``."""
    if isinstance(event, schemas.GameDeleted):
        if event.discord_channel_id and event.discord_message_id:
            return Plan((DeleteAnnouncement(event.discord_channel_id, event.discord_message_id),))
        return Plan(skipped="never_announced")
    if game is None:
        return Plan(skipped="game_missing")
    if isinstance(event, schemas.ReminderDue):
        return _reminder(event, game, now)
    actions: list[Action] = [_show(game)]
    if isinstance(event, schemas.RosterChanged) and event.action == "promoted":
        if event.discord_user_id in game.confirmed:  # still in when we got to it
            text = _with_link(
                f"A seat opened up: you're in for **{game.title}**, "
                f"{discord_time(game.scheduled_at, 'F')}.",
                game,
            )
            actions.append(
                SendDm(event.discord_user_id, text, nonce(message_id, event.discord_user_id))
            )
    elif isinstance(event, schemas.GameCancelled):
        text = _with_link(
            f"**{game.title}** ({discord_time(game.scheduled_at, 'F')}) has been cancelled.", game
        )
        for user in _recipients(game):
            actions.append(SendDm(user, text, nonce(message_id, user)))
    return Plan(tuple(actions))


def _recipients(game: Game) -> list[str]:
    """The host, then every player (confirmed, then waiting), each once."""
    return list(dict.fromkeys([game.host_id, *game.confirmed, *game.waitlist]))


def _reminder(event: schemas.ReminderDue, game: Game, now: datetime) -> Plan:
    if game.status != GameStatus.SCHEDULED:
        return Plan(skipped=f"game_{game.status.lower()}")
    if now >= game.scheduled_at:
        return Plan(skipped="game_started")
    if event.scheduled_at != game.scheduled_at:
        # the game moved after this reminder was due; its re-armed row brings the new time
        return Plan(skipped="game_moved")
    key = ReminderKey(event.notification_id, event.notification_time)
    place = {user: i for i, user in enumerate(game.waitlist, 1)}
    dms = [
        SendDm(
            user,
            reminder_text(game, place.get(user)),
            nonce("reminder", event.notification_id, event.notification_time.isoformat(), user),
            key,
        )
        for user in _recipients(game)
    ]
    return Plan(tuple(dms))
