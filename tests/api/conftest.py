"""API test harness: the real app on real PostgreSQL.

``client`` runs the app with every request's session joined to the test's rollback-isolated
``db_session`` (fast; nothing survives the test). ``live`` runs the app on a database of the
test's own with real commits and a real connection pool, for concurrency and crash tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import orm
from sqlalchemy.orm import Session

from gamesched.api import app as api_app
from gamesched.api import deps
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings

GUILD = "100000000000000001"
CHANNEL = "200000000000000001"
HOST = "300000000000000001"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def in_future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def game_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "discord_channel_id": CHANNEL,
        "title": "Board game night",
        "description": "Bring snacks",
        "scheduled_at": in_future(days=2),
        "expected_duration_minutes": 90,
        "max_players": 4,
        "reminder_minutes": None,
        "host_discord_id": HOST,
    }
    body.update(overrides)
    return body


@dataclass
class Api:
    """A TestClient with the admin token already in its headers, and a few set-up helpers."""

    http: TestClient
    admin_token: str

    def setup_guild(self, guild: str = GUILD, channel: str = CHANNEL, **guild_fields: Any) -> None:
        body = {"discord_guild_id": guild, "name": "Guild", **guild_fields}
        resp = self.http.post("/api/v1/guilds", json=body)
        assert resp.status_code == 201, resp.text
        resp = self.http.post(
            f"/api/v1/guilds/{guild}/channels",
            json={"discord_channel_id": channel, "name": "games"},
        )
        assert resp.status_code == 201, resp.text

    def create_game(self, **overrides: Any) -> dict[str, Any]:
        resp = self.http.post("/api/v1/games", json=game_body(**overrides))
        assert resp.status_code == 201, resp.text
        result: dict[str, Any] = resp.json()
        return result


@pytest.fixture
def client(shared_settings: Settings, db_session: Session) -> Iterator[Api]:
    app = api_app.create_app(shared_settings)

    def joined_session() -> Iterator[Session]:
        try:
            yield db_session
            db_session.commit()  # releases the test's savepoint only
        except BaseException:
            db_session.rollback()
            raise

    app.dependency_overrides[deps.get_session] = joined_session
    admin = tokens.create_token(db_session, name="test-admin", discord_guild_id=None)
    db_session.commit()
    with TestClient(app, headers=auth(admin)) as http:
        yield Api(http, admin)


@pytest.fixture
def live(fresh_settings: Settings) -> Iterator[Api]:
    engine = db_engine.make_engine(fresh_settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="test-admin", discord_guild_id=None)
    engine.dispose()
    app = api_app.create_app(fresh_settings)
    with TestClient(app, headers=auth(admin)) as http:
        yield Api(http, admin)
