"""Real sockets for API tests: the app on a real uvicorn server, and a TCP proxy to PostgreSQL
that can stall (stop forwarding while keeping every socket open), like a hung network path."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # a thread cannot install signal handlers
        yield


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server (its own thread and loop); yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=2))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        for _ in range(300):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


class StallingProxy:
    """Forwards 127.0.0.1:<port> to a target from a thread of its own. ``stall()`` stops
    forwarding in both directions but keeps every socket open, and holds new connections open
    without forwarding them; ``resume()`` resets the stalled connections (as a healed path
    would) and forwards new ones again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._stalled = False
        self._live: set[asyncio.StreamWriter] = set()
        self._frozen: set[asyncio.StreamWriter] = set()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> StallingProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._stalled or writer in self._frozen:
                    await asyncio.Future()  # never forward again: held open until reset
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._stalled:
            self._frozen.add(writer)
            await asyncio.Future()  # accepted, never forwarded
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        pair = {writer, up_writer}
        self._live |= pair
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._live -= pair

    def stall(self) -> None:
        async def stall() -> None:
            self._stalled = True
            self._frozen |= self._live

        self._call(stall())

    def resume(self) -> None:
        async def resume() -> None:
            self._stalled = False
            for w in self._frozen:
                w.transport.abort()
            self._frozen.clear()

        self._call(resume())

    def close(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for w in self._live | self._frozen:
                w.transport.abort()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        self._call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
