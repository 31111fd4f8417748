"""``/timezone``: a person's own zone, the server's default, and the zone autocomplete."""

from __future__ import annotations

from tests.api import _slash
from tests.api._slash import (
    ADMINISTRATOR,
    GUILD,
    MANAGE_EVENTS,
    MANAGE_GUILD,
    MEMBER,
    OTHER_MEMBER,
    Slash,
    content,
    ephemeral_sentence,
)

slash = _slash.slash  # the fixture


def test_a_person_sets_their_zone_and_it_is_stored_canonically(slash: Slash) -> None:
    answer = slash.command("timezone", zone="  europe/BERLIN ")
    assert "Your time zone is now Europe/Berlin" in ephemeral_sentence(answer)
    assert slash.sql("SELECT discord_user_id, timezone FROM user_settings") == [
        (MEMBER, "Europe/Berlin")
    ]
    slash.command("timezone", zone="Asia/Tokyo")  # replaced, not added
    assert slash.sql("SELECT timezone FROM user_settings") == [("Asia/Tokyo",)]
    # it works in a DM too: a person's zone is theirs, not a server's
    assert "America/Chicago" in content(
        slash.as_(guild=None).command("timezone", zone="America/Chicago")
    )


def test_an_unknown_zone_is_refused_with_suggestions_and_nothing_stored(slash: Slash) -> None:
    for typed in ("Mars/Olympus_Mons", "Berlin", "", "Europe/Berlin; DROP TABLE guilds"):
        answer = slash.command("timezone", zone=typed)
        text = ephemeral_sentence(answer)
        assert "is now" not in text, (typed, text)
        assert "nknown time zone" in text or "Tell me a time zone" in text, (typed, text)
    assert "Europe/Berlin" in content(slash.command("timezone", zone="Berlin"))  # a suggestion
    assert slash.sql("SELECT count(*) FROM user_settings") == [(0,)]


def test_the_servers_zone_needs_manage_guild(slash: Slash) -> None:
    for perms in (_slash.PLAIN, MANAGE_EVENTS):
        answer = slash.as_(permissions=perms).game("settings", timezone="Europe/Paris")
        assert "Manage Server" in ephemeral_sentence(answer)
    assert slash.sql("SELECT timezone FROM guilds WHERE discord_guild_id = :g", g=GUILD) == [
        ("UTC",)
    ]
    for perms, zone in ((MANAGE_GUILD, "Europe/Paris"), (ADMINISTRATOR, "Europe/Rome")):
        answer = slash.as_(permissions=perms).game("settings", timezone=zone)
        assert f"server's time zone is now {zone}" in content(answer)
    assert slash.sql("SELECT timezone FROM guilds WHERE discord_guild_id = :g", g=GUILD) == [
        ("Europe/Rome",)
    ]
    assert slash.sql("SELECT count(*) FROM user_settings") == [(0,)]
    # the server's zone is set only in the server the command came from
    assert slash.sql("SELECT count(*) FROM guilds WHERE timezone = 'UTC'") == [(1,)]


def test_the_servers_zone_of_an_unregistered_server_or_a_dm(slash: Slash) -> None:
    admin = slash.as_(permissions=MANAGE_GUILD)
    answer = admin.as_(guild="100000000000000777").game("settings", timezone="UTC")
    assert "isn't set up" in ephemeral_sentence(answer)
    answer = admin.as_(guild=None).game("settings", timezone="UTC")
    assert "only work in a server" in ephemeral_sentence(answer)


def test_zone_autocomplete_suggests_at_most_25_real_zones(slash: Slash) -> None:
    answer = slash.autocomplete("timezone", None, "zone", "berl")
    assert answer["type"] == 8
    choices = answer["data"]["choices"]
    assert {"name": "Europe/Berlin", "value": "Europe/Berlin"} in choices
    wide = slash.autocomplete("timezone", None, "zone", "")["data"]["choices"]
    assert len(wide) == 25
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in wide)
    assert slash.autocomplete("timezone", None, "zone", "zzzz")["data"]["choices"] == []


def test_each_person_has_their_own_zone(slash: Slash) -> None:
    slash.command("timezone", zone="Europe/Berlin")
    slash.as_(user=OTHER_MEMBER).command("timezone", zone="America/New_York")
    rows = slash.sql("SELECT discord_user_id, timezone FROM user_settings ORDER BY 1")
    assert rows == [(MEMBER, "Europe/Berlin"), (OTHER_MEMBER, "America/New_York")]


def test_without_a_zone_timezone_and_settings_say_what_is_in_force(slash: Slash) -> None:
    shown = ephemeral_sentence(slash.command("timezone"))
    assert "the server's time zone, UTC" in shown
    slash.command("timezone", zone="Pacific/Auckland")
    assert "your time zone, Pacific/Auckland" in content(slash.command("timezone"))
    # in a DM there is no server: UTC unless the person set one
    dm = slash.as_(guild=None, user=OTHER_MEMBER).command("timezone")
    assert "UTC" in content(dm)
    settings = ephemeral_sentence(slash.game("settings"))  # anyone may look
    assert "time zone: UTC" in settings and "1 h, 15 min before the start" in settings
