"""Guilds and channels: registration, configuration, and the errors around them."""

from __future__ import annotations

from tests.api.conftest import CHANNEL, GUILD, Api


def test_register_and_read_guild_with_defaults(client: Api) -> None:
    resp = client.http.post("/api/v1/guilds", json={"discord_guild_id": GUILD, "name": "G"})
    assert resp.status_code == 201
    assert resp.json() == {
        "discord_guild_id": GUILD,
        "name": "G",
        "reminder_minutes": [60, 15],
        "default_duration_minutes": 120,
    }
    assert client.http.get(f"/api/v1/guilds/{GUILD}").json()["name"] == "G"


def test_registering_twice_is_a_conflict(client: Api) -> None:
    client.setup_guild()
    resp = client.http.post("/api/v1/guilds", json={"discord_guild_id": GUILD})
    assert resp.status_code == 409
    assert resp.json()["detail"][0]["field"] == "discord_guild_id"


def test_patch_guild(client: Api) -> None:
    client.setup_guild()
    resp = client.http.patch(
        f"/api/v1/guilds/{GUILD}", json={"reminder_minutes": [30], "default_duration_minutes": 60}
    )
    assert resp.status_code == 200
    assert resp.json()["reminder_minutes"] == [30]
    assert resp.json()["default_duration_minutes"] == 60


def test_channel_create_and_patch_back_to_inherit(client: Api) -> None:
    client.setup_guild()
    resp = client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"reminder_minutes": [5, 10]})
    expected = {"discord_channel_id": CHANNEL, "name": "games", "reminder_minutes": [10, 5]}
    assert resp.json() == expected
    resp = client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"reminder_minutes": None})
    assert resp.status_code == 200
    assert resp.json()["reminder_minutes"] is None


def test_unknown_guild_and_channel_are_404(client: Api) -> None:
    assert client.http.get("/api/v1/guilds/999").status_code == 404
    resp = client.http.post("/api/v1/guilds/999/channels", json={"discord_channel_id": "1"})
    assert resp.status_code == 404
    resp = client.http.patch("/api/v1/channels/999", json={"name": "x"})
    assert resp.status_code == 404
    assert resp.json()["detail"][0]["field"] == "discord_channel_id"


def test_bad_snowflake_is_422_naming_the_field(client: Api) -> None:
    resp = client.http.post("/api/v1/guilds", json={"discord_guild_id": "12a"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "discord_guild_id"
    assert client.http.get("/api/v1/guilds/abc").status_code == 422


def test_bad_reminder_lists_are_422(client: Api) -> None:
    for bad in ([1, 1], [-1], [525_601], list(range(11)), [1.5], ["5"]):
        resp = client.http.post(
            "/api/v1/guilds", json={"discord_guild_id": GUILD, "reminder_minutes": bad}
        )
        assert resp.status_code == 422, bad
        assert resp.json()["detail"][0]["field"].startswith("reminder_minutes"), bad


def test_nul_in_name_is_422_not_a_database_error(client: Api) -> None:
    resp = client.http.post("/api/v1/guilds", json={"discord_guild_id": GUILD, "name": "a\x00"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "name"
