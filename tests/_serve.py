"""An ASGI app served by a real uvicorn in a thread, on an ephemeral 127.0.0.1 port (real
sockets and keep-alive), for sync and async tests alike."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Yield the server's base URL (``http://127.0.0.1:PORT``); stop it on exit."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not srv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert thread.is_alive(), "uvicorn died"
            time.sleep(0.01)
        port = srv.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
