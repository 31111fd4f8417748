"""``/game create``: the modal, the preview read in the person's zone, Confirm and Edit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.api import _slash
from tests.api._slash import (
    CHANNEL,
    OTHER_GUILD,
    OTHER_MEMBER,
    UNREGISTERED_CHANNEL,
    Slash,
    buttons,
    content,
    ephemeral_sentence,
    stamped,
)

slash = _slash.slash  # the fixture


def _wall(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def test_create_opens_a_modal_with_five_fields_within_discords_limits(slash: Slash) -> None:
    modal = slash.game("create")
    assert modal["type"] == 9
    data = modal["data"]
    assert 1 <= len(data["title"]) <= 45
    fields = [row["components"][0] for row in data["components"]]
    assert [f["custom_id"] for f in fields] == [
        "title", "when", "duration", "players", "description"
    ]  # fmt: skip
    assert all(f["type"] == 4 and 1 <= len(f["label"]) <= 45 for f in fields)
    assert all(len(row["components"]) == 1 for row in data["components"])
    # the "when" label names the zone the time will be read in (UTC: nobody set one)
    assert "UTC" in fields[1]["label"]


def test_create_preview_confirm_writes_the_game_its_schedule_and_its_event(slash: Slash) -> None:
    assert "Europe/Berlin" in content(slash.command("timezone", zone="europe/berlin"))
    start = datetime.now(UTC) + timedelta(days=3)
    typed = _wall(start, "Europe/Berlin")
    preview = slash.create(typed, title="Catan", duration="2h", players="4", description="Snacks")
    text = ephemeral_sentence(preview)
    at = stamped(preview)
    # read in the person's zone, not UTC: the instant is the Berlin wall time typed
    assert at == start.replace(second=0, microsecond=0)
    assert "Europe/Berlin" in text and "2 h" in text and "Seats: 4" in text
    assert f"<t:{int(at.timestamp())}:R>" in text
    assert slash.sql("SELECT count(*) FROM game_sessions")[0][0] == 0  # nothing yet

    confirm = buttons(preview)["Confirm"]
    assert set(buttons(preview)) == {"Confirm", "Edit"}
    done = slash.click(confirm)
    assert done["type"] == 7 and "Created **Catan**" in content(done)
    assert done["data"]["components"] == []

    game = slash.sql(
        "SELECT g.id, g.title, g.scheduled_at, g.expected_duration_minutes, g.max_players, "
        "g.host_discord_id, g.description, c.discord_channel_id "
        "FROM game_sessions g JOIN channels c ON c.id = g.channel_id"
    )
    assert len(game) == 1
    game_id, title, scheduled_at, duration, seats, host, description, channel = game[0]
    assert (title, scheduled_at, duration, seats) == ("Catan", at, 120, 4)
    assert (host, description, channel) == (slash.user, "Snacks", CHANNEL)
    reminders = slash.sql(
        "SELECT reminder_minutes, notification_time FROM notification_schedule "
        "WHERE game_id = :g ORDER BY 1",
        g=game_id,
    )
    assert reminders == [(15, at - timedelta(minutes=15)), (60, at - timedelta(minutes=60))]
    transitions = slash.sql(
        "SELECT target_status, transition_time FROM game_status_schedule "
        "WHERE game_id = :g ORDER BY 2",
        g=game_id,
    )
    assert transitions == [("IN_PROGRESS", at), ("COMPLETED", at + timedelta(minutes=120))]
    events = slash.sql("SELECT routing_key FROM event_outbox WHERE game_id = :g", g=game_id)
    assert events == [("game.created",)]
    assert slash.sql("SELECT count(*) FROM game_drafts")[0][0] == 0

    # a second click on the same Confirm creates nothing more
    again = slash.click(confirm)
    assert "expired" in content(again)
    assert slash.sql("SELECT count(*) FROM game_sessions")[0][0] == 1


def test_without_a_zone_of_ones_own_the_servers_zone_is_used(slash: Slash) -> None:
    admin = slash.as_(user=OTHER_MEMBER, permissions=1 << 5)
    assert "America/New_York" in content(admin.game("settings", timezone="America/New_York"))
    start = datetime.now(UTC) + timedelta(days=5)
    preview = slash.create(_wall(start, "America/New_York"))
    assert stamped(preview) == start.replace(second=0, microsecond=0)
    assert "the server's time zone, America/New_York" in content(preview)


def test_edit_reopens_the_modal_with_what_was_typed(slash: Slash) -> None:
    preview = slash.create("in 3h", title="Wingspan", duration="90", players="5")
    modal = slash.click(buttons(preview)["Edit"])
    assert modal["type"] == 9
    values = {
        row["components"][0]["custom_id"]: row["components"][0].get("value")
        for row in modal["data"]["components"]
    }
    assert values["title"] == "Wingspan"
    assert values["when"] == "in 3h"
    assert values["duration"] == "90" and values["players"] == "5"
    changed = slash.submit(
        modal["data"]["custom_id"], title="Wingspan", when="in 4h", duration="90", players="6"
    )
    assert "Seats: 6" in content(changed)
    # the newest preview wins: the first one can no longer create a (second) game
    assert "expired" in content(slash.click(buttons(preview)["Confirm"]))
    slash.click(buttons(changed)["Confirm"])
    assert slash.sql("SELECT title, max_players FROM game_sessions") == [("Wingspan", 6)]


@pytest.mark.parametrize(
    ("zone", "typed", "shown"),
    [
        ("Europe/Berlin", "2027-03-28 02:30", "03:30"),
        ("America/New_York", "2027-03-14 02:30", "03:30"),
    ],
)
def test_a_time_in_a_dst_gap_is_moved_and_the_preview_says_so(
    slash: Slash, zone: str, typed: str, shown: str
) -> None:
    slash.command("timezone", zone=zone)
    preview = slash.create(typed)
    text = content(preview)
    assert "does not exist" in text, text
    at = stamped(preview)
    assert at.astimezone(ZoneInfo(zone)).strftime("%H:%M") == shown
    # what is created is exactly what the preview showed
    slash.click(buttons(preview)["Confirm"])
    assert slash.sql("SELECT scheduled_at FROM game_sessions") == [(at,)]


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("whenever works", "can't read"),
        ("2020-01-01 20:00", "already passed"),
        ("friday at 8", "8am"),  # a bare hour: which one?
    ],
)
def test_bad_times_are_a_sentence_and_create_nothing(slash: Slash, typed: str, words: str) -> None:
    answer = slash.create(typed)
    text = ephemeral_sentence(answer)
    assert words in text, text
    assert "UTC" in text  # it says in which zone the time was read
    assert "components" not in answer["data"]
    assert slash.sql("SELECT count(*) FROM game_drafts")[0][0] == 0


def test_bad_duration_or_seats_or_title_are_sentences(slash: Slash) -> None:
    assert "duration" in slash.create("in 2h", duration="forever").get("data", {})["content"]
    assert "Seats" in content(slash.create("in 2h", players="0"))
    assert "Seats" in content(slash.create("in 2h", players="lots"))
    assert "title" in content(slash.create("in 2h", title="   "))
    assert slash.sql("SELECT count(*) FROM game_drafts")[0][0] == 0


def test_an_unregistered_channel_or_a_dm_is_told_what_to_do(slash: Slash) -> None:
    answer = slash.as_(channel=UNREGISTERED_CHANNEL).game("create")
    assert "admin must register" in ephemeral_sentence(answer)
    dm = slash.as_(guild=None).game("create")
    assert "only work in a server" in ephemeral_sentence(dm)
    # a channel registered by another guild is not this guild's
    elsewhere = slash.as_(guild=OTHER_GUILD).game("create")
    assert "admin must register" in ephemeral_sentence(elsewhere)


def test_a_preview_is_only_its_authors_in_its_guild(slash: Slash) -> None:
    preview = slash.create("in 2h")
    confirm = buttons(preview)["Confirm"]
    for who in (slash.as_(user=OTHER_MEMBER), slash.as_(guild=OTHER_GUILD)):
        answer = who.click(confirm)
        assert ephemeral_sentence(answer).startswith("This preview has expired")
    assert "expired" in content(slash.click(f"gs:confirm:{uuid.uuid4().hex}"))
    assert slash.sql("SELECT count(*) FROM game_sessions")[0][0] == 0
    assert "Created" in content(slash.click(confirm))


def test_an_expired_preview_cannot_be_confirmed(slash: Slash) -> None:
    preview = slash.create("in 2h")
    slash.sql("UPDATE game_drafts SET expires_at = now() - interval '1 second'")
    answer = slash.click(buttons(preview)["Confirm"])
    assert "expired" in content(answer)
    assert slash.sql("SELECT count(*) FROM game_sessions")[0][0] == 0


def test_a_time_that_passed_between_preview_and_confirm_is_refused(slash: Slash) -> None:
    preview = slash.create("in 2h")
    slash.sql("UPDATE game_drafts SET scheduled_at = now() - interval '1 minute'")
    answer = slash.click(buttons(preview)["Confirm"])
    assert "passed" in ephemeral_sentence(answer)
    assert slash.sql("SELECT count(*) FROM game_sessions")[0][0] == 0
    # the preview's Edit still works: pick a new time and confirm
    modal = slash.click(buttons(preview)["Edit"])
    fixed = slash.submit(modal["data"]["custom_id"], title="Catan", when="in 3h")
    assert "Created" in content(slash.click(buttons(fixed)["Confirm"]))


def test_a_time_that_happens_twice_is_the_first_and_the_preview_says_so(slash: Slash) -> None:
    slash.command("timezone", zone="Europe/Berlin")
    preview = slash.create("2027-10-31 02:30")
    assert "happens twice" in content(preview)
    # the first 02:30 is still summer time (UTC+2): 00:30 UTC
    assert stamped(preview) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("thread_type", [11, 12, 10])  # public, private, announcement thread
def test_create_in_a_thread_announces_in_its_channel(slash: Slash, thread_type: int) -> None:
    """Run inside a thread, the interaction's channel is the thread's: the game is announced in
    the registered channel the thread belongs to."""
    in_thread = slash.as_(thread=("200000000000000077", thread_type))
    modal = in_thread.game("create")
    assert modal["type"] == 9, modal
    preview = in_thread.submit(modal["data"]["custom_id"], title="Go", when="in 6h")
    assert "Created" in content(in_thread.click(buttons(preview)["Confirm"]))
    rows = slash.sql(
        "SELECT c.discord_channel_id FROM game_sessions g JOIN channels c ON c.id = g.channel_id"
    )
    assert rows == [(CHANNEL,)]
    # a thread of a channel nobody registered is that channel's answer
    elsewhere = slash.as_(channel=UNREGISTERED_CHANNEL, thread=("200000000000000078", 11))
    assert "admin must register" in ephemeral_sentence(elsewhere.game("create"))


def test_create_in_a_named_channel_announces_there(slash: Slash) -> None:
    second = "200000000000000003"
    resp = slash.api.http.post(
        f"/api/v1/guilds/{_slash.GUILD}/channels",
        json={"discord_channel_id": second, "name": "board-games"},
    )
    assert resp.status_code == 201, resp.text
    modal = slash.game("create", channel=second)
    assert modal["data"]["custom_id"] == f"game:create:{second}"
    preview = slash.submit(modal["data"]["custom_id"], title="Go", when="in 6h")
    # Edit keeps the channel
    again = slash.click(buttons(preview)["Edit"])
    assert again["data"]["custom_id"] == f"game:create:{second}"
    slash.click(buttons(preview)["Confirm"])
    rows = slash.sql(
        "SELECT c.discord_channel_id FROM game_sessions g JOIN channels c ON c.id = g.channel_id"
    )
    assert rows == [(second,)]
    # a channel of another guild, or none registered, cannot be named
    for channel in (_slash.OTHER_CHANNEL, UNREGISTERED_CHANNEL):
        assert "admin must register" in content(slash.game("create", channel=channel))
        forged = slash.submit(f"game:create:{channel}", title="Go", when="in 6h")
        assert "admin must register" in content(forged)


def test_every_registered_subcommand_is_answered_and_modals_keep_discords_limits(
    slash: Slash,
) -> None:
    """The handlers and the registered command JSON (discord_commands) agree on the names."""
    from gamesched import discord_commands

    game = slash.api.create_game()["id"]
    values = {"game": game, "minutes": "30", "channel": CHANNEL, "zone": "UTC"}
    admin = slash.as_(permissions=_slash.MANAGE_GUILD)
    for command in discord_commands.commands():
        subs: list[tuple[str | None, list[dict[str, object]]]] = []
        for option in command.get("options", []):
            if option["type"] == 1:
                subs.append((option["name"], option.get("options", [])))
            elif option["type"] == 2:
                subs += [(f"{option['name']} {s['name']}", s["options"]) for s in option["options"]]
        if not subs:
            subs = [(None, command.get("options", []))]
        for sub, options in reversed(subs):  # cancel last: edit needs the game
            given = {o["name"]: values[str(o["name"])] for o in options if o.get("required")}
            answer = admin.command(command["name"], sub, **given)
            text = answer.get("data", {}).get("content", "")
            assert "don't know" not in text and "went wrong" not in text, (sub, answer)
            if answer["type"] == 9:
                assert discord_commands.check_modal(answer["data"]) == [], sub
    preview = slash.create("in 2h")
    modal = slash.click(buttons(preview)["Edit"])
    assert discord_commands.check_modal(modal["data"]) == []


def test_an_unexpected_failure_is_a_sentence_not_a_stack_trace(
    slash: Slash, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gamesched.service import drafts

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom at line 42")

    monkeypatch.setattr(drafts, "save_draft", boom)
    answer = slash.create("in 2h")
    assert ephemeral_sentence(answer) == "Something went wrong on our side; try again."
    assert slash.sql("SELECT count(*) FROM game_drafts") == [(0,)]
    # and for a button: the message with the button says it
    monkeypatch.setattr(drafts, "get_draft", boom)
    clicked = slash.click("gs:redo:whatever")
    assert "went wrong" in ephemeral_sentence(clicked)


def test_a_database_outage_is_a_sentence(fresh_settings: object) -> None:
    from fastapi.testclient import TestClient

    from gamesched.api import app as api_app
    from tests.api.conftest import Api
    from tests.api.test_interactions import signed_settings

    settings = signed_settings(
        fresh_settings,  # type: ignore[arg-type]
        database_url="postgresql://postgres@127.0.0.1:1/x",
    )
    with TestClient(api_app.create_app(settings)) as http:
        down = Slash(Api(http, "unused"), settings)
        for answer in (down.game("list"), down.command("timezone", zone="UTC")):
            assert "went wrong on our side" in ephemeral_sentence(answer)
        assert down.autocomplete("game", "edit", "game", "")["data"]["choices"] == []
