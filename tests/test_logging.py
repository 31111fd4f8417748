"""LOG_FORMAT=json: one object per line with ts, level, component, action and the ids of what a
line concerns; in-process for the formatter, then a real ``gamesched run`` through one game."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gamesched import logsetup
from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.bot.test_processes import env_for, start
from tests.conftest import SERVER_URL, delete_broker_objects, make_settings
from tests.e2e.test_flow import CHANNEL, Server, admin_token
from tests.scheduler._helpers import free_port

REQUIRED = ("ts", "level", "component", "action")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's output, as configured for the ``bot`` command, in JSON."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logsetup.configure("INFO", "json", component="bot")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_component_action_and_ids(captured: io.StringIO) -> None:
    log = logging.getLogger("gamesched.bot.handler")
    log.info("handled %s", "m1", extra={"action": "handled", "message_id": "m1"})
    logging.getLogger("uvicorn.error").info("a library's line")
    first, second = lines(captured)
    assert all(key in first for key in REQUIRED)
    assert first["component"] == "bot" and first["action"] == "handled"
    assert first["message_id"] == "m1" and first["msg"] == "handled m1"
    assert second["component"] == "bot" and second["action"] == logsetup.NO_ACTION


async def test_bound_ids_stay_with_their_task(captured: io.StringIO) -> None:
    log = logging.getLogger("gamesched.bot.discord")

    async def delivery(game_id: uuid.UUID, ready: asyncio.Event, go: asyncio.Event) -> None:
        logsetup.bind(game_id=game_id, message_id=f"m-{game_id}")
        ready.set()
        await go.wait()  # the other task binds its own ids meanwhile
        log.info("dry-run: would post", extra={"action": "dry_post"})

    games = [uuid.uuid4(), uuid.uuid4()]
    events = [(asyncio.Event(), asyncio.Event()) for _ in games]
    tasks = [asyncio.create_task(delivery(g, *e)) for g, e in zip(games, events, strict=True)]
    for ready, _ in events:
        await ready.wait()
    for _, go in reversed(events):
        go.set()
    await asyncio.gather(*tasks)
    log.info("outside any delivery", extra={"action": "consuming"})
    out = lines(captured)
    assert {(line["game_id"], line["message_id"]) for line in out[:2]} == {
        (str(g), f"m-{g}") for g in games
    }
    assert "game_id" not in out[2]


def test_text_format_is_unchanged_by_the_component(captured: io.StringIO) -> None:
    logsetup.configure("INFO", "text", component="scheduler")
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("gamesched.scheduler.loop").info("x", extra={"action": "batch"})
    assert stream.getvalue().rstrip().endswith("gamesched.scheduler.loop: x action=batch")


@pytest.mark.parametrize(
    ("logger", "process", "component"),
    [
        ("gamesched.scheduler.loop", "scheduler", "scheduler"),
        ("gamesched.events.pgqueue", "bot", "bot"),
        ("gamesched.db.migrate", "migrate", "migrate"),
        ("gamesched.scheduler.loop", "run", "scheduler"),
        ("gamesched.bot.discord", "run", "bot"),
        ("gamesched.api.errors", "run", "api"),
        ("uvicorn.error", "run", "run"),  # the API's, or a /metrics server's
        ("uvicorn.error", "api", "api"),
        ("gamesched", "run", "run"),
    ],
)
def test_component_is_the_process_part(logger: str, process: str, component: str) -> None:
    assert logsetup.part_of(logger, process) == component


@pytest.fixture
async def settings(run_id: str) -> AsyncIterator[Settings]:
    name = f"gst_{run_id}_log_{uuid.uuid4().hex[:6]}"
    exchange = f"gamesched.test.{run_id}.{uuid.uuid4().hex[:6]}"
    yield make_settings(name, gamesched_transport="postgres", gamesched_exchange=exchange)
    db_engine.drop_database(SERVER_URL, name)
    await delete_broker_objects(exchange)


async def test_run_logs_json_lines_with_the_game_id(settings: Settings) -> None:
    api_port = free_port()
    environ = env_for(settings, None) | {"API_PORT": str(api_port), "LOG_FORMAT": "json"}
    run = await start("run", environ)
    server: Server | None = None
    try:
        await run.logged('"action": "consuming"', 60)
        server = Server(api_port, await admin_token(environ))
        game = await server.game(starts_in=3600)
        await run.logged(f"dry-run: would post in channel {CHANNEL}")
        await run.logged('"routing_key": "game.created"')
    finally:
        assert await run.stop() == 0, run.log()
        if server is not None:
            await server.http.aclose()

    out = []
    for raw in run.lines:
        line = json.loads(raw)  # every line is one JSON object
        assert all(key in line for key in REQUIRED), raw
        out.append(line)
    # `run` hosts every part: each line names the one it comes from
    assert {"scheduler", "bot"} <= {line["component"] for line in out}
    ours = [line for line in out if line["logger"].startswith("gamesched")]
    assert not [line for line in ours if line["action"] == logsetup.NO_ACTION]
    (post,) = [line for line in out if line["action"] == "dry_post"]
    assert post["game_id"] == game and post["component"] == "bot"
    assert post["discord_message_id"] and post["message_id"]
    (handled,) = [
        line
        for line in out
        if line["action"] == "handled" and line.get("routing_key") == "game.created"
    ]
    assert handled["game_id"] == game and handled["message_id"] == post["message_id"]
    batches = [line for line in out if line["action"] == "batch"]
    assert batches and {line["component"] for line in batches} == {"scheduler"}
