"""Input that used to be a 500, or was accepted though it could never work: each is a 4xx in
the usual error format, naming the field, and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.api.conftest import CHANNEL, GUILD, Api, game_body

GAME_ID = "00000000-0000-0000-0000-000000000000"


def assert_refused(resp: Any, field: str, status: int = 422) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"detail", "request_id"}
    assert body["detail"][0]["field"] == field, body
    message: str = body["detail"][0]["message"]
    assert message
    return message


@pytest.mark.parametrize("field", ["scheduled_at", "title", "host_discord_id"])
def test_null_for_a_non_nullable_game_field_is_422(client: Api, field: str) -> None:
    client.setup_guild()
    game = client.create_game()
    resp = client.http.patch(f"/api/v1/games/{game['id']}", json={field: None})
    assert "must not be null" in assert_refused(resp, field)
    after = client.http.get(f"/api/v1/games/{game['id']}").json()
    assert after[field] == game[field]


def test_null_still_clears_the_nullable_game_fields(client: Api) -> None:
    client.setup_guild()
    game = client.create_game(max_players=4, reminder_minutes=[30])
    clear = dict.fromkeys(
        ("description", "expected_duration_minutes", "max_players", "reminder_minutes")
    )
    resp = client.http.patch(f"/api/v1/games/{game['id']}", json=clear)
    assert resp.status_code == 200, resp.text
    assert {k: resp.json()[k] for k in clear} == clear


@pytest.mark.parametrize("field", ["name", "reminder_minutes", "default_duration_minutes"])
def test_null_for_a_guild_field_is_422_not_ignored(client: Api, field: str) -> None:
    client.setup_guild(reminder_minutes=[30], default_duration_minutes=60)
    before = client.http.get(f"/api/v1/guilds/{GUILD}").json()
    resp = client.http.patch(f"/api/v1/guilds/{GUILD}", json={field: None})
    assert "must not be null" in assert_refused(resp, field)
    assert client.http.get(f"/api/v1/guilds/{GUILD}").json() == before


def test_null_channel_name_is_422_but_null_reminders_inherit(client: Api) -> None:
    client.setup_guild()
    resp = client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"name": None})
    assert "must not be null" in assert_refused(resp, "name")
    resp = client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"reminder_minutes": None})
    assert resp.status_code == 200 and resp.json()["name"] == "games"


def cursor_of(when: str, game_id: str = GAME_ID) -> str:
    raw = json.dumps([when, game_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("when", "status"),
    [
        ("0001-01-01T00:30:00+01:00", 422),  # before year 1 in UTC
        ("9999-12-31T23:59:59-05:00", 422),  # after year 9999 in UTC
        ("0001-01-01T00:00:00+00:00", 200),  # the very ends, in range: just a page
        ("9999-12-31T23:59:59+00:00", 200),
    ],
)
def test_tampered_cursor_at_the_ends_of_time_is_4xx(client: Api, when: str, status: int) -> None:
    resp = client.http.get("/api/v1/games", params={"cursor": cursor_of(when)})
    if status == 422:
        assert "not a cursor" in assert_refused(resp, "cursor")
    else:
        assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("minutes", [[0], [60, 0], [-5]])
def test_reminder_at_or_after_the_start_is_422_everywhere(client: Api, minutes: list[int]) -> None:
    client.setup_guild()
    game = client.create_game()
    attempts = {
        "new guild": client.http.post(
            "/api/v1/guilds", json={"discord_guild_id": "7", "reminder_minutes": minutes}
        ),
        "guild": client.http.patch(f"/api/v1/guilds/{GUILD}", json={"reminder_minutes": minutes}),
        "new channel": client.http.post(
            f"/api/v1/guilds/{GUILD}/channels",
            json={"discord_channel_id": "8", "reminder_minutes": minutes},
        ),
        "channel": client.http.patch(
            f"/api/v1/channels/{CHANNEL}", json={"reminder_minutes": minutes}
        ),
        "new game": client.http.post("/api/v1/games", json=game_body(reminder_minutes=minutes)),
        "game": client.http.patch(
            f"/api/v1/games/{game['id']}", json={"reminder_minutes": minutes}
        ),
    }
    for name, resp in attempts.items():
        assert resp.status_code == 422, (name, resp.text)
        assert resp.json()["detail"][0]["field"].startswith("reminder_minutes"), name
    assert client.http.get("/api/v1/guilds/7").status_code == 404
    assert client.http.get(f"/api/v1/games/{game['id']}").json()["reminder_minutes"] is None
    assert len(client.http.get("/api/v1/games").json()["items"]) == 1
