"""Bearer tokens: missing, bad, revoked, and another guild's (404, never revealing existence)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gamesched.db import tokens
from tests.api.conftest import CHANNEL, GUILD, Api, auth, game_body


def test_missing_and_bad_tokens_are_401(client: Api) -> None:
    resp = client.http.get(f"/api/v1/guilds/{GUILD}", headers={"Authorization": ""})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert client.http.get("/api/v1/games", headers=auth("nope")).status_code == 401
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert client.http.get("/api/v1/games", headers=basic).status_code == 401


def test_revoked_token_is_401(client: Api, db_session: Session) -> None:
    token = tokens.create_token(db_session, name="temp", discord_guild_id=None)
    db_session.commit()
    assert client.http.get("/api/v1/games", headers=auth(token)).status_code == 200
    tokens.revoke_token(db_session, name="temp")
    db_session.commit()
    assert client.http.get("/api/v1/games", headers=auth(token)).status_code == 401


def test_only_the_hash_is_stored(db_session: Session) -> None:
    token = tokens.create_token(db_session, name="hashed", discord_guild_id=None)
    from sqlalchemy import text

    stored = db_session.scalar(text("SELECT token_hash FROM api_tokens WHERE name = 'hashed'"))
    assert stored == tokens.hash_token(token) and token not in str(stored)


def test_guild_token_sees_only_its_guild(client: Api, db_session: Session) -> None:
    client.setup_guild()
    client.setup_guild(guild="101", channel="201")
    theirs = client.create_game(discord_channel_id="201")
    mine_token = tokens.create_token(db_session, name="mine", discord_guild_id=GUILD)
    db_session.commit()
    h = auth(mine_token)
    mine = client.http.post("/api/v1/games", json=game_body(), headers=h)
    assert mine.status_code == 201

    assert client.http.get("/api/v1/guilds/101", headers=h).status_code == 404
    assert client.http.patch("/api/v1/guilds/101", json={"name": "x"}, headers=h).status_code == 404
    assert (
        client.http.patch("/api/v1/channels/201", json={"name": "x"}, headers=h).status_code == 404
    )
    for method, path in [
        ("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/cancel"), ("GET", "/schedule"),
    ]:  # fmt: skip
        kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
        resp = client.http.request(
            method, f"/api/v1/games/{theirs['id']}{path}", headers=h, **kwargs
        )
        assert resp.status_code == 404, (method, path)
    join = client.http.post(
        f"/api/v1/games/{theirs['id']}/participants", json={"discord_user_id": "1"}, headers=h
    )
    assert join.status_code == 404
    other_channel = client.http.post(
        "/api/v1/games", json=game_body(discord_channel_id="201"), headers=h
    )
    assert other_channel.status_code == 404
    listed = client.http.get("/api/v1/games", headers=h).json()["items"]
    assert [g["id"] for g in listed] == [mine.json()["id"]]
    assert (
        client.http.get("/api/v1/games", params={"discord_guild_id": "101"}, headers=h).status_code
        == 404
    )
    assert client.http.get(f"/api/v1/guilds/{GUILD}", headers=h).status_code == 200
    assert (
        client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"name": "n"}, headers=h).status_code
        == 200
    )


def test_only_admins_register_guilds(client: Api, db_session: Session) -> None:
    client.setup_guild()
    token = tokens.create_token(db_session, name="scoped", discord_guild_id=GUILD)
    db_session.commit()
    resp = client.http.post("/api/v1/guilds", json={"discord_guild_id": "5"}, headers=auth(token))
    assert resp.status_code == 403


def test_health_routes_need_no_token(client: Api) -> None:
    bare = {"Authorization": ""}
    assert client.http.get("/healthz", headers=bare).json() == {"status": "ok"}
    assert client.http.get("/readyz", headers=bare).status_code == 200
    assert client.http.get("/metrics", headers=bare).status_code == 200
