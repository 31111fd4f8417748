"""/metrics from the first scrape on: every route's series exist at 0, and the docs pages, the
OpenAPI document and the docs' static files are each counted under a route of their own."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from gamesched.api import app as api_app
from gamesched.settings import Settings


@pytest.fixture
def http() -> TestClient:
    # No lifespan: none of these requests touches the database.
    return TestClient(api_app.create_app(Settings()))


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` with exactly ``labels``, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    found = re.findall(pattern, metrics, re.M)
    assert len(found) <= 1, found
    return float(found[0]) if found else None


def count(metrics: str, method: str, route: str, status: str) -> float | None:
    return sample(
        metrics, "gamesched_http_requests_total", method=method, route=route, status=status
    )


def test_the_first_scrape_already_shows_every_route_at_zero(http: TestClient) -> None:
    first = http.get("/metrics").text
    expected = [
        ("POST", "/api/v1/games", "201"),
        ("POST", "/api/v1/games", "422"),
        ("GET", "/api/v1/games/{game_id}", "200"),
        ("GET", "/api/v1/games/{game_id}", "404"),
        ("DELETE", "/api/v1/games/{game_id}/participants/{discord_user_id}", "409"),
        ("POST", "/api/v1/guilds", "403"),
        ("POST", "/discord/interactions", "401"),
        ("GET", "/readyz", "503"),
        ("GET", "/metrics", "200"),  # counted once this scrape is answered
        ("GET", "/docs", "200"),
        ("GET", "/redoc", "200"),
        ("GET", "/openapi.json", "200"),
        ("GET", "/docs/static/{path}", "200"),
    ]
    for method, route, status in expected:
        assert count(first, method, route, status) == 0.0, (method, route, status)
    latency = "gamesched_http_request_duration_seconds_count"
    assert sample(first, latency, method="PATCH", route="/api/v1/games/{game_id}") == 0.0
    assert sample(first, latency, method="GET", route="/docs") == 0.0
    # This scrape itself is the one request in progress.
    assert sample(first, "gamesched_http_requests_in_progress") == 1.0
    # Only documented statuses are created in advance: no 409 for a read.
    assert count(first, "GET", "/api/v1/games/{game_id}", "409") is None
    # ... and only routes that exist, once each.
    routes = set(re.findall(r'route="([^"]*)"', first))
    assert "unmatched" not in routes
    assert len(routes) == 18, sorted(routes)


def test_docs_openapi_and_static_files_are_counted_under_their_own_routes(
    http: TestClient,
) -> None:
    assert http.get("/docs").status_code == 200
    assert http.get("/redoc").status_code == 200
    assert http.get("/openapi.json").status_code == 200
    assert http.get("/openapi.json").status_code == 200
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "redoc.standalone.js"):
        assert http.get(f"/docs/static/{name}").status_code == 200
    for i in range(5):
        assert http.get(f"/docs/static/made-up-{i}.js").status_code == 404
    after = http.get("/metrics").text

    assert count(after, "GET", "/docs", "200") == 1.0
    assert count(after, "GET", "/redoc", "200") == 1.0
    assert count(after, "GET", "/openapi.json", "200") == 2.0
    assert count(after, "GET", "/docs/static/{path}", "200") == 3.0
    assert count(after, "GET", "/docs/static/{path}", "404") == 5.0  # one series, not five
    routes = set(re.findall(r'route="([^"]*)"', after))
    assert "unmatched" not in routes
    assert not any("made-up" in r or r.endswith(".js") for r in routes), routes
    assert sample(after, "gamesched_http_requests_in_progress") == 1.0  # back down, bar this one


def test_the_zeroed_statuses_are_the_documented_ones(http: TestClient) -> None:
    first = http.get("/metrics").text
    series = r'^gamesched_http_requests_total{method="([A-Z]+)",route="(/[^"]*)",status="(\d+)"}'
    zeroed = set(re.findall(series + r" 0\.0$", first, re.M))
    documented = {
        (method.upper(), path, status)
        for path, item in http.get("/openapi.json").json()["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }
    assert documented <= zeroed, documented - zeroed
    plain = {("GET", route, "200") for route in ("/docs", "/redoc", "/openapi.json")}
    assert zeroed - documented == plain | {("GET", "/docs/static/{path}", "200")}
