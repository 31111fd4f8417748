"""The application commands and the game modal: Discord's limits, and registering them against
the fake Discord (the library call and the CLI)."""

from __future__ import annotations

import asyncio
import copy
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gamesched import discord_commands as dc
from gamesched.testing.fake_discord import APPLICATION_ID, FakeDiscord

# --- the JSON ---------------------------------------------------------------------------------


def test_the_commands_are_within_discords_limits() -> None:
    assert dc.check_limits(dc.commands()) == []


def test_the_game_modal_is_within_discords_limits() -> None:
    assert dc.check_modal(dc.game_modal()) == []
    edit = dc.game_modal(
        custom_id=dc.GAME_MODAL_EDIT + "8c4a2a1e-52a4-4c1f-9d5e-3f3f0c1f8a11",
        values={
            "title": "Catan " * 100,  # longer than allowed: cut to max_length
            "when": "2026-12-04 20:00",
            "duration": "2h",
            "players": "4",
            "description": "bring snacks",
        },
    )
    assert dc.check_modal(edit) == []
    assert edit["title"] == "Change the game"
    fields = {row["components"][0]["custom_id"]: row["components"][0] for row in edit["components"]}
    assert tuple(fields) == dc.MODAL_FIELDS
    assert fields["when"]["value"] == "2026-12-04 20:00"
    assert len(fields["title"]["value"]) == dc.TITLE_MAX
    assert "value" not in dc.game_modal()["components"][0]["components"][0]


def test_the_commands_have_the_designed_shape() -> None:
    game, timezone = dc.commands()
    subcommands = {o["name"]: o for o in game["options"]}
    assert list(subcommands) == ["create", "list", "cancel", "edit", "remind", "settings"]
    assert [o["name"] for o in subcommands["remind"]["options"]] == ["game", "channel", "guild"]
    for name in ("cancel", "edit"):
        (option,) = subcommands[name]["options"]
        assert option == {**option, "name": "game", "required": True, "autocomplete": True}
    # permissions are checked by us on each interaction, not left to Discord's default
    assert "default_member_permissions" not in game
    assert game["contexts"] == [dc.CONTEXT_GUILD]
    assert timezone["name"] == "timezone"
    assert timezone["options"][0]["autocomplete"] is True
    assert timezone["contexts"] == [dc.CONTEXT_GUILD, dc.CONTEXT_BOT_DM]


Mutation = Callable[[list[dict[str, Any]]], None]


def _option(commands: list[dict[str, Any]], sub: str) -> dict[str, Any]:
    return next(o for o in commands[0]["options"] if o["name"] == sub)


def _value_option(name: str, *, required: bool = False) -> dict[str, Any]:
    return {"type": dc.STRING, "name": name, "description": "x", "required": required}


def _wordy(command: dict[str, Any]) -> None:
    """25 options of 100-character descriptions with 25 long choices each: within every other
    limit, over 4000 characters in all."""
    choices = [{"name": f"{i:02d}" + "n" * 98, "value": f"{i:02d}"} for i in range(25)]
    command["options"] = [
        {**_value_option(f"o{i}"), "description": "d" * 100, "choices": choices} for i in range(25)
    ]


COMMAND_VIOLATIONS: list[tuple[str, Mutation, str]] = [
    ("upper-case name", lambda c: c[0].update(name="Game"), "must be lower case"),
    ("long name", lambda c: c[0].update(name="g" * 33), "must be 1-32"),
    ("space in a name", lambda c: c[1].update(name="time zone"), "must be 1-32"),
    ("empty name", lambda c: _option(c, "list").update(name=""), "must be 1-32"),
    ("no description", lambda c: c[0].update(description=""), "description must be 1-100"),
    ("long description", lambda c: c[1].update(description="d" * 101), "(is 101)"),
    (
        "long option description",
        lambda c: _option(c, "edit").update(description="d" * 101),
        "/game edit: description must be 1-100",
    ),
    (
        "26 options",
        lambda c: c[1].update(options=[_value_option(f"o{i}") for i in range(26)]),
        "26 options, at most 25",
    ),
    (
        "26 choices",
        lambda c: c[1]["options"][0].update(
            autocomplete=False, choices=[{"name": f"c{i}", "value": f"c{i}"} for i in range(26)]
        ),
        "26 choices, at most 25",
    ),
    (
        "choices and autocomplete",
        lambda c: c[1]["options"][0].update(choices=[{"name": "UTC", "value": "UTC"}]),
        "both choices and autocomplete",
    ),
    (
        "long choice name",
        lambda c: c[1]["options"][0].update(
            autocomplete=False, choices=[{"name": "n" * 101, "value": "v"}]
        ),
        "choice: name must be 1-100",
    ),
    (
        "required after optional",
        lambda c: c[1].update(options=[_value_option("a"), _value_option("b", required=True)]),
        "required options must come before optional ones",
    ),
    (
        "duplicate option names",
        lambda c: c[1].update(options=[_value_option("a"), _value_option("a")]),
        "option name 'a' used twice",
    ),
    ("duplicate commands", lambda c: c[1].update(name="game"), "command name 'game' used twice"),
    (
        "subcommands mixed with options",
        lambda c: c[0]["options"].append(_value_option("loose")),
        "subcommands cannot be mixed",
    ),
    (
        "a group inside a subcommand",
        lambda c: _option(c, "list").update(
            options=[{"type": dc.SUB_COMMAND_GROUP, "name": "g", "description": "x"}]
        ),
        "a subcommand group can only be a command's option",
    ),
    (
        "min above max",
        lambda c: _option(c, "list")["options"][0].update(min_value=5, max_value=2),
        "min_value is above max_value",
    ),
    ("too many characters", lambda c: _wordy(c[1]), "characters in all, at most 4000"),
    (
        "101 commands",
        lambda c: c.extend(
            {"type": 1, "name": f"c{i}", "description": "x"} for i in range(len(c), 101)
        ),
        "101 commands, at most 100",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [pytest.param(m, p, id=i) for i, m, p in COMMAND_VIOLATIONS],
)
def test_check_limits_catches_each_violation(mutate: Mutation, problem: str) -> None:
    commands = copy.deepcopy(dc.commands())
    mutate(commands)
    problems = dc.check_limits(commands)
    assert any(problem in p for p in problems), problems


ModalMutation = Callable[[dict[str, Any]], None]


def _field(modal: dict[str, Any], index: int = 0) -> dict[str, Any]:
    field: dict[str, Any] = modal["components"][index]["components"][0]
    return field


MODAL_VIOLATIONS: list[tuple[str, ModalMutation, str]] = [
    ("long title", lambda m: m.update(title="t" * 46), "title must be 1-45"),
    ("no title", lambda m: m.update(title=""), "title must be 1-45"),
    ("long custom_id", lambda m: m.update(custom_id="c" * 101), "custom_id must be 1-100"),
    (
        "6 components",
        lambda m: m["components"].append(copy.deepcopy(m["components"][0])),
        "1-5 components (has 6)",
    ),
    ("no components", lambda m: m.update(components=[]), "1-5 components (has 0)"),
    ("long label", lambda m: _field(m).update(label="l" * 46), "label must be 1-45"),
    (
        "long field custom_id",
        lambda m: _field(m, 1).update(custom_id="w" * 101),
        "custom_id must be 1-100",
    ),
    ("bad style", lambda m: _field(m).update(style=3), "style must be 1"),
    ("max above 4000", lambda m: _field(m).update(max_length=4001), "max 1-4000"),
    ("min above max", lambda m: _field(m).update(min_length=30, max_length=20), "min <= max"),
    ("long placeholder", lambda m: _field(m).update(placeholder="p" * 101), "placeholder"),
    (
        "value over max_length",
        lambda m: _field(m, 3).update(value="12345"),
        "value is longer than max_length",
    ),
    (
        "two inputs in a row",
        lambda m: m["components"][0]["components"].append(_field(m, 1)),
        "one text input",
    ),
    (
        "duplicate field ids",
        lambda m: _field(m, 1).update(custom_id="title"),
        "custom_id 'title' used twice",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [pytest.param(m, p, id=i) for i, m, p in MODAL_VIOLATIONS],
)
def test_check_modal_catches_each_violation(mutate: ModalMutation, problem: str) -> None:
    modal = dc.game_modal()
    mutate(modal)
    problems = dc.check_modal(modal)
    assert any(problem in p for p in problems), problems


# --- registering --------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    discord = FakeDiscord()
    await discord.start()
    try:
        yield discord
    finally:
        await discord.stop()


def _canonical(commands: list[dict[str, Any]], *, scope_global: bool) -> list[dict[str, Any]]:
    return [dc.canonical(c, scope_global=scope_global) for c in commands]


async def test_register_in_a_guild_then_again(fake: FakeDiscord) -> None:
    first = await dc.register(api_base=fake.base_url, token="secret", guild_id="42")
    assert first.added == ["game", "timezone"]
    assert first.changed == first.removed == first.unchanged == []
    path = f"/applications/{APPLICATION_ID}/guilds/42/commands"
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/oauth2/applications/@me"),
        ("GET", path),
        ("PUT", path),
    ]
    assert all(r.authorization == "Bot secret" for r in fake.requests)
    # what Discord stored is what we meant, field for field
    stored = fake.commands["42"]
    assert _canonical(stored, scope_global=True) == _canonical(dc.commands(), scope_global=True)
    assert None not in fake.commands  # nothing registered globally

    again = await dc.register(api_base=fake.base_url, token="secret", guild_id="42")
    assert again.unchanged == ["game", "timezone"]
    assert again.added == again.changed == again.removed == []
    assert again.lines() == ["unchanged: /game", "unchanged: /timezone"]


async def test_register_globally_reports_changed_and_removed(fake: FakeDiscord) -> None:
    old_timezone = {**dc.timezone_command(), "description": "an older wording"}
    kept = fake.set_commands(
        None,
        [dc.game_command(), old_timezone, {"type": 1, "name": "old", "description": "gone"}],
    )[0]["id"]
    changes = await dc.register(api_base=fake.base_url, token="secret")
    assert changes.unchanged == ["game"]
    assert changes.changed == ["timezone"]
    assert changes.removed == ["old"]
    assert changes.added == []
    assert changes.lines() == ["changed: /timezone", "removed: /old", "unchanged: /game"]
    assert [c["name"] for c in fake.commands[None]] == ["game", "timezone"]
    assert fake.commands[None][0]["id"] == kept  # a bulk overwrite keeps the ids of kept names
    assert fake.calls("PUT", f"/applications/{APPLICATION_ID}/commands")


async def test_register_detects_a_changed_option(fake: FakeDiscord) -> None:
    await dc.register(api_base=fake.base_url, token="secret", guild_id="42")
    wanted = dc.commands()
    wanted[0]["options"][1]["options"][0]["max_value"] = 50
    changes = await dc.register(api_base=fake.base_url, token="t", guild_id="42", wanted=wanted)
    assert changes.changed == ["game"]
    assert changes.unchanged == ["timezone"]


async def test_register_refuses_commands_over_the_limits(fake: FakeDiscord) -> None:
    wanted = dc.commands()
    wanted[0]["name"] = "Game"
    with pytest.raises(dc.RegistrationFailed, match="must be lower case"):
        await dc.register(api_base=fake.base_url, token="t", guild_id="42", wanted=wanted)
    assert fake.requests == []


async def test_a_refused_token_is_a_configuration_error(fake: FakeDiscord) -> None:
    fake.fail_next[("GET", "/oauth2/applications/@me")] = [401]
    with pytest.raises(dc.RegistrationFailed, match="refused DISCORD_TOKEN"):
        await dc.register(api_base=fake.base_url, token="wrong", guild_id="42")
    assert not fake.calls("PUT")


async def test_a_guild_without_the_bot_is_said(fake: FakeDiscord) -> None:
    path = f"/applications/{APPLICATION_ID}/guilds/42/commands"
    fake.fail_next[("PUT", path)] = [403]
    with pytest.raises(dc.RegistrationFailed, match=r"applications\.commands scope"):
        await dc.register(api_base=fake.base_url, token="t", guild_id="42")


async def test_an_unreachable_discord_is_said() -> None:
    with pytest.raises(dc.RegistrationFailed, match="could not reach Discord"):
        await dc.register(api_base="http://127.0.0.1:1/api/v10", token="t", timeout=5)


async def _cli(*args: str, **env: str) -> tuple[int, str, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gamesched",
        *args,
        env={**full_env, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_registers_in_a_guild_and_says_what_changed(fake: FakeDiscord) -> None:
    env = {"DISCORD_TOKEN": "secret", "DISCORD_API_BASE": fake.base_url}
    code, out, err = await _cli("discord", "register-commands", "--guild", "42", **env)
    assert code == 0, err
    assert out.splitlines() == ["registered in guild 42:", "  added: /game", "  added: /timezone"]
    code, out, err = await _cli("discord", "register-commands", **env)
    assert code == 0, err
    assert out.splitlines()[0] == "registered globally:"
    assert set(fake.commands) == {"42", None}
    code, out, err = await _cli("discord", "register-commands", "--guild", "42", "--remove", **env)
    assert code == 0, err
    assert out.splitlines()[1:] == ["  removed: /game", "  removed: /timezone"]
    assert fake.commands["42"] == []
    assert len(fake.commands[None]) == 2


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {}, "DISCORD_TOKEN is not set"),
        (("--guild", "my-server"), {"DISCORD_TOKEN": "t"}, "is not a Discord id"),
    ],
)
async def test_cli_configuration_errors_are_one_line(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    code, _, err = await _cli("discord", "register-commands", *args, **env)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gamesched discord: ")
    assert message in lines[0]


async def test_cli_with_a_refused_token_is_one_line(fake: FakeDiscord) -> None:
    fake.fail_next[("GET", "/oauth2/applications/@me")] = [401]
    code, _, err = await _cli(
        "discord", "register-commands", DISCORD_TOKEN="wrong", DISCORD_API_BASE=fake.base_url
    )
    assert code == 2
    assert err.strip().splitlines() == [
        f"gamesched discord: Discord at {fake.base_url} refused DISCORD_TOKEN (401): "
        "check the bot token"
    ]
