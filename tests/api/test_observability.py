"""Prometheus labels come from fixed sets only: made-up methods and paths cannot grow /metrics."""

from __future__ import annotations

import random
import re
import string

from tests.api.conftest import Api

KNOWN = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def label_values(metrics: str, label: str) -> set[str]:
    return set(re.findall(rf'^gamesched_http_requests_total{{.*?{label}="([^"]*)"', metrics, re.M))


def test_made_up_methods_and_paths_leave_the_label_set_bounded(client: Api) -> None:
    rng = random.Random(7)
    word = lambda n: "".join(rng.choices(string.ascii_uppercase, k=n))  # noqa: E731
    client.http.get("/healthz")
    for i in range(200):
        method = word(8) if i % 2 else rng.choice(sorted(KNOWN))
        path = f"/{word(6).lower()}/{rng.randrange(10**9)}" if i % 3 else "/api/v1/games"
        client.http.request(method, path)
    after = client.http.get("/metrics").text

    methods, routes = label_values(after, "method"), label_values(after, "route")
    assert methods <= KNOWN | {"other"}, methods
    assert "other" in methods
    assert routes <= {"/healthz", "/metrics", "/api/v1/games", "unmatched"}, routes
    assert "unmatched" in routes
    series = [line for line in after.splitlines() if line.startswith("gamesched_http_")]
    assert len(series) < 400, len(series)  # ~20 series per (method, route), not per request
    assert len(after) < 100_000, len(after)
