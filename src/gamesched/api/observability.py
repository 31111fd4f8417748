"""Request ids and Prometheus metrics, as one plain ASGI middleware.

Each app has its own metrics registry (not the process-wide default) so several apps in one
process (tests) never collide. Labels come from fixed sets only (known methods, route templates),
never from raw client input, so made-up methods or paths cannot grow the label space: every
request under the docs' static mount is one route, ``/docs/static/{path}``, whatever the file.

Every series the app can be expected to have is created at start-up at 0 (:meth:`Metrics.prepare`):
each route with each status its OpenAPI lists, and the docs pages. So ``rate()`` and alerts see
a route from the first scrape rather than from its first request.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: The only methods that become a label value; any other is counted as ``other``.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def _api_route_label(scope: Scope) -> str | None:
    """The template of the API route that handled the request (FastAPI records it in the
    scope for its own routes only)."""
    route: Any = scope.get("route")
    template = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
    return template if isinstance(template, str) and template else None


def _plain_label(route: Route | Mount) -> str:
    return f"{route.path}/{{path}}" if isinstance(route, Mount) else route.path


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gamesched_http_requests_total",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gamesched_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "gamesched_http_requests_in_progress",
            "HTTP requests being answered now",
            registry=self.registry,
        )
        #: The app's routes that are not API routes (the OpenAPI document, the docs pages and
        #: their static mount), matched by the middleware itself: FastAPI does not record them
        #: in the scope.
        self.plain_routes: list[tuple[Route | Mount, str]] = []

    def prepare(self, app: FastAPI, api_routes: Iterable[APIRoute]) -> None:
        """Learn the app's plain routes and create every expected series at 0: for each API
        route, its success status and every status it documents. Call once all routes are in
        place. (FastAPI keeps included routers' routes out of ``app.routes``, and asking it for
        the OpenAPI document instead costs it 200 ms per app.)"""
        self.plain_routes = [
            (route, _plain_label(route))
            for route in app.routes
            if isinstance(route, Route | Mount) and not isinstance(route, APIRoute)
        ]
        for api_route in api_routes:
            statuses = {str(api_route.status_code or 200)} | {str(s) for s in api_route.responses}
            for method in api_route.methods or ():
                self._zero(method, api_route.path, statuses)
        for route, label in self.plain_routes:
            methods = route.methods if isinstance(route, Route) and route.methods else {"GET"}
            for method in methods - {"HEAD"}:
                self._zero(method, label, ["200"])

    def _zero(self, method: str, route: str, statuses: Iterable[str]) -> None:
        for status in statuses:
            self.requests.labels(method, route, status)
        self.latency.labels(method, route)

    def plain_route_label(self, scope: Scope) -> str | None:
        for route, label in self.plain_routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return label
        return None


class ObservabilityMiddleware:
    """Gives every request an id (``X-Request-ID``, kept from the client if sane) and records
    its count and latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _VALID_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # Before dispatch: a mount rewrites the scope's root_path, after which it no longer
        # matches its own path.
        plain = self.metrics.plain_route_label(scope)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_progress.dec()
            template = _api_route_label(scope) or plain or UNMATCHED
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
