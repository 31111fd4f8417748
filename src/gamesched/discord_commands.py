"""The application commands and the game modal, as Discord's JSON, and registering them.

Two top-level commands (docs/commands.md says what each does):

* ``/game`` with the subcommands ``create [channel]``, ``list [page]``, ``cancel <game>``,
  ``edit <game>``, the group ``remind`` (``remind game <game> <minutes>``, ``remind channel
  <channel> <minutes>``, ``remind guild <minutes>``) and ``settings [timezone]`` (the guild's
  default zone). Game options autocomplete from the guild's upcoming games. Anyone may use
  ``/game``: who may cancel, edit or change settings is checked by us on each interaction from
  the member's permissions, so ``default_member_permissions`` is left unset (Discord's setting
  alone is never trusted, and a host without Manage Guild must still edit their own game).
* ``/timezone [zone]``: the person's own IANA zone, with autocomplete; usable in the server and
  in a DM with the bot (a person's zone is theirs, not the server's).

:func:`check_limits` and :func:`check_modal` list every way a payload breaks Discord's limits;
the tests run them on everything here. :func:`register` bulk-overwrites the registered commands
(one guild's, for testing, or the global ones) and reports what changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gamesched import errors

# option types (https://discord.com/developers/docs/interactions/application-commands)
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN = 1, 2, 3, 4, 5
USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 6, 7, 8, 9, 10, 11
CHAT_INPUT = 1
GUILD_TEXT, GUILD_ANNOUNCEMENT = 0, 5
CONTEXT_GUILD, CONTEXT_BOT_DM = 0, 1
GUILD_INSTALL = 0

# modal components
ACTION_ROW, TEXT_INPUT = 1, 4
SHORT, PARAGRAPH = 1, 2

GAME_MODAL_CREATE = "game:create"
GAME_MODAL_EDIT = "game:edit:"  # + the game's id
MODAL_FIELDS = ("title", "when", "duration", "players", "description")

TITLE_MAX = 200  # as the API's Title
DESCRIPTION_MAX = 4000  # as the API's Description, and Discord's text input maximum
WHEN_MAX = 100  # gamesched.when.MAX_INPUT


def _game_option(description: str = "the game (start typing its title)") -> dict[str, Any]:
    return {
        "type": STRING,
        "name": "game",
        "description": description,
        "required": True,
        "autocomplete": True,
        "max_length": 100,
    }


def _minutes_option() -> dict[str, Any]:
    return {
        "type": STRING,
        "name": "minutes",
        "description": "minutes before the start, like 60 15 (or 1h 15m); none: no reminders; "
        "default: inherit",
        "required": True,
        "max_length": 100,
    }


def _channel_option(description: str, *, required: bool) -> dict[str, Any]:
    return {
        "type": CHANNEL,
        "name": "channel",
        "description": description,
        "required": required,
        "channel_types": [GUILD_TEXT, GUILD_ANNOUNCEMENT],
    }


def _timezone_option(name: str, description: str) -> dict[str, Any]:
    return {
        "type": STRING,
        "name": name,
        "description": description,
        "required": False,
        "autocomplete": True,
        "max_length": 64,
    }


def game_command() -> dict[str, Any]:
    return {
        "type": CHAT_INPUT,
        "name": "game",
        "description": "Schedule game nights: create, list, edit, cancel, reminders",
        "contexts": [CONTEXT_GUILD],
        "integration_types": [GUILD_INSTALL],
        "options": [
            {
                "type": SUB_COMMAND,
                "name": "create",
                "description": "Schedule a game: a form asks for title, time, duration, players",
                "options": [
                    _channel_option("where to announce it (default: this channel)", required=False)
                ],
            },
            {
                "type": SUB_COMMAND,
                "name": "list",
                "description": "This server's upcoming games (only you see the list)",
                "options": [
                    {
                        "type": INTEGER,
                        "name": "page",
                        "description": "which page of the list (default: the first)",
                        "required": False,
                        "min_value": 1,
                        "max_value": 1000,
                    }
                ],
            },
            {
                "type": SUB_COMMAND,
                "name": "cancel",
                "description": "Cancel a game (its host, or Manage Events / Manage Server)",
                "options": [_game_option("the game to cancel (start typing its title)")],
            },
            {
                "type": SUB_COMMAND,
                "name": "edit",
                "description": "Change a game's title, time, duration, players or description",
                "options": [_game_option("the game to change (start typing its title)")],
            },
            {
                "type": SUB_COMMAND_GROUP,
                "name": "remind",
                "description": "When reminders are sent, for a game, a channel or the server",
                "options": [
                    {
                        "type": SUB_COMMAND,
                        "name": "game",
                        "description": "Reminder minutes for one game",
                        "options": [_game_option(), _minutes_option()],
                    },
                    {
                        "type": SUB_COMMAND,
                        "name": "channel",
                        "description": "Reminder minutes for the games of a channel",
                        "options": [
                            _channel_option("the channel whose games it applies to", required=True),
                            _minutes_option(),
                        ],
                    },
                    {
                        "type": SUB_COMMAND,
                        "name": "guild",
                        "description": "Reminder minutes for every game on this server",
                        "options": [_minutes_option()],
                    },
                ],
            },
            {
                "type": SUB_COMMAND,
                "name": "settings",
                "description": "Show or change this server's settings (Manage Server to change)",
                "options": [
                    _timezone_option(
                        "timezone",
                        "the server's default time zone, for members who set none (IANA name)",
                    )
                ],
            },
        ],
    }


def timezone_command() -> dict[str, Any]:
    return {
        "type": CHAT_INPUT,
        "name": "timezone",
        "description": "Show or set your time zone: the times you type are read in it",
        "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM],
        "integration_types": [GUILD_INSTALL],
        "options": [
            _timezone_option("zone", "your time zone, like Europe/Berlin (start typing a city)")
        ],
    }


def commands() -> list[dict[str, Any]]:
    """Every application command, as the bulk overwrite sends them."""
    return [game_command(), timezone_command()]


def game_modal(
    *, custom_id: str = GAME_MODAL_CREATE, values: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The create/edit form (interaction response type 9's ``data``). For ``/game edit``, pass
    ``custom_id=GAME_MODAL_EDIT + str(game_id)`` and the game's current ``values``, keyed by
    :data:`MODAL_FIELDS` (``when`` as the host's wall time, say ``2026-12-04 20:00``)."""
    values = values or {}
    editing = custom_id.startswith(GAME_MODAL_EDIT)

    def text_input(
        name: str,
        label: str,
        *,
        style: int = SHORT,
        required: bool = True,
        max_length: int,
        placeholder: str,
    ) -> dict[str, Any]:
        component: dict[str, Any] = {
            "type": TEXT_INPUT,
            "custom_id": name,
            "label": label,
            "style": style,
            "required": required,
            "min_length": 1 if required else 0,
            "max_length": max_length,
            "placeholder": placeholder,
        }
        value = values.get(name)
        if value:
            component["value"] = value[:max_length]
        return {"type": ACTION_ROW, "components": [component]}

    return {
        "custom_id": custom_id,
        "title": "Change the game" if editing else "New game",
        "components": [
            text_input("title", "Title", max_length=TITLE_MAX, placeholder="Catan"),
            text_input(
                "when",
                "When (in your time zone)",
                max_length=WHEN_MAX,
                placeholder="fri 8pm, tomorrow 19:30, 2026-12-04 20:00",
            ),
            text_input(
                "duration",
                "How long",
                required=False,
                max_length=20,
                placeholder="2h, 90 (minutes), 1h30; empty: the server's default",
            ),
            text_input(
                "players",
                "Players at most",
                required=False,
                max_length=4,
                placeholder="4; empty: no limit",
            ),
            text_input(
                "description",
                "Description",
                style=PARAGRAPH,
                required=False,
                max_length=DESCRIPTION_MAX,
                placeholder="what to bring, where to join, house rules",
            ),
        ],
    }


# --- Discord's limits -------------------------------------------------------------------------

NAME_RE = re.compile(r"^[-_\w]{1,32}$")
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_COMMANDS = 100  # chat-input commands per scope
MAX_COMMAND_CHARS = 4000  # name + description + every option's and choice's, per command
MAX_MODAL_TITLE = 45
MAX_LABEL = 45
MAX_MODAL_COMPONENTS = 5
MAX_CUSTOM_ID = 100
MAX_PLACEHOLDER = 100
MAX_TEXT_INPUT = 4000
_VALUE_TYPES = (STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT)


def _check_name(where: str, name: object, problems: list[str]) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"{where}: name {name!r} must be 1-32 of letters, digits, - and _")
    elif name != name.lower():
        problems.append(f"{where}: name {name!r} must be lower case")


def _check_text(where: str, what: str, text: object, low: int, high: int, out: list[str]) -> None:
    if not isinstance(text, str) or not low <= len(text) <= high:
        size = len(text) if isinstance(text, str) else type(text).__name__
        out.append(f"{where}: {what} must be {low}-{high} characters (is {size})")


def _chars(entry: Mapping[str, Any]) -> int:
    total = len(str(entry.get("name", ""))) + len(str(entry.get("description", "")))
    for choice in entry.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total + sum(_chars(option) for option in entry.get("options") or [])


def _check_options(where: str, options: object, depth: int, problems: list[str]) -> None:
    """``depth`` 0: a command's options; 1: a group's or subcommand's; 2: a grouped
    subcommand's."""
    if options is None:
        return
    if not isinstance(options, list):
        problems.append(f"{where}: options must be a list")
        return
    if len(options) > MAX_OPTIONS:
        problems.append(f"{where}: {len(options)} options, at most {MAX_OPTIONS}")
    names = [o.get("name") for o in options if isinstance(o, dict)]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"{where}: option name {name!r} used twice")
    kinds = [o.get("type") for o in options if isinstance(o, dict)]
    nested = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(nested) and not all(nested):
        problems.append(f"{where}: subcommands cannot be mixed with other options")
    seen_optional = False
    for option in options:
        if not isinstance(option, dict):
            problems.append(f"{where}: an option must be an object")
            continue
        here = f"{where} {option.get('name')}"
        kind = option.get("type")
        _check_name(here, option.get("name"), problems)
        _check_text(here, "description", option.get("description"), 1, 100, problems)
        if kind == SUB_COMMAND_GROUP:
            if depth != 0:
                problems.append(f"{here}: a subcommand group can only be a command's option")
            subs = option.get("options") or []
            if not subs or any(s.get("type") != SUB_COMMAND for s in subs):
                problems.append(f"{here}: a subcommand group holds 1-25 subcommands, only")
            _check_options(here, subs, depth + 1, problems)
        elif kind == SUB_COMMAND:
            if depth > 1:
                problems.append(f"{here}: subcommands nest at most in one group")
            _check_options(here, option.get("options"), 2, problems)
        elif kind in _VALUE_TYPES:
            if option.get("required"):
                if seen_optional:
                    problems.append(f"{here}: required options must come before optional ones")
            else:
                seen_optional = True
            _check_value_option(here, option, problems)
        else:
            problems.append(f"{here}: unknown option type {kind!r}")


def _check_value_option(here: str, option: Mapping[str, Any], problems: list[str]) -> None:
    kind = option.get("type")
    choices = option.get("choices")
    if choices is not None:
        if kind not in (STRING, INTEGER, NUMBER):
            problems.append(f"{here}: only string, integer and number options have choices")
        if len(choices) > MAX_CHOICES:
            problems.append(f"{here}: {len(choices)} choices, at most {MAX_CHOICES}")
        for choice in choices:
            _check_text(f"{here} choice", "name", choice.get("name"), 1, 100, problems)
            value = choice.get("value")
            if isinstance(value, str) and len(value) > 100:
                problems.append(f"{here} choice: a value is at most 100 characters")
    if option.get("autocomplete"):
        if kind not in (STRING, INTEGER, NUMBER):
            problems.append(f"{here}: only string, integer and number options autocomplete")
        if choices:
            problems.append(f"{here}: an option cannot have both choices and autocomplete")
    for low, high in (("min_length", "max_length"), ("min_value", "max_value")):
        if low.endswith("length"):
            for key, bottom in ((low, 0), (high, 1)):
                value = option.get(key)
                if value is not None and not bottom <= value <= 6000:
                    problems.append(f"{here}: {key} must be {bottom}-6000")
        lo, hi = option.get(low), option.get(high)
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"{here}: {low} is above {high}")
    if kind == CHANNEL and "channel_types" in option and not option["channel_types"]:
        problems.append(f"{here}: channel_types must not be empty")


def check_limits(commands: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every way ``commands`` (a bulk overwrite's body) breaks Discord's rules for chat-input
    commands; empty when none does."""
    problems: list[str] = []
    if len(commands) > MAX_COMMANDS:
        problems.append(f"{len(commands)} commands, at most {MAX_COMMANDS}")
    names = [c.get("name") for c in commands]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"command name {name!r} used twice")
    for command in commands:
        where = f"/{command.get('name')}"
        if command.get("type", CHAT_INPUT) != CHAT_INPUT:
            problems.append(f"{where}: only chat-input commands are checked here")
            continue
        _check_name(where, command.get("name"), problems)
        _check_text(where, "description", command.get("description"), 1, 100, problems)
        _check_options(where, command.get("options"), 0, problems)
        chars = _chars(command)
        if chars > MAX_COMMAND_CHARS:
            problems.append(f"{where}: {chars} characters in all, at most {MAX_COMMAND_CHARS}")
    return problems


def check_modal(modal: Mapping[str, Any]) -> list[str]:
    """Every way a modal (interaction response type 9's ``data``) breaks Discord's limits."""
    problems: list[str] = []
    _check_text("modal", "custom_id", modal.get("custom_id"), 1, MAX_CUSTOM_ID, problems)
    _check_text("modal", "title", modal.get("title"), 1, MAX_MODAL_TITLE, problems)
    rows = modal.get("components")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_MODAL_COMPONENTS:
        size = len(rows) if isinstance(rows, list) else 0
        problems.append(f"modal: 1-{MAX_MODAL_COMPONENTS} components (has {size})")
        rows = rows if isinstance(rows, list) else []
    ids: list[object] = []
    for row in rows:
        inner = row.get("components") if row.get("type") == ACTION_ROW else None
        if not isinstance(inner, list) or len(inner) != 1:
            problems.append("modal: each component is an action row holding one text input")
            continue
        text = inner[0]
        where = f"modal field {text.get('custom_id')!r}"
        ids.append(text.get("custom_id"))
        if text.get("type") != TEXT_INPUT:
            problems.append(f"{where}: only text inputs are checked here")
            continue
        _check_text(where, "custom_id", text.get("custom_id"), 1, MAX_CUSTOM_ID, problems)
        _check_text(where, "label", text.get("label"), 1, MAX_LABEL, problems)
        if text.get("style") not in (SHORT, PARAGRAPH):
            problems.append(f"{where}: style must be 1 (short) or 2 (paragraph)")
        low, high = text.get("min_length", 0), text.get("max_length", MAX_TEXT_INPUT)
        if not 0 <= low <= MAX_TEXT_INPUT or not 1 <= high <= MAX_TEXT_INPUT or low > high:
            problems.append(f"{where}: lengths must be 0 <= min <= max, max 1-{MAX_TEXT_INPUT}")
        if len(text.get("placeholder") or "") > MAX_PLACEHOLDER:
            problems.append(f"{where}: placeholder is at most {MAX_PLACEHOLDER} characters")
        if len(text.get("value") or "") > high:
            problems.append(f"{where}: value is longer than max_length")
    for custom_id in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"modal: field custom_id {custom_id!r} used twice")
    return problems


# --- registering --------------------------------------------------------------------------------

#: What a comparison looks at: Discord adds ids, versions and defaults to what it stores.
_COMPARED = ("name", "description", "options", "default_member_permissions", "nsfw")
_COMPARED_GLOBAL = ("contexts", "integration_types")


def _canonical_option(option: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in option.items():
        if key in ("name_localizations", "description_localizations") and not value:
            continue
        if key in ("required", "autocomplete") and not value:
            continue
        if value is None:
            continue
        if key == "options":
            if not value:
                continue
            value = [_canonical_option(o) for o in value]
        elif key == "choices":
            value = [{"name": c["name"], "value": c["value"]} for c in value]
        elif key == "channel_types":
            value = sorted(int(t) for t in value)
        elif key == "type":
            value = int(value)
        out[key] = value
    return out


def canonical(command: Mapping[str, Any], *, scope_global: bool) -> dict[str, Any]:
    """The parts of a command that matter, with Discord's defaults dropped, for comparing what
    is registered with what would be."""
    keys = _COMPARED + (_COMPARED_GLOBAL if scope_global else ())
    out: dict[str, Any] = {}
    for key in keys:
        value = command.get(key)
        if key == "options":
            value = [_canonical_option(o) for o in value or []]
        elif key == "default_member_permissions":
            value = None if value in (None, "0", 0) else str(value)
        elif key == "nsfw":
            value = bool(value)
        elif key in _COMPARED_GLOBAL:
            value = sorted(int(v) for v in value or [])
        out[key] = value
    return out


@dataclass
class Changes:
    """What a registration changed, by command name."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"{label}: /{name}"
            for label, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
                ("unchanged", self.unchanged),
            )
            for name in names
        ]
        return out or ["no commands"]


def compare(
    registered: Sequence[Mapping[str, Any]],
    wanted: Sequence[Mapping[str, Any]],
    *,
    scope_global: bool,
) -> Changes:
    before = {str(c.get("name")): canonical(c, scope_global=scope_global) for c in registered}
    changes = Changes()
    for command in wanted:
        name = str(command.get("name"))
        if name not in before:
            changes.added.append(name)
        elif before[name] == canonical(command, scope_global=scope_global):
            changes.unchanged.append(name)
        else:
            changes.changed.append(name)
    wanted_names = {str(c.get("name")) for c in wanted}
    changes.removed = sorted(n for n in before if n not in wanted_names)
    return changes


class RegistrationFailed(errors.ConfigError):
    """Discord refused or could not take the commands."""


def _to_hikari_option(option: Mapping[str, Any]) -> Any:
    import hikari

    return hikari.CommandOption(
        type=hikari.OptionType(option["type"]),
        name=option["name"],
        description=option["description"],
        is_required=bool(option.get("required", False)),
        choices=[hikari.CommandChoice(name=c["name"], value=c["value"]) for c in option["choices"]]
        if option.get("choices")
        else None,
        options=[_to_hikari_option(o) for o in option["options"]]
        if option.get("options")
        else None,
        channel_types=[hikari.ChannelType(t) for t in option["channel_types"]]
        if option.get("channel_types")
        else None,
        autocomplete=bool(option.get("autocomplete", False)),
        min_value=option.get("min_value"),
        max_value=option.get("max_value"),
        min_length=option.get("min_length"),
        max_length=option.get("max_length"),
    )


def _builder(rest: Any, command: Mapping[str, Any]) -> Any:
    import hikari

    builder = rest.slash_command_builder(command["name"], command["description"])
    for option in command.get("options") or []:
        builder.add_option(_to_hikari_option(option))
    if command.get("default_member_permissions") not in (None, "0", 0):
        builder.set_default_member_permissions(
            hikari.Permissions(int(command["default_member_permissions"]))
        )
    if command.get("contexts") is not None:
        builder.set_context_types([hikari.ApplicationContextType(c) for c in command["contexts"]])
    if command.get("integration_types") is not None:
        builder.set_integration_types(
            [hikari.ApplicationIntegrationType(t) for t in command["integration_types"]]
        )
    return builder


def _from_hikari(rest: Any, command: Any) -> dict[str, Any]:
    """A registered command (hikari's object) back in the JSON shape of :func:`commands`."""
    permissions = int(command.default_member_permissions)
    return {
        "name": command.name,
        "description": getattr(command, "description", ""),
        "options": [
            rest.entity_factory.serialize_command_option(o)
            for o in getattr(command, "options", None) or []
        ],
        "default_member_permissions": str(permissions) if permissions else None,
        "nsfw": command.is_nsfw,
        "contexts": [int(c) for c in command.context_types],
        "integration_types": [int(t) for t in command.integration_types],
    }


async def register(
    *,
    api_base: str,
    token: str,
    guild_id: str | None = None,
    wanted: Sequence[Mapping[str, Any]] | None = None,
    timeout: float = 30.0,
) -> Changes:
    """Replace the registered commands (``guild_id``'s, or the global ones) with ``wanted``
    (default: :func:`commands`) in one bulk overwrite, after fetching what is registered to say
    what changed. The application is the bot token's own (``GET /oauth2/applications/@me``).
    :class:`RegistrationFailed` (a configuration error) when Discord refuses or fails."""
    import asyncio

    import aiohttp
    import hikari
    from hikari.impl import config

    wanted = list(commands() if wanted is None else wanted)
    problems = check_limits(wanted)
    if problems:
        raise RegistrationFailed(f"the commands break Discord's limits: {problems[0]}")
    app = hikari.RESTApp(
        url=api_base,
        max_retries=1,
        max_rate_limit=timeout,
        http_settings=config.HTTPSettings(timeouts=config.HTTPTimeoutSettings(total=timeout)),
    )
    where = f"guild {guild_id}" if guild_id else "global"
    guild: Any = hikari.Snowflake(int(guild_id)) if guild_id else hikari.UNDEFINED
    try:
        async with asyncio.timeout(timeout * 3):
            await app.start()
            try:
                async with app.acquire(token, hikari.TokenType.BOT) as rest:
                    application = await rest.fetch_application()
                    before = await rest.fetch_application_commands(application.id, guild)
                    registered = [_from_hikari(rest, c) for c in before]
                    changes = compare(registered, wanted, scope_global=guild_id is None)
                    builders = [_builder(rest, c) for c in wanted]
                    await rest.set_application_commands(application.id, builders, guild)
            finally:
                await app.close()
    except hikari.UnauthorizedError as exc:
        raise RegistrationFailed(
            f"Discord at {api_base} refused DISCORD_TOKEN (401): check the bot token"
        ) from exc
    except hikari.ForbiddenError as exc:
        raise RegistrationFailed(
            f"Discord refused the {where} commands (403 {exc.message}): is the bot in that "
            "guild, invited with the applications.commands scope?"
        ) from exc
    except hikari.HTTPResponseError as exc:
        raise RegistrationFailed(
            f"Discord refused the {where} commands ({int(exc.status)} {exc.message})"
        ) from exc
    except (hikari.HikariError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RegistrationFailed(
            f"could not reach Discord at {api_base} ({type(exc).__name__}: {exc})"
        ) from exc
    return changes
