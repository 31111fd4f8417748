"""Failures: a create that dies mid-transaction leaves nothing; the database being down is a
503 with a retry hint; health, readiness and metrics; the last-resort 500."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import outbox
from gamesched.settings import Settings
from tests.api.conftest import Api, auth, game_body
from tests.conftest import make_settings


def test_create_failing_after_the_game_insert_leaves_nothing(
    live: Api, fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    live.setup_guild()

    def broken(*args: object, **kwargs: object) -> None:
        raise sa_exc.OperationalError("INSERT INTO event_outbox", {}, Exception("server gone"))

    monkeypatch.setattr(outbox, "add_event", broken)
    resp = live.http.post("/api/v1/games", json=game_body())
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "5"

    engine = db_engine.make_engine(fresh_settings)
    try:
        with engine.connect() as conn:
            for table in (
                "game_sessions", "notification_schedule", "game_status_schedule", "event_outbox",
            ):  # fmt: skip
                assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
    finally:
        engine.dispose()


def test_database_down_is_503_not_500() -> None:
    settings = make_settings("gamesched", database_url="postgresql://postgres@127.0.0.1:1/x")
    with TestClient(api_app.create_app(settings), headers=auth("t")) as http:
        resp = http.get("/api/v1/games")
        assert resp.status_code == 503
        assert resp.headers["retry-after"]
        assert resp.json()["detail"][0]["message"]
        assert http.get("/readyz").status_code == 503
        assert http.get("/healthz").status_code == 200


def test_metrics_count_requests_by_route_template(client: Api) -> None:
    client.http.get("/api/v1/games/00000000-0000-0000-0000-000000000000")
    body = client.http.get("/metrics").text
    assert (
        'gamesched_http_requests_total{method="GET",route="/api/v1/games/{game_id}",status="404"}'
        in body
    )
    assert "gamesched_http_request_duration_seconds_bucket" in body


def test_request_id_is_echoed(client: Api) -> None:
    resp = client.http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"


def test_unexpected_error_is_logged_with_request_id_and_answered_500(
    shared_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = api_app.create_app(shared_settings)

    def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as http, caplog.at_level(logging.ERROR):
        resp = http.get("/boom", headers={"X-Request-ID": "req-1"})
    assert resp.status_code == 500
    assert resp.json()["request_id"] == "req-1"
    assert any(getattr(r, "request_id", None) == "req-1" for r in caplog.records)


def test_readyz_fails_until_the_schema_is_at_head() -> None:
    from gamesched.db import migrate
    from tests.conftest import SERVER_URL

    settings = make_settings(f"gst_readyz_{uuid.uuid4().hex[:8]}")
    db_engine.create_database(settings)
    try:
        with TestClient(api_app.create_app(settings)) as http:
            empty = http.get("/readyz")
            assert empty.status_code == 503
            assert "no gamesched schema" in empty.json()["status"]
            migrate.upgrade(settings, "0001")
            behind = http.get("/readyz")
            assert behind.status_code == 503
            assert "behind" in behind.json()["status"] and "gamesched migrate" in behind.text
            migrate.upgrade(settings)
            assert http.get("/readyz").json() == {"status": "ok"}
    finally:
        db_engine.drop_database(SERVER_URL, settings.database_name)
