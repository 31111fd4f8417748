"""Joining and leaving: seats in join order, the waitlist, and the last seat under contention."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gamesched.api import app as api_app
from gamesched.settings import Settings
from tests._serve import serve
from tests.api.conftest import Api, auth


def join(api: Api, game_id: str, user: str) -> Any:
    return api.http.post(f"/api/v1/games/{game_id}/participants", json={"discord_user_id": user})


def roster_events(db: Session, game_id: str) -> set[tuple[str, str]]:
    rows = db.execute(
        text(
            "SELECT payload FROM event_outbox WHERE routing_key = 'game.roster_changed' "
            "AND game_id = :g"
        ),
        {"g": game_id},
    )
    return {(r[0]["discord_user_id"], r[0]["action"]) for r in rows}


def test_first_max_players_confirmed_rest_wait_in_order(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game(max_players=2)
    answers = [join(client, game["id"], u).json() for u in ("1", "2", "3", "4")]
    assert [(a["state"], a["position"]) for a in answers] == [
        ("confirmed", 1), ("confirmed", 2), ("waitlisted", 3), ("waitlisted", 4),
    ]  # fmt: skip
    assert roster_events(db_session, game["id"]) == {
        ("1", "joined"), ("2", "joined"), ("3", "waitlisted"), ("4", "waitlisted"),
    }  # fmt: skip


def test_leaving_promotes_the_first_waiting(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game(max_players=2)
    for u in ("1", "2", "3", "4"):
        join(client, game["id"], u)
    assert client.http.delete(f"/api/v1/games/{game['id']}/participants/1").status_code == 204
    players = client.http.get(f"/api/v1/games/{game['id']}").json()["participants"]
    assert [(p["discord_user_id"], p["state"]) for p in players] == [
        ("2", "confirmed"), ("3", "confirmed"), ("4", "waitlisted"),
    ]  # fmt: skip
    assert {("1", "left"), ("3", "promoted")} <= roster_events(db_session, game["id"])
    assert ("4", "promoted") not in roster_events(db_session, game["id"])


def test_raising_max_players_promotes(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game(max_players=1)
    join(client, game["id"], "1")
    join(client, game["id"], "2")
    client.http.patch(f"/api/v1/games/{game['id']}", json={"max_players": 2})
    assert ("2", "promoted") in roster_events(db_session, game["id"])


def test_join_twice_or_a_closed_game_is_409(client: Api) -> None:
    client.setup_guild()
    game = client.create_game()
    assert join(client, game["id"], "1").status_code == 201
    twice = join(client, game["id"], "1")
    assert twice.status_code == 409 and twice.json()["detail"][0]["field"] == "discord_user_id"
    client.http.post(f"/api/v1/games/{game['id']}/cancel")
    assert join(client, game["id"], "2").status_code == 409


def test_leave_unknown_player_or_game_is_404(client: Api) -> None:
    client.setup_guild()
    game = client.create_game()
    assert client.http.delete(f"/api/v1/games/{game['id']}/participants/9").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert join(client, missing, "1").status_code == 404


@pytest.fixture
def server(live: Api, fresh_settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on an ephemeral port: real parallel HTTP requests."""
    with serve(api_app.create_app(fresh_settings)) as url:
        yield url


def test_parallel_joins_never_overbook_the_last_seats(live: Api, server: str) -> None:
    live.setup_guild()
    game = live.create_game(max_players=3)
    join(live, game["id"], "1")  # two seats left for twenty players
    users = [str(100 + i) for i in range(20)]
    barrier = threading.Barrier(len(users))

    def attempt(user: str) -> str:
        with httpx.Client(base_url=server, headers=auth(live.admin_token), timeout=30) as http:
            barrier.wait()
            resp = http.post(
                f"/api/v1/games/{game['id']}/participants", json={"discord_user_id": user}
            )
            assert resp.status_code == 201, resp.text
            state: str = resp.json()["state"]
            return state

    with ThreadPoolExecutor(len(users)) as pool:
        states = list(pool.map(attempt, users))
    assert states.count("confirmed") == 2
    players = live.http.get(f"/api/v1/games/{game['id']}").json()["participants"]
    confirmed = [p["discord_user_id"] for p in players if p["state"] == "confirmed"]
    assert len(confirmed) == 3
    told_confirmed = {u for u, s in zip(users, states, strict=True) if s == "confirmed"}
    assert told_confirmed == set(confirmed) - {"1"}
