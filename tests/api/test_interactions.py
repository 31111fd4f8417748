"""Discord interactions, signed with a real Ed25519 key pair."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from nacl.signing import SigningKey
from sqlalchemy import orm

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from tests.api.conftest import Api, auth
from tests.conftest import make_settings

KEY = SigningKey.generate()


@pytest.fixture
def signed(fresh_settings: Settings) -> Iterator[Api]:
    settings = make_settings(
        fresh_settings.database_name, discord_public_key=KEY.verify_key.encode().hex()
    )
    engine = db_engine.make_engine(settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    with TestClient(api_app.create_app(settings), headers=auth(admin)) as http:
        yield Api(http, admin)


def post(api: Api, payload: dict[str, Any], key: SigningKey = KEY) -> Any:
    body = json.dumps(payload).encode()
    timestamp = "1700000000"
    signature = key.sign(timestamp.encode() + body).signature.hex()
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}
    return api.http.post("/discord/interactions", content=body, headers=headers)


def click(api: Api, custom_id: str, user: str) -> Any:
    payload = {"type": 3, "data": {"custom_id": custom_id}, "member": {"user": {"id": user}}}
    return post(api, payload)


def test_ping_is_answered_with_pong(signed: Api) -> None:
    resp = post(signed, {"type": 1})
    assert resp.status_code == 200 and resp.json() == {"type": 1}


def test_bad_signature_or_no_key_is_401(signed: Api, client: Api) -> None:
    assert post(signed, {"type": 1}, key=SigningKey.generate()).status_code == 401
    assert signed.http.post("/discord/interactions", content=b"{}").status_code == 401
    assert post(client, {"type": 1}).status_code == 401  # no DISCORD_PUBLIC_KEY configured


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
    players = signed.http.get(f"/api/v1/games/{game['id']}").json()["participants"]
    assert [(p["discord_user_id"], p["state"]) for p in players] == [("12", "confirmed")]
    gone = click(signed, "game:join:00000000-0000-0000-0000-000000000000", "11")
    assert gone.status_code == 200 and "no longer exists" in gone.json()["data"]["content"]
    nonsense = click(signed, "game:dance:xyz", "11")
    assert nonsense.status_code == 200 and nonsense.json()["type"] == 4
