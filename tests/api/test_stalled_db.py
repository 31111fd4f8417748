"""A stalled database (a network path that stops forwarding but keeps its sockets open): every
request answers 503 with Retry-After within seconds, and the API recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import orm

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from tests.api._net import StallingProxy, serving
from tests.api.conftest import auth, game_body

#: Loose on purpose (shared, noisy machine): the app's own bound is about 6 s, an unbounded
#: wait is forever; the client gives up at 40 s.
ANSWER_WITHIN = 15.0


@pytest.fixture
def proxy(fresh_settings: Settings) -> Iterator[StallingProxy]:
    parts = urlsplit(fresh_settings.libpq_url)
    p = StallingProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    yield p
    p.close()


def via(settings: Settings, port: int) -> Settings:
    parts = urlsplit(settings.database_url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    new = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return settings.model_copy(update={"database_url": urlunsplit(parts._replace(netloc=new))})


def timed_get(http: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    resp = http.get(path)
    return resp, time.monotonic() - start


@pytest.mark.slow
def test_stalled_database_answers_503_quickly_and_recovers(
    fresh_settings: Settings, proxy: StallingProxy
) -> None:
    engine = db_engine.make_engine(fresh_settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    app = api_app.create_app(via(fresh_settings, proxy.port))

    with serving(app) as url, httpx.Client(base_url=url, headers=auth(admin), timeout=40) as http:
        guild = {"discord_guild_id": "100000000000000001", "name": "Guild"}
        assert http.post("/api/v1/guilds", json=guild).status_code == 201
        channel = {"discord_channel_id": "200000000000000001", "name": "games"}
        resp = http.post("/api/v1/guilds/100000000000000001/channels", json=channel)
        assert resp.status_code == 201
        assert http.get("/api/v1/games").status_code == 200  # the pool holds live connections

        proxy.stall()
        connections_before = proxy.connections
        # Work keeps arriving during the outage: reads, writes and probes, some at once.
        for path in ("/api/v1/games", "/readyz"):
            resp, took = timed_get(http, path)
            assert resp.status_code == 503, resp.text
            assert resp.headers["retry-after"]
            assert took < ANSWER_WITHIN, f"{path} took {took:.1f} s"
        start = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            writes = list(
                pool.map(lambda _: http.post("/api/v1/games", json=game_body()), range(6))
            )
        assert [r.status_code for r in writes] == [503] * 6
        assert time.monotonic() - start < 2 * ANSWER_WITHIN
        assert http.get("/healthz").status_code == 200  # the process itself is fine
        # Bounded load: at most a reconnect attempt or two per request, no retry storm.
        assert proxy.connections - connections_before <= 2 * 8

        proxy.resume()
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover by itself"
            time.sleep(0.2)
        created = http.post("/api/v1/games", json=game_body())
        assert created.status_code == 201, created.text
        listed = http.get("/api/v1/games").json()["items"]
        assert [g["id"] for g in listed] == [created.json()["id"]]  # the 503s wrote nothing
