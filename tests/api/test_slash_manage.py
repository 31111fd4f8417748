"""``/game list``, ``cancel``, ``edit``, ``remind`` and the game autocomplete: who may do what,
and a game of another guild is not found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api import _slash
from tests.api._slash import (
    ADMINISTRATOR,
    CHANNEL,
    MANAGE_EVENTS,
    MANAGE_GUILD,
    MEMBER,
    OTHER_CHANNEL,
    OTHER_GUILD,
    OTHER_MEMBER,
    Slash,
    buttons,
    content,
    ephemeral_sentence,
    stamped,
)

slash = _slash.slash  # the fixture


def _game(slash: Slash, **overrides: Any) -> dict[str, Any]:
    return slash.api.create_game(**overrides)


def _status(slash: Slash, game_id: str) -> str:
    return str(slash.sql("SELECT status FROM game_sessions WHERE id = :g", g=game_id)[0][0])


def _events(slash: Slash, game_id: str) -> list[str]:
    rows = slash.sql(
        "SELECT routing_key FROM event_outbox WHERE game_id = :g ORDER BY created_at", g=game_id
    )
    return [r[0] for r in rows]


def _in(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_list_pages_through_this_guilds_open_games(slash: Slash) -> None:
    ids = [_game(slash, title=f"Game {i}", scheduled_at=_in(i + 1))["id"] for i in range(7)]
    _game(slash, title="Elsewhere", discord_channel_id=OTHER_CHANNEL)
    slash.game("cancel", game=ids[6])  # cancelled games are not listed
    first = slash.game("list")
    text = ephemeral_sentence(first)
    assert [f"Game {i}" in text for i in range(7)] == [True] * 5 + [False] * 2
    assert "Elsewhere" not in text
    assert f"<#{CHANNEL}>" in text and f"<@{MEMBER}>" in text
    assert "0/4 players" in text
    row = first["data"]["components"][0]["components"]
    assert [(b["label"], b["disabled"]) for b in row] == [("Previous", True), ("Next", False)]

    second = slash.click(buttons(first)["Next"])
    assert second["type"] == 7  # the same message, turned to the next page
    assert "Game 5" in content(second) and "Game 0" not in content(second)
    assert "Game 6" not in content(second)
    row = second["data"]["components"][0]["components"]
    assert [(b["label"], b["disabled"]) for b in row] == [("Previous", False), ("Next", True)]
    back = slash.click(buttons(second)["Previous"])
    assert "Game 0" in content(back)
    assert "Game 5" in content(slash.game("list", page=2))
    assert "No more games" in content(slash.game("list", page=9))

    empty = slash.as_(guild=OTHER_GUILD, channel=OTHER_CHANNEL).game("list")
    assert "Elsewhere" in content(empty)
    unknown = slash.as_(guild="100000000000000777").game("list")
    assert "isn't set up" in ephemeral_sentence(unknown)


def test_the_host_cancels_their_game(slash: Slash) -> None:
    game = _game(slash)
    answer = slash.game("cancel", game=game["id"])
    assert "Cancelled **Board game night**" in ephemeral_sentence(answer)
    assert _status(slash, game["id"]) == "CANCELLED"
    assert _events(slash, game["id"]) == ["game.created", "game.cancelled"]
    pending = slash.sql(
        "SELECT count(*) FROM notification_schedule WHERE game_id = :g AND NOT sent", g=game["id"]
    )
    assert pending == [(0,)]
    again = slash.game("cancel", game=game["id"])
    assert "already over or cancelled" in content(again)


def test_cancel_or_edit_needs_the_host_or_manage_events_or_manage_guild(slash: Slash) -> None:
    game = _game(slash)
    stranger = slash.as_(user=OTHER_MEMBER)
    for sub in ("cancel", "edit"):
        answer = stranger.game(sub, game=game["id"])
        assert "only the game's host or someone with Manage Events" in ephemeral_sentence(answer)
    # Discord's default_member_permissions is not a check: the bits in the interaction are
    assert _status(slash, game["id"]) == "SCHEDULED"
    assert stranger.as_(permissions=MANAGE_EVENTS).game("edit", game=game["id"])["type"] == 9
    assert stranger.as_(permissions=MANAGE_GUILD).game("edit", game=game["id"])["type"] == 9
    assert stranger.as_(permissions=ADMINISTRATOR).game("edit", game=game["id"])["type"] == 9
    answer = stranger.as_(permissions=MANAGE_EVENTS).game("cancel", game=game["id"])
    assert "Cancelled" in content(answer)
    assert _events(slash, game["id"]) == ["game.created", "game.cancelled"]


def test_a_game_of_another_guild_is_not_found(slash: Slash) -> None:
    theirs = _game(slash, discord_channel_id=OTHER_CHANNEL)
    admin = slash.as_(permissions=ADMINISTRATOR)
    for sub in ("cancel", "edit"):
        answer = admin.game(sub, game=theirs["id"])
        assert "can't find that game" in ephemeral_sentence(answer), sub
    answer = admin.game("remind game", game=theirs["id"], minutes="30")
    assert "can't find that game" in ephemeral_sentence(answer)
    # a forged edit modal for it is refused the same way
    forged = admin.submit(f"game:edit:{theirs['id']}", title="Mine now", when="in 2h")
    assert "can't find that game" in ephemeral_sentence(forged)
    for nonsense in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert "can't find that game" in content(admin.game("cancel", game=nonsense))
    assert _status(slash, theirs["id"]) == "SCHEDULED"
    assert _events(slash, theirs["id"]) == ["game.created"]


def test_edit_prefills_the_modal_in_the_persons_zone_and_confirm_moves_the_game(
    slash: Slash,
) -> None:
    slash.command("timezone", zone="Europe/Berlin")
    start = (datetime.now(UTC) + timedelta(days=4)).replace(second=0, microsecond=0)
    game = _game(slash, scheduled_at=start.isoformat(), expected_duration_minutes=90, max_players=4)
    modal = slash.game("edit", game=game["id"])
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"game:edit:{game['id']}"
    values = {
        row["components"][0]["custom_id"]: row["components"][0].get("value")
        for row in modal["data"]["components"]
    }
    from zoneinfo import ZoneInfo

    wall = start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M")
    assert values == {
        "title": "Board game night",
        "when": wall,
        "duration": "90m",
        "players": "4",
        "description": "Bring snacks",
    }
    # unchanged time: the instant is kept exactly
    same = slash.submit(modal["data"]["custom_id"], **{**values, "title": "Board games!"})
    assert stamped(same) == start
    later = start + timedelta(days=1)
    moved_wall = later.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M")
    preview = slash.submit(
        modal["data"]["custom_id"], **{**values, "when": moved_wall, "players": "6"}
    )
    assert "Preview of your changes" in content(preview)
    assert stamped(preview) == later
    done = slash.click(buttons(preview)["Confirm"])
    assert "Saved" in content(done)
    row = slash.sql(
        "SELECT scheduled_at, max_players FROM game_sessions WHERE id = :g", g=game["id"]
    )
    assert row == [(later, 6)]
    assert _events(slash, game["id"]) == ["game.created", "game.updated"]
    transitions = slash.sql(
        "SELECT transition_time FROM game_status_schedule "
        "WHERE game_id = :g AND target_status = 'IN_PROGRESS'",
        g=game["id"],
    )
    assert transitions == [(later,)]


def test_an_edit_preview_is_checked_again_on_confirm(slash: Slash) -> None:
    game = _game(slash)
    host = slash
    preview = host.submit(f"game:edit:{game['id']}", title="X", when="in 5h")
    # the game is cancelled meanwhile: the edit cannot be saved
    host.game("cancel", game=game["id"])
    answer = host.click(buttons(preview)["Confirm"])
    assert "can't do that now" in ephemeral_sentence(answer)
    # and a cancelled game's edit form is refused when it is sent
    late = host.submit(f"game:edit:{game['id']}", title="X", when="in 5h")
    assert "cancelled and can no longer change" in ephemeral_sentence(late)
    assert slash.sql("SELECT title FROM game_sessions WHERE id = :g", g=game["id"]) == [
        ("Board game night",)
    ]


def test_remind_for_a_game_a_channel_and_the_guild(slash: Slash) -> None:
    game = _game(slash, scheduled_at=_in(3))
    answer = slash.game("remind game", game=game["id"], minutes="120, 30")
    assert "reminders 2 h, 30 min before the start" in ephemeral_sentence(answer)
    rows = slash.sql(
        "SELECT reminder_minutes FROM notification_schedule WHERE game_id = :g ORDER BY 1",
        g=game["id"],
    )
    assert rows == [(30,), (120,)]
    assert "no reminders" in content(slash.game("remind game", game=game["id"], minutes="none"))
    assert slash.sql(
        "SELECT count(*) FROM notification_schedule WHERE game_id = :g AND NOT sent", g=game["id"]
    ) == [(0,)]
    assert "default" in content(slash.game("remind game", game=game["id"], minutes="default"))

    # channel and guild settings need Manage Server; the host alone is not enough
    refused = slash.game("remind channel", channel=CHANNEL, minutes="45")
    assert "Manage Server" in ephemeral_sentence(refused)
    refused = slash.as_(permissions=MANAGE_EVENTS).game("remind guild", minutes="45")
    assert "Manage Server" in ephemeral_sentence(refused)

    admin = slash.as_(user=OTHER_MEMBER, permissions=MANAGE_GUILD)
    assert f"<#{CHANNEL}>" in content(admin.game("remind channel", channel=CHANNEL, minutes="45"))
    rows = slash.sql(
        "SELECT reminder_minutes FROM notification_schedule WHERE game_id = :g", g=game["id"]
    )
    assert rows == [(45,)]  # the game inherits its channel's again
    assert "this server" in content(admin.game("remind guild", minutes="10"))
    assert slash.sql(
        "SELECT reminder_minutes FROM guilds WHERE discord_guild_id = :g", g=_slash.GUILD
    ) == [([10],)]
    # another guild's channel is not this guild's to configure
    answer = admin.game("remind channel", channel=OTHER_CHANNEL, minutes="5")
    assert "admin must register" in ephemeral_sentence(answer)

    for bad in ("soon", "-5", "0 0", "600000", ""):
        answer = admin.game("remind guild", minutes=bad)
        assert answer["type"] == 4 and "this server now" not in content(answer), bad
    assert "1 h, 15 min before" in content(admin.game("remind guild", minutes="1h 15m"))


def test_game_autocomplete_offers_this_guilds_open_games(slash: Slash) -> None:
    mine = _game(slash, title="Catan night", scheduled_at=_in(2))
    _game(slash, title="Chess", scheduled_at=_in(3))
    _game(slash, title="Catan abroad", discord_channel_id=OTHER_CHANNEL)
    answer = slash.autocomplete("game", "cancel", "game", "cat")
    assert answer["type"] == 8
    choices = answer["data"]["choices"]
    assert [c["value"] for c in choices] == [mine["id"]]
    assert choices[0]["name"].startswith("Catan night · ")
    everything = slash.autocomplete("game", "edit", "game", "")["data"]["choices"]
    assert len(everything) == 2
    assert slash.as_(guild=None).autocomplete("game", "edit", "game", "")["data"]["choices"] == []
    many = [_game(slash, title=f"G{i}", scheduled_at=_in(4 + i / 10)) for i in range(30)]
    assert len(many) == 30
    assert len(slash.autocomplete("game", "edit", "game", "")["data"]["choices"]) == 25
