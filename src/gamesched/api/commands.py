"""Slash commands, their autocomplete, the game modal and its preview buttons.

Everything here answers one signed interaction (the dispatcher, :mod:`gamesched.api.interactions`,
has checked the signature) with the JSON Discord expects, through the same use cases as the HTTP
API (:mod:`gamesched.service`), each in one transaction scoped to the interaction's guild.

* ``/timezone zone:<z> [server:true]`` stores the person's zone, or (Manage Guild) the server's.
* ``/game create`` answers the modal; its submit is read in the person's zone and answered with
  an ephemeral preview carrying Confirm and Edit; Confirm creates the game.
* ``/game list`` pages the guild's open games; ``/game cancel|edit game:<id>`` and ``/game remind
  minutes:<m...> [game:<id>] [channel:<#c>]`` act on one game, a channel or the guild.

Who may do what is checked here, from the member's ``permissions`` in the interaction (Discord's
``default_member_permissions`` only hides commands; it is not a check). Every outcome, refusals
and failures included, is an ephemeral sentence.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from gamesched import discord_commands, errors, rules, when
from gamesched.db import models, views
from gamesched.service import drafts, games, guilds, hosting, scope, timezones

log = logging.getLogger("gamesched.api.commands")

# -- Discord's numbers ---------------------------------------------------------------------------

APPLICATION_COMMAND = 2
COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
EPHEMERAL = 64

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MANAGE_EVENTS = 1 << 33

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
ACTION_ROW = 1
BUTTON = 2
TEXT_INPUT = 4
PRIMARY, SECONDARY, SUCCESS = 1, 2, 3

# -- our names: the same as the registered command JSON (gamesched.discord_commands) -------------

GAME_COMMAND = "game"
TIMEZONE_COMMAND = "timezone"
OPT_ZONE = "zone"  # /timezone [zone]
OPT_TIMEZONE = "timezone"  # /game settings [timezone]
OPT_GAME = "game"
OPT_MINUTES = "minutes"
OPT_CHANNEL = "channel"
OPT_PAGE = "page"  # 1-based

#: Modal custom_ids: a new game (``game:create``, or ``game:create:<channel>`` when ``/game
#: create channel:`` named another channel), or an edit of the game whose id follows.
MODAL_NEW = discord_commands.GAME_MODAL_CREATE
MODAL_EDIT = discord_commands.GAME_MODAL_EDIT
#: Button custom_ids: Confirm and Edit carry the draft id; paging carries the page number.
CONFIRM = "gs:confirm:"
REDO = "gs:redo:"
PAGE = "gs:page:"

FIELD_TITLE = "title"
FIELD_WHEN = "when"
FIELD_DURATION = "duration"
FIELD_PLAYERS = "players"
FIELD_DESCRIPTION = "description"

PAGE_SIZE = 5
MAX_PAGE = 200
MAX_CHOICES = 25
MAX_PLAYERS = 1000

WENT_WRONG = "Something went wrong on our side; try again."
DATABASE_DOWN = "Sorry, something went wrong on our side. Please try again in a moment."
NOT_HERE = "Game commands only work in a server."
UNKNOWN = "Sorry, I don't know that command."
PREVIEW_GONE = (
    "This preview has expired (previews last 15 minutes) or isn't yours: run `/game create` again."
)
GAME_GONE = "I can't find that game in this server; pick one from the list."
GUILD_UNKNOWN = (
    "This server isn't set up for games yet: an admin must register it with gamesched first."
)
CHANNEL_UNKNOWN = (
    "Games can't be hosted in this channel yet: an admin must register it with gamesched "
    "(or run the command in a channel that is)."
)


@dataclass(frozen=True)
class Ctx:
    """What every handler needs from one interaction."""

    user_id: str
    guild_id: str | None
    channel_id: str | None
    permissions: int
    data: dict[str, Any]
    now: datetime
    factory: orm.sessionmaker[orm.Session]

    def has(self, bit: int) -> bool:
        return bool(self.permissions & (ADMINISTRATOR | bit))

    @property
    def manages_events(self) -> bool:
        return self.has(MANAGE_EVENTS) or self.has(MANAGE_GUILD)


@dataclass
class Answer:
    """An interaction response; ``update`` answers a button by editing its message."""

    body: dict[str, Any]
    #: a follow-up may replace the deferred answer (messages only: modals and autocomplete
    #: choices can only be the first answer)
    followable: bool = True


class Refusal(Exception):
    """A sentence for the person; nothing changed."""


# -- building answers ----------------------------------------------------------------------------


def message(content: str, components: list[dict[str, Any]] | None = None) -> Answer:
    data: dict[str, Any] = {
        "content": content,
        "flags": EPHEMERAL,
        "allowed_mentions": {"parse": []},
    }
    if components is not None:
        data["components"] = components
    return Answer({"type": CHANNEL_MESSAGE, "data": data})


def update(content: str, components: list[dict[str, Any]] | None = None) -> Answer:
    data: dict[str, Any] = {
        "content": content,
        "components": components or [],
        "allowed_mentions": {"parse": []},
    }
    return Answer({"type": UPDATE_MESSAGE, "data": data})


def _button(label: str, custom_id: str, style: int, disabled: bool = False) -> dict[str, Any]:
    return {
        "type": BUTTON,
        "style": style,
        "label": label,
        "custom_id": custom_id,
        "disabled": disabled,
    }


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": ACTION_ROW, "components": list(components)}


def game_modal(custom_id: str, typed: dict[str, str], zone: str) -> Answer:
    """The five-field game modal of :mod:`gamesched.discord_commands`, pre-filled with ``typed``;
    the "when" label names the zone the time will be read in when it fits."""
    data = discord_commands.game_modal(custom_id=custom_id, values=typed)
    for row in data["components"]:
        for component in row["components"]:
            label = f"When ({zone})"
            if component["custom_id"] == FIELD_WHEN and len(label) <= discord_commands.MAX_LABEL:
                component["label"] = label
    return Answer({"type": MODAL, "data": data}, followable=False)


def stamp(at: datetime) -> str:
    """An instant as Discord timestamps: every reader sees it in their own zone."""
    unix = int(at.timestamp())
    return f"<t:{unix}:F> (<t:{unix}:R>)"


def _minutes_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _wall(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _zone_words(zone: timezones.Zone) -> str:
    if zone.source == "you":
        return f"your time zone, {zone.name}"
    if zone.source == "server":
        return f"the server's time zone, {zone.name} (set your own with `/timezone`)"
    return f"{zone.name} (set your own with `/timezone`)"


# -- reading the interaction ---------------------------------------------------------------------


def _options(data: dict[str, Any]) -> tuple[str | None, dict[str, Any], str | None]:
    """(subcommand, {option: value}, focused option) of a command or autocomplete; a grouped
    subcommand is named with its group (``remind game``)."""
    options = data.get("options")
    names: list[str] = []
    while (
        isinstance(options, list)
        and options
        and isinstance(options[0], dict)
        and options[0].get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)
    ):
        names.append(str(options[0].get("name")))
        options = options[0].get("options")
    sub = " ".join(names) or None
    values: dict[str, Any] = {}
    focused = None
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and isinstance(option.get("name"), str):
            values[option["name"]] = option.get("value")
            if option.get("focused"):
                focused = option["name"]
    return sub, values, focused


def modal_values(data: dict[str, Any]) -> dict[str, str]:
    """The text inputs of a modal submit by custom_id (in action rows, or in labels)."""
    found: dict[str, str] = {}

    def walk(component: Any) -> None:
        if not isinstance(component, dict):
            return
        if component.get("type") == TEXT_INPUT and isinstance(component.get("custom_id"), str):
            value = component.get("value")
            found[component["custom_id"]] = value if isinstance(value, str) else ""
        for child in component.get("components") or []:
            walk(child)
        walk(component.get("component"))

    for component in data.get("components") or []:
        walk(component)
    return found


def _game_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Refusal(GAME_GONE) from None


def _guild(ctx: Ctx) -> str:
    if ctx.guild_id is None:
        raise Refusal(NOT_HERE)
    return ctx.guild_id


# -- the handlers --------------------------------------------------------------------------------


def handle(kind: int, ctx: Ctx) -> Answer:
    """The answer to one interaction of type 2, 3, 4 or 5. Never raises."""
    try:
        if kind == APPLICATION_COMMAND:
            return _command(ctx)
        if kind == AUTOCOMPLETE:
            return _autocomplete(ctx)
        if kind == MODAL_SUBMIT:
            return _modal_submit(ctx)
        if kind == COMPONENT:
            return _component(ctx)
        return message(UNKNOWN)
    except Exception as exc:
        return _failure(kind, exc)


def _failure(kind: int, exc: Exception) -> Answer:
    if kind == AUTOCOMPLETE:
        if not isinstance(exc, Refusal | errors.GameschedError):
            log.exception("autocomplete failed", extra={"action": "api.autocomplete_error"})
        return choices([])
    # a new ephemeral message, also for a button: the preview it was on stays usable (Edit)
    return message(explain(exc))


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop (or its own ? or !)."""
    text = text.strip()
    text = f"{text[:1].upper()}{text[1:]}"
    return text if text.endswith((".", "?", "!")) else f"{text}."


def explain(exc: Exception) -> str:
    """One sentence for the person, whatever went wrong."""
    if isinstance(exc, Refusal):
        return str(exc)
    if isinstance(exc, errors.NotFound):
        return {
            "game_id": GAME_GONE,
            "discord_guild_id": GUILD_UNKNOWN,
            "discord_channel_id": CHANNEL_UNKNOWN,
            "draft_id": PREVIEW_GONE,
        }.get(exc.field or "", GAME_GONE)
    if isinstance(exc, errors.Forbidden):
        return f"Sorry, {exc.message}."
    if isinstance(exc, errors.InvalidInput):
        if exc.field == "scheduled_at":
            return "That time has passed by now; pick a later one."
        return sentence(exc.message.removeprefix("reminder_minutes: "))
    if isinstance(exc, errors.Conflict):
        return f"Sorry, you can't do that now: {exc.message}."
    if isinstance(exc, sa_exc.SQLAlchemyError | errors.DatabaseUnavailable):
        log.warning("interaction failed: database", extra={"action": "api.interaction_db_error"})
        return DATABASE_DOWN
    log.exception("interaction failed", extra={"action": "api.interaction_error"})
    return WENT_WRONG


def _command(ctx: Ctx) -> Answer:
    name = ctx.data.get("name")
    sub, values, _ = _options(ctx.data)
    if name == TIMEZONE_COMMAND:
        return _timezone(ctx, values)
    if name != GAME_COMMAND:
        return message(UNKNOWN)
    handler: Callable[[Ctx, dict[str, Any]], Answer] | None = {
        "create": _create,
        "list": _list,
        "cancel": _cancel,
        "edit": _edit,
        "remind game": _remind,
        "remind channel": _remind,
        "remind guild": _remind,
        "settings": _settings,
    }.get(sub or "")
    return message(UNKNOWN) if handler is None else handler(ctx, values)


def _timezone(ctx: Ctx, values: dict[str, Any]) -> Answer:
    """``/timezone [zone]``: set the person's own zone, or say which one their times are in."""
    zone = values.get(OPT_ZONE)
    if zone is None:
        with ctx.factory() as session:
            current = timezones.zone_for(
                session, discord_user_id=ctx.user_id, discord_guild_id=ctx.guild_id
            )
        return message(
            f"Times you type are read in {_zone_words(current)}; "
            f"it's {_local_now(current.name, ctx.now)} there."
        )
    if not isinstance(zone, str) or not zone.strip():
        raise Refusal("Tell me a time zone, like Europe/Berlin or America/New_York.")
    with ctx.factory.begin() as session:
        name = timezones.set_user_zone(session, discord_user_id=ctx.user_id, zone=zone, now=ctx.now)
    return message(
        f"Your time zone is now {name} (it's {_local_now(name, ctx.now)} there). "
        "Times you type are read in it."
    )


def _settings(ctx: Ctx, values: dict[str, Any]) -> Answer:
    """``/game settings [timezone]``: show the server's settings, or (Manage Server) set its
    default time zone."""
    guild_id = _guild(ctx)
    zone = values.get(OPT_TIMEZONE)
    if zone is not None:
        if not ctx.has(MANAGE_GUILD):
            raise Refusal("Sorry, only members with Manage Server can set the server's time zone.")
        with ctx.factory.begin() as session:
            guild = timezones.set_guild_zone(
                session, discord_guild_id=guild_id, guild_scope=None, zone=str(zone), now=ctx.now
            )
            name = guild.timezone
        return message(
            f"This server's time zone is now {name} (it's {_local_now(name, ctx.now)} there). "
            "Members who haven't set their own zone type times in it."
        )
    with ctx.factory() as session:
        guild = scope.get_guild(session, discord_guild_id=guild_id, guild_scope=None)
        reminders = list(guild.reminder_minutes)
        text = (
            f"This server's time zone: {guild.timezone} (for members who set none with "
            f"`/timezone`).\nReminders: {_reminder_words(reminders)}.\n"
            f"A game lasts {_minutes_text(guild.default_duration_minutes)} unless its host "
            "says otherwise."
        )
    return message(text)


def _reminder_words(minutes: list[int] | None) -> str:
    if minutes is None:
        return "the default reminders"
    if not minutes:
        return "no reminders"
    return (
        "reminders "
        + ", ".join(_minutes_text(m) for m in sorted(minutes, reverse=True))
        + (" before the start")
    )


def _local_now(zone: str, now: datetime) -> str:
    return now.astimezone(ZoneInfo(zone)).strftime("%H:%M on %a %d %b")


def _create(ctx: Ctx, values: dict[str, Any]) -> Answer:
    """The modal, once we know the game can be announced where it is asked for."""
    guild_id = _guild(ctx)
    named = values.get(OPT_CHANNEL)
    channel_id = str(named) if named is not None else ctx.channel_id
    with ctx.factory() as session:
        _announce_in(session, guild_id, channel_id)
        zone = timezones.zone_for(session, discord_user_id=ctx.user_id, discord_guild_id=guild_id)
    custom_id = MODAL_NEW if named is None else f"{MODAL_NEW}:{channel_id}"
    return game_modal(custom_id, {}, zone.name)


def _announce_in(session: orm.Session, guild_id: str, channel_id: str | None) -> str:
    """The channel, if it is registered for this guild; else a Refusal saying what to do."""
    if channel_id is None:
        raise Refusal(CHANNEL_UNKNOWN)
    guild = scope.get_guild(session, discord_guild_id=guild_id, guild_scope=None)
    try:
        scope.get_channel(session, discord_channel_id=channel_id, guild_scope=guild.id)
    except errors.NotFound:
        raise Refusal(CHANNEL_UNKNOWN) from None
    return channel_id


def _edit(ctx: Ctx, values: dict[str, Any]) -> Answer:
    guild_id = _guild(ctx)
    game_id = _game_id(values.get(OPT_GAME))
    with ctx.factory() as session:
        guild = scope.get_guild(session, discord_guild_id=guild_id, guild_scope=None)
        row = hosting.manageable_game(
            session,
            game_id=game_id,
            guild_scope=guild.id,
            discord_user_id=ctx.user_id,
            manager=ctx.manages_events,
        )
        _still_open(row.game)
        zone = timezones.zone_for(session, discord_user_id=ctx.user_id, discord_guild_id=guild_id)
        game = row.game
        typed = {
            FIELD_TITLE: game.title,
            FIELD_WHEN: _wall(game.scheduled_at, zone.name),
            FIELD_DURATION: ""
            if game.expected_duration_minutes is None
            else f"{game.expected_duration_minutes}m",
            FIELD_PLAYERS: "" if game.max_players is None else str(game.max_players),
            FIELD_DESCRIPTION: game.description or "",
        }
    return game_modal(f"{MODAL_EDIT}{game_id}", typed, zone.name)


def _still_open(game: models.GameSession) -> None:
    if game.status in rules.TERMINAL_STATUSES:
        raise Refusal(f"That game is {game.status.lower()} and can no longer change.")


def _cancel(ctx: Ctx, values: dict[str, Any]) -> Answer:
    guild_id = _guild(ctx)
    game_id = _game_id(values.get(OPT_GAME))
    with ctx.factory.begin() as session:
        guild = scope.get_guild(session, discord_guild_id=guild_id, guild_scope=None)
        hosting.manageable_game(
            session,
            game_id=game_id,
            guild_scope=guild.id,
            discord_user_id=ctx.user_id,
            manager=ctx.manages_events,
            lock=True,
        )
        try:
            row = games.cancel_game(session, game_id=game_id, guild_scope=guild.id, now=ctx.now)
        except errors.IllegalTransition:
            raise Refusal("That game is already over or cancelled.") from None
        title, at = row.game.title, row.game.scheduled_at
    return message(f"Cancelled **{title}** (it was {stamp(at)}). The announcement will say so.")


def parse_minutes(text: str) -> list[int] | None:
    """``/game remind``'s minutes (:func:`gamesched.when.parse_reminder_minutes`): a list,
    ``[]`` for none, None to inherit; a Refusal with its sentence otherwise."""
    try:
        minutes = when.parse_reminder_minutes(text)
    except when.WhenError as exc:
        raise Refusal(sentence(str(exc))) from None
    return None if minutes is None else list(minutes)


def _remind(ctx: Ctx, values: dict[str, Any]) -> Answer:
    guild_id = _guild(ctx)
    minutes = parse_minutes(str(values.get(OPT_MINUTES) or ""))
    game_value, channel_value = values.get(OPT_GAME), values.get(OPT_CHANNEL)
    if game_value is not None and channel_value is not None:
        raise Refusal("Pick a game or a channel, not both (neither: the whole server).")
    said = _reminder_words(minutes)
    with ctx.factory.begin() as session:
        guild = scope.get_guild(session, discord_guild_id=guild_id, guild_scope=None)
        if game_value is not None:
            game_id = _game_id(game_value)
            hosting.manageable_game(
                session,
                game_id=game_id,
                guild_scope=guild.id,
                discord_user_id=ctx.user_id,
                manager=ctx.manages_events,
                lock=True,
            )
            row = games.change_game(
                session,
                game_id=game_id,
                guild_scope=guild.id,
                now=ctx.now,
                reminder_minutes=minutes,
            )
            return message(f"**{row.game.title}** now has {said}.")
        if not ctx.has(MANAGE_GUILD):
            raise Refusal(
                "Sorry, only members with Manage Server can change a channel's or the server's "
                "reminders (a game's host can change their game's)."
            )
        if channel_value is not None:
            channel = str(channel_value)
            guilds.configure_channel(
                session,
                discord_channel_id=channel,
                guild_scope=guild.id,
                now=ctx.now,
                reminder_minutes=minutes,
            )
            return message(f"Games in <#{channel}> now get {said}.")
        if minutes is None:
            raise Refusal("The server's reminders are the default: give minutes, or `none`.")
        guilds.configure_guild(
            session,
            discord_guild_id=guild_id,
            guild_scope=guild.id,
            now=ctx.now,
            reminder_minutes=minutes,
        )
        return message(
            f"Games in this server now get {said}, unless their channel or game says otherwise."
        )


def _list(ctx: Ctx, values: dict[str, Any]) -> Answer:
    page = values.get(OPT_PAGE)
    return _list_page(ctx, int(page) - 1 if isinstance(page, int) else 0, as_update=False)


def _list_page(ctx: Ctx, page: int, *, as_update: bool) -> Answer:
    guild_id = _guild(ctx)
    page = max(0, min(page, MAX_PAGE))
    with ctx.factory() as session:
        rows = hosting.upcoming_games(
            session, discord_guild_id=guild_id, offset=page * PAGE_SIZE, limit=PAGE_SIZE + 1
        )
        more = len(rows) > PAGE_SIZE
        shown = views.game_views(session, rows=rows[:PAGE_SIZE])
    if not shown:
        text = "No games coming up here." if page == 0 else "No more games."
    else:
        lines = [f"**Upcoming games** (page {page + 1})"]
        for view in shown:
            game = view.row.game
            seated = sum(1 for p in view.participants if p.state == "confirmed")
            seats = f"{seated}/{game.max_players}" if game.max_players else f"{seated}"
            live = " · in progress" if game.status == rules.GameStatus.IN_PROGRESS else ""
            lines.append(
                f"• **{game.title[:100]}** — {stamp(game.scheduled_at)} · {seats} players · "
                f"<#{view.row.channel.discord_channel_id}> · host <@{game.host_discord_id}>{live}"
            )
        text = "\n".join(lines)
    buttons = _row(
        _button("Previous", f"{PAGE}{page - 1}", SECONDARY, disabled=page == 0),
        _button("Next", f"{PAGE}{page + 1}", SECONDARY, disabled=not more),
    )
    return update(text, [buttons]) if as_update else message(text, [buttons])


# -- the modal and its preview -------------------------------------------------------------------


def _modal_submit(ctx: Ctx) -> Answer:
    guild_id = _guild(ctx)
    custom_id = str(ctx.data.get("custom_id") or "")
    game_id: uuid.UUID | None = None
    channel_id = ctx.channel_id
    if custom_id.startswith(MODAL_EDIT):
        game_id = _game_id(custom_id.removeprefix(MODAL_EDIT))
    elif custom_id.startswith(f"{MODAL_NEW}:"):
        channel_id = custom_id.removeprefix(f"{MODAL_NEW}:")
    elif custom_id != MODAL_NEW:
        return message("Sorry, I don't understand that form.")
    typed = modal_values(ctx.data)
    typed = {
        name: typed.get(name, "").strip()
        for name in (FIELD_TITLE, FIELD_WHEN, FIELD_DURATION, FIELD_PLAYERS, FIELD_DESCRIPTION)
    }
    with ctx.factory.begin() as session:
        guild = scope.get_guild(session, discord_guild_id=guild_id, guild_scope=None)
        zone = timezones.zone_for(session, discord_user_id=ctx.user_id, discord_guild_id=guild_id)
        current = None
        if game_id is not None:
            current = hosting.manageable_game(
                session,
                game_id=game_id,
                guild_scope=guild.id,
                discord_user_id=ctx.user_id,
                manager=ctx.manages_events,
            ).game
            _still_open(current)
        else:
            _announce_in(session, guild_id, channel_id)
        title = typed[FIELD_TITLE]
        if not title:
            raise Refusal("The game needs a title.")
        note = None
        if current is not None and typed[FIELD_WHEN] == _wall(current.scheduled_at, zone.name):
            at = current.scheduled_at  # unchanged: keep the exact instant (DST folds included)
        else:
            try:
                parsed = when.parse_when(typed[FIELD_WHEN], when.lookup_zone(zone.name), ctx.now)
            except when.WhenError as exc:
                raise Refusal(
                    f"{sentence(str(exc))} (Times are read in {_zone_words(zone)}.)"
                ) from None
            at, note = parsed.at, parsed.note
        duration = None
        if typed[FIELD_DURATION]:
            try:
                duration = when.parse_duration(typed[FIELD_DURATION])
            except when.WhenError as exc:
                raise Refusal(sentence(str(exc))) from None
        seats = None
        if typed[FIELD_PLAYERS]:
            if not re.fullmatch(r"[0-9]{1,4}", typed[FIELD_PLAYERS]) or not (
                1 <= int(typed[FIELD_PLAYERS]) <= MAX_PLAYERS
            ):
                raise Refusal(f"Seats must be a whole number from 1 to {MAX_PLAYERS}, or empty.")
            seats = int(typed[FIELD_PLAYERS])
        draft = drafts.save_draft(
            session,
            discord_user_id=ctx.user_id,
            discord_guild_id=guild_id,
            discord_channel_id=channel_id if game_id is None else None,
            game_id=game_id,
            title=title[:200],
            description=typed[FIELD_DESCRIPTION] or None,
            scheduled_at=at,
            expected_duration_minutes=duration,
            max_players=seats,
            typed=typed,
            now=ctx.now,
        )
        default_duration = guild.default_duration_minutes
        draft_id = draft.id
    lines = [
        f"**Preview{' of your changes' if game_id else ''}: {title}**",
        f"Starts {stamp(at)}",
        f"Read as {_wall(at, zone.name)} in {_zone_words(zone)}.",
    ]
    if note:
        lines.append(f"⚠️ {note}")
    lines.append(
        "Duration: "
        + (
            _minutes_text(duration)
            if duration
            else f"{_minutes_text(default_duration)} (the server's default)"
        )
    )
    lines.append(f"Seats: {seats}" if seats else "Seats: no limit")
    if typed[FIELD_DESCRIPTION]:
        lines.append(f"> {typed[FIELD_DESCRIPTION][:300]}")
    lines.append(
        "Confirm to " + ("save it" if game_id else "create it") + ", or Edit to change it."
    )
    buttons = _row(
        _button("Confirm", f"{CONFIRM}{draft_id}", SUCCESS),
        _button("Edit", f"{REDO}{draft_id}", SECONDARY),
    )
    return message("\n".join(lines), [buttons])


def _component(ctx: Ctx) -> Answer:
    custom_id = str(ctx.data.get("custom_id") or "")
    if custom_id.startswith(PAGE):
        page = custom_id.removeprefix(PAGE)
        return _list_page(
            ctx, int(page) if page.isdecimal() and page.isascii() else 0, as_update=True
        )
    if custom_id.startswith(CONFIRM):
        return _confirm(ctx, custom_id.removeprefix(CONFIRM))
    if custom_id.startswith(REDO):
        return _redo(ctx, custom_id.removeprefix(REDO))
    return message("Sorry, I don't understand that button.")


def _confirm(ctx: Ctx, draft_id: str) -> Answer:
    guild_id = _guild(ctx)
    with ctx.factory.begin() as session:
        row, created = drafts.confirm_draft(
            session,
            draft_id=draft_id,
            discord_user_id=ctx.user_id,
            discord_guild_id=guild_id,
            manager=ctx.manages_events,
            now=ctx.now,
        )
        title, at = row.game.title, row.game.scheduled_at
        channel = row.channel.discord_channel_id
    if created:
        return update(
            f"Created **{title}** for {stamp(at)}. You're the host; "
            f"the announcement will appear in <#{channel}> in a moment."
        )
    return update(f"Saved **{title}**: now {stamp(at)}. The announcement will follow.")


def _redo(ctx: Ctx, draft_id: str) -> Answer:
    guild_id = _guild(ctx)
    with ctx.factory() as session:
        draft = drafts.get_draft(
            session,
            draft_id=draft_id,
            discord_user_id=ctx.user_id,
            discord_guild_id=guild_id,
            now=ctx.now,
        )
        zone = timezones.zone_for(session, discord_user_id=ctx.user_id, discord_guild_id=guild_id)
        if draft.game_id is not None:
            custom_id = f"{MODAL_EDIT}{draft.game_id}"
        elif draft.discord_channel_id == ctx.channel_id:
            custom_id = MODAL_NEW
        else:
            custom_id = f"{MODAL_NEW}:{draft.discord_channel_id}"
        typed = {k: str(v) for k, v in draft.typed.items()}
    return game_modal(custom_id, typed, zone.name)


# -- autocomplete --------------------------------------------------------------------------------


def choices(items: list[tuple[str, str]]) -> Answer:
    body = {
        "type": AUTOCOMPLETE_RESULT,
        "data": {"choices": [{"name": n[:100], "value": v[:100]} for n, v in items[:MAX_CHOICES]]},
    }
    return Answer(body, followable=False)


def _autocomplete(ctx: Ctx) -> Answer:
    _, values, focused = _options(ctx.data)
    typed = str(values.get(focused) or "") if focused else ""
    if focused in (OPT_ZONE, OPT_TIMEZONE):
        return choices([(z, z) for z in when.zone_suggestions(typed, limit=MAX_CHOICES)])
    if focused == OPT_GAME and ctx.guild_id is not None:
        with ctx.factory() as session:
            rows = hosting.upcoming_games(
                session,
                discord_guild_id=ctx.guild_id,
                title_contains=typed.strip() or None,
                limit=MAX_CHOICES,
            )
            zone = timezones.zone_for(
                session, discord_user_id=ctx.user_id, discord_guild_id=ctx.guild_id
            )
        local = ZoneInfo(zone.name)
        return choices(
            [
                (
                    f"{row.game.title[:70]} · "
                    f"{row.game.scheduled_at.astimezone(local):%a %d %b %H:%M}",
                    str(row.game.id),
                )
                for row in rows
            ]
        )
    return choices([])
