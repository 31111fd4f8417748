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

    def made_up_requests() -> str:
        for i in range(200):
            method = word(8) if i % 2 else rng.choice(sorted(KNOWN))
            path = f"/{word(6).lower()}/{rng.randrange(10**9)}" if i % 3 else "/api/v1/games"
            client.http.request(method, path)
        return client.http.get("/metrics").text

    before = client.http.get("/metrics").text
    routes_at_start = label_values(before, "route")
    after = made_up_requests()

    methods, routes = label_values(after, "method"), label_values(after, "route")
    assert methods <= KNOWN | {"other"}, methods
    assert "other" in methods
    assert routes == routes_at_start | {"unmatched"}, routes ^ routes_at_start
    assert "/api/v1/games" in routes_at_start  # the app's own routes exist from the start
    # 200 more made-up requests, none like the first: not one more series.
    series = [line for line in after.splitlines() if line.startswith("gamesched_http_")]
    again = [line for line in made_up_requests().splitlines() if line.startswith("gamesched_http_")]
    assert len(again) == len(series), set(again) ^ set(series)
    assert len(after) < 150_000, len(after)
