"""Discord interactions, signed with a real Ed25519 key pair."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from nacl.signing import SigningKey
from sqlalchemy import orm, text

from gamesched.api import app as api_app
from gamesched.api import interactions
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from tests._serve import serve
from tests.api.conftest import GUILD, Api, auth
from tests.conftest import make_settings

KEY = SigningKey.generate()
OTHER_GUILD = "100000000000000002"
OTHER_CHANNEL = "200000000000000002"


def signed_settings(fresh_settings: Settings, **overrides: object) -> Settings:
    return make_settings(
        fresh_settings.database_name,
        discord_public_key=KEY.verify_key.encode().hex(),
        **overrides,
    )


@pytest.fixture
def signed(fresh_settings: Settings) -> Iterator[Api]:
    settings = signed_settings(fresh_settings)
    engine = db_engine.make_engine(settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    with TestClient(api_app.create_app(settings), headers=auth(admin)) as http:
        yield Api(http, admin)


def signed_request(
    payload: dict[str, Any] | bytes, key: SigningKey = KEY, timestamp: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    signature = key.sign(timestamp.encode() + body).signature.hex()
    return body, {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}


def post(
    api: Api, payload: dict[str, Any], key: SigningKey = KEY, timestamp: str | None = None
) -> Any:
    body, headers = signed_request(payload, key, timestamp)
    return api.http.post("/discord/interactions", content=body, headers=headers)


def click_payload(custom_id: str, user: str, guild: str | None = GUILD) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": 3, "data": {"custom_id": custom_id}}
    if guild is None:  # a DM: Discord sends "user" and no guild_id
        payload["user"] = {"id": user}
    else:
        payload["guild_id"] = guild
        payload["member"] = {"user": {"id": user}}
    return payload


def click(
    api: Api, custom_id: str, user: str, guild: str | None = GUILD, timestamp: str | None = None
) -> Any:
    return post(api, click_payload(custom_id, user, guild), timestamp=timestamp)


def players(api: Api, game_id: str) -> list[str]:
    body = api.http.get(f"/api/v1/games/{game_id}").json()
    return [p["discord_user_id"] for p in body["participants"]]


def roster_event_count(settings: Settings, game_id: str) -> int:
    engine = db_engine.make_engine(settings)
    try:
        with engine.connect() as conn:
            count = conn.scalar(
                text(
                    "SELECT count(*) FROM event_outbox "
                    "WHERE routing_key = 'game.roster_changed' AND game_id = :g"
                ),
                {"g": game_id},
            )
    finally:
        engine.dispose()
    assert isinstance(count, int)
    return count


def test_ping_is_answered_with_pong(signed: Api) -> None:
    resp = post(signed, {"type": 1})
    assert resp.status_code == 200 and resp.json() == {"type": 1}


def test_bad_signature_or_no_key_is_401(signed: Api, client: Api) -> None:
    assert post(signed, {"type": 1}, key=SigningKey.generate()).status_code == 401
    assert signed.http.post("/discord/interactions", content=b"{}").status_code == 401
    assert post(client, {"type": 1}).status_code == 401  # no DISCORD_PUBLIC_KEY configured


STALE = {
    "ten minutes old": lambda now: str(now - 600),
    "ten minutes ahead": lambda now: str(now + 600),
    "a day old": lambda now: str(now - 86_400),
    "a year ahead": lambda now: str(now + 365 * 86_400),
    "not a number": lambda now: "abc",
    "empty": lambda now: "",
    "signed": lambda now: f"+{now}",
    "padded": lambda now: f" {now}",
}


def test_replayed_or_stale_clicks_are_401_and_change_nothing(signed: Api) -> None:
    signed.setup_guild()
    game = signed.create_game()
    assert "in" in click(signed, f"game:join:{game['id']}", "11").json()["data"]["content"]
    now = int(time.time())
    for name, stamp in STALE.items():
        resp = click(signed, f"game:leave:{game['id']}", "11", timestamp=stamp(now))
        assert resp.status_code == 401, name
        assert resp.json()["detail"][0]["message"] == "stale or missing X-Signature-Timestamp"
        assert players(signed, game["id"]) == ["11"], name
    # A fresh, signed click still works, within the allowed skew either way.
    for skew in (-240, 240):
        join = click(signed, f"game:join:{game['id']}", f"2{skew + 300}", timestamp=str(now + skew))
        assert join.status_code == 200 and "in!" in join.json()["data"]["content"], skew
    assert click(signed, f"game:leave:{game['id']}", "11").status_code == 200
    assert players(signed, game["id"]) == ["260", "2540"]


def test_stale_timestamp_is_refused_before_the_database_is_touched(
    fresh_settings: Settings,
) -> None:
    # No database behind this app: a request that got past the timestamp check would reach
    # it and be answered "something went wrong" (200), not 401.
    settings = signed_settings(fresh_settings, database_url="postgresql://postgres@127.0.0.1:1/x")
    with TestClient(api_app.create_app(settings)) as http:
        api = Api(http, "unused")
        game = "00000000-0000-0000-0000-000000000001"
        fresh = click(api, f"game:join:{game}", "11")
        assert fresh.status_code == 200 and "went wrong" in fresh.json()["data"]["content"]
        stale = click(api, f"game:join:{game}", "11", timestamp=str(int(time.time()) - 86_400))
        assert stale.status_code == 401


def test_clicks_from_another_guild_or_a_dm_change_nothing(
    signed: Api, fresh_settings: Settings
) -> None:
    signed.setup_guild()
    signed.setup_guild(guild=OTHER_GUILD, channel=OTHER_CHANNEL)
    game = signed.create_game()
    join = f"game:join:{game['id']}"
    elsewhere = {
        "another registered guild": OTHER_GUILD,
        "an unregistered guild": "100000000000000999",
        "a DM": None,
        "a guild id in Arabic-Indic digits": "\u0661\u0660\u0660",
        "a guild id with superscripts": "1\u00b2",
    }
    for name, guild in elsewhere.items():
        resp = click(signed, join, "11", guild=guild)
        assert resp.status_code == 200, name
        assert resp.json()["type"] == 4 and resp.json()["data"]["flags"] == 64, name
        assert "in!" not in resp.json()["data"]["content"], name
    assert players(signed, game["id"]) == []
    assert roster_event_count(fresh_settings, game["id"]) == 0

    assert "in!" in click(signed, join, "11").json()["data"]["content"]
    for name, guild in elsewhere.items():
        resp = click(signed, f"game:leave:{game['id']}", "11", guild=guild)
        assert "left" not in resp.json()["data"]["content"], name
    assert players(signed, game["id"]) == ["11"]
    assert roster_event_count(fresh_settings, game["id"]) == 1


def test_user_ids_must_be_ascii_digits(signed: Api) -> None:
    signed.setup_guild()
    game = signed.create_game()
    for user in ("\u00b2", "\u0661\u0662\u0663", "12\n", "1" * 21, ""):
        resp = click(signed, f"game:join:{game['id']}", user)
        assert resp.status_code == 200
        assert "don't understand" in resp.json()["data"]["content"], repr(user)
    assert players(signed, game["id"]) == []


def test_deeply_nested_body_is_400_and_the_connection_survives(fresh_settings: Settings) -> None:
    app = api_app.create_app(signed_settings(fresh_settings))
    # Deep enough to exhaust the JSON parser's recursion limit, small enough for any body cap.
    deep = b'{"type": 1, "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        body, headers = signed_request(deep)
        first = http.post("/discord/interactions", content=body, headers=headers)
        assert first.status_code == 400
        assert first.json()["detail"][0]["message"] == "the body is not a JSON object"
        body, headers = signed_request({"type": 1})
        second = http.post("/discord/interactions", content=body, headers=headers)
        assert second.status_code == 200 and second.json() == {"type": 1}


def test_parser_refuses_any_nesting_depth() -> None:
    assert interactions.parse_object(b"[" * 100_000 + b"]" * 100_000) is None
    assert interactions.parse_object(b'{"a": ' + b"[" * 100_000) is None
    assert interactions.parse_object(b'{"type": 1}') == {"type": 1}


def test_buttons_join_and_leave_with_friendly_replies(signed: Api) -> None:
    signed.setup_guild()
    game = signed.create_game(max_players=1)
    first = click(signed, f"game:join:{game['id']}", "11")
    assert first.status_code == 200
    assert first.json()["type"] == 4 and first.json()["data"]["flags"] == 64
    assert "in" in first.json()["data"]["content"]
    full = click(signed, f"game:join:{game['id']}", "12")
    assert "waitlist" in full.json()["data"]["content"]
    again = click(signed, f"game:join:{game['id']}", "11")
    assert again.status_code == 200 and "already" in again.json()["data"]["content"]
    left = click(signed, f"game:leave:{game['id']}", "11")
    assert "left" in left.json()["data"]["content"]
    assert players(signed, game["id"]) == ["12"]
    gone = click(signed, "game:join:00000000-0000-0000-0000-000000000000", "11")
    assert gone.status_code == 200 and "no longer exists" in gone.json()["data"]["content"]
    nonsense = click(signed, "game:dance:xyz", "11")
    assert nonsense.status_code == 200 and nonsense.json()["type"] == 4
