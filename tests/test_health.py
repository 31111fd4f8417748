"""The daemons' /metrics, /healthz and /readyz server, in process: what it answers, and that
hostile requests get an HTTP answer rather than a traceback."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from gamesched import errors
from gamesched.health import HealthServer


async def raw_request(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


@pytest.fixture
async def server() -> HealthServer:
    registry = CollectorRegistry()
    Counter("gamesched_test_things", "things", registry=registry).inc(3)
    state = {"ready": (False, "broker not connected")}
    srv = HealthServer(host="127.0.0.1", port=0, registry=registry, ready=lambda: state["ready"])
    await srv.start()
    srv.state = state  # type: ignore[attr-defined]
    yield srv
    await srv.close()


async def test_endpoints(server: HealthServer) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        assert (await client.get("/healthz")).text == "ok\n"
        metrics = await client.get("/metrics")
        assert "gamesched_test_things_total 3.0" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")
        not_ready = await client.get("/readyz")
        assert (not_ready.status_code, not_ready.text) == (503, "broker not connected\n")
        server.state["ready"] = (True, "ready")  # type: ignore[attr-defined]
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.head("/healthz")).status_code == 200
        assert (await client.post("/healthz")).status_code == 405
        assert (await client.get("/nope")).status_code == 404


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n",
    ],
    ids=["request-line", "header"],
)
async def test_request_head_over_64_kib_is_answered_not_a_traceback(
    server: HealthServer, request_head: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = await raw_request(server.port, request_head)
    status = answer[9:12]
    assert status in (b"400", b"431"), repr(answer[:100])
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    async with httpx.AsyncClient() as client:  # and it still serves
        assert (await client.get(f"http://127.0.0.1:{server.port}/healthz")).status_code == 200


async def test_busy_port_is_a_config_error(server: HealthServer) -> None:
    second = HealthServer(
        host="127.0.0.1", port=server.port, registry=CollectorRegistry(), ready=lambda: (True, "")
    )
    with pytest.raises(errors.ConfigError) as info:
        await second.start()
    assert str(server.port) in info.value.message and "\n" not in info.value.message
