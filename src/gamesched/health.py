"""``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` for a daemon, served by uvicorn on the
daemon's own event loop (so a stuck loop also shows as an unanswered probe).

The socket is bound here, before uvicorn starts, so a busy port is a clear configuration error
and port 0 ("any free port") reports the port it got. Malformed requests get uvicorn's 400, a
request line plus headers over 64 KiB a 400 or 431: an answer, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gamesched import errors

log = logging.getLogger(__name__)

#: The largest request line plus headers accepted; anything longer is answered 400.
MAX_REQUEST_HEAD_BYTES = 64 * 1024


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to its owner (the CLI stops every part)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket, or ConfigError naming the address (busy port, bad host)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise errors.ConfigError(f"cannot listen on {host}:{port} ({what}): {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise errors.ConfigError(
            f"cannot listen on {host}:{port} ({what}): {reason}; "
            "choose another port (0 picks a free one)"
        ) from exc
    sock.setblocking(False)
    return sock


class _HeadLimit:
    """431 for a request line plus headers over the limit. uvicorn's parser bounds a head that
    arrives in pieces; one that arrives whole is parsed, so it is refused here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            size += sum(len(k) + len(v) + 4 for k, v in scope["headers"])
            if size > MAX_REQUEST_HEAD_BYTES:
                response = PlainTextResponse("request head too large\n", status_code=431)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def health_app(registry: CollectorRegistry, ready: Callable[[], tuple[bool, str]]) -> Starlette:
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        ok, why = ready()
        return PlainTextResponse(why + "\n", status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=[Middleware(_HeadLimit)],
    )


class HealthServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        ready: Callable[[], tuple[bool, str]],
    ) -> None:
        self.host = host
        self.port = port
        self.registry = registry
        self.ready = ready
        self._server: QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Start listening; return the bound port (useful with port 0). A port in use raises
        ConfigError."""
        sock = bind(self.host, self.port, "METRICS_HOST:METRICS_PORT")
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            health_app(self.registry, self.ready),
            http="h11",
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
            lifespan="off",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=1,
        )
        self._server = QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="health")
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises what stopped it
                raise errors.ConfigError(f"metrics server on {self.host}:{self.port} stopped")
            await asyncio.sleep(0.01)
        return self.port

    async def close(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
