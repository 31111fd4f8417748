"""The whole flow with real processes: a game made through the API is announced, joined by a
signed click, reminded, started and completed, on Discord (the fake, run in this process) or in
the dry run's log (``gamesched run`` without ``DISCORD_TOKEN``).

RabbitMQ only for now: ``gamesched scheduler`` publishes through RabbitMQ until the scheduler
moves onto the transport seam.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from gamesched.db import engine as db_engine
from gamesched.events import schemas
from gamesched.settings import Settings
from gamesched.testing.fake_discord import FakeDiscord
from tests.bot.test_processes import Proc, env_for, start
from tests.conftest import SERVER_URL, delete_broker_objects, make_settings
from tests.scheduler._helpers import free_port, wait_until

GUILD, CHANNEL, HOST, PLAYER = "100000000000000001", "200000000000000001", "301", "302"
KEY = SigningKey.generate()

TRANSPORTS = ["rabbitmq", "postgres"]


@pytest.fixture(params=TRANSPORTS)
async def settings(request: pytest.FixtureRequest, run_id: str) -> AsyncIterator[Settings]:
    """A database `gamesched migrate` creates (``run`` migrates it itself)."""
    name = f"gst_{run_id}_e2e_{uuid.uuid4().hex[:6]}"
    exchange = f"gamesched.test.{run_id}.{uuid.uuid4().hex[:6]}"
    yield make_settings(
        name,
        gamesched_transport=request.param,
        gamesched_exchange=exchange,
        discord_public_key=KEY.verify_key.encode().hex(),
    )
    db_engine.drop_database(SERVER_URL, name)
    await delete_broker_objects(exchange)


def env(settings: Settings, fake: FakeDiscord | None, api_port: int) -> dict[str, str]:
    return env_for(settings, fake) | {
        "API_PORT": str(api_port),
        "DISCORD_PUBLIC_KEY": settings.discord_public_key or "",
    }


async def cli(environ: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gamesched", *args, env=environ, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out
    return out.decode()


async def admin_token(environ: dict[str, str]) -> str:
    out = await cli(environ, "token", "create", "--name", "admin")
    return out.strip().splitlines()[-1]


class Server:
    """The API as a person and as Discord reach it."""

    def __init__(self, port: int, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        )

    async def ready(self) -> bool:
        try:
            return (await self.http.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def game(self, starts_in: float) -> str:
        guild = {"discord_guild_id": GUILD, "name": "Guild"}
        assert (await self.http.post("/api/v1/guilds", json=guild)).status_code == 201
        channel = {"discord_channel_id": CHANNEL, "name": "games"}
        resp = await self.http.post(f"/api/v1/guilds/{GUILD}/channels", json=channel)
        assert resp.status_code == 201, resp.text
        body = {
            "discord_channel_id": CHANNEL,
            "title": "Catan",
            "scheduled_at": (datetime.now(UTC) + timedelta(seconds=starts_in)).isoformat(),
            "expected_duration_minutes": 1,
            "max_players": 4,
            "reminder_minutes": [1],
            "host_discord_id": HOST,
        }
        resp = await self.http.post("/api/v1/games", json=body)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async def click_join(self, game_id: str, user: str) -> str:
        custom_id = schemas.button_id("join", uuid.UUID(game_id))
        payload = {
            "type": 3,
            "guild_id": GUILD,
            "member": {"user": {"id": user}},
            "data": {"custom_id": custom_id},
        }
        body = json.dumps(payload).encode()
        stamp = str(int(time.time()))
        headers = {
            "X-Signature-Ed25519": KEY.sign(stamp.encode() + body).signature.hex(),
            "X-Signature-Timestamp": stamp,
            "Content-Type": "application/json",
        }
        resp = await self.http.post("/discord/interactions", content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["data"]["content"])


def status_shown(message: Any) -> str:
    fields = message.embeds[0]["fields"] if message.embeds else []
    return next((f["value"] for f in fields if f["name"].startswith("Status")), "")


@pytest.mark.slow
@pytest.mark.timeout(240)  # the game starts 70 s ahead and lasts a minute
async def test_a_game_from_the_api_to_completed_on_discord(settings: Settings):
    fake = FakeDiscord(guild_of_channel={CHANNEL: GUILD})  # the API asks before registering
    await fake.start()
    api_port = free_port()
    environ = env(settings, fake, api_port)
    await cli(environ, "migrate")
    server = Server(api_port, await admin_token(environ))
    procs: list[Proc] = []
    try:
        procs = list(
            await asyncio.gather(
                start("api", environ), start("scheduler", environ), start("bot", environ)
            )
        )
        _api, scheduler, bot = procs
        await asyncio.gather(
            wait_until(server.ready, 30, "api ready"),
            scheduler.logged("scheduler started"),
            bot.logged("bot consuming"),
        )
        game = await server.game(starts_in=70)
        await wait_until(lambda: _announced(fake), 30, "announcement posted")
        (announcement,) = fake.messages.values()
        assert status_shown(announcement) == "Scheduled"
        assert "in!" in await server.click_join(game, PLAYER)
        await wait_until(
            lambda: _shows(announcement, f"<@{PLAYER}>"), 30, "the player on the announcement"
        )
        await wait_until(lambda: _dmed(fake, HOST, PLAYER), 40, "reminder DMs")
        assert "Catan" in fake.dms_to(PLAYER)[0].content
        await wait_until(lambda: _status(announcement, "In progress"), 60, "IN_PROGRESS shown")
        await wait_until(lambda: _status(announcement, "Completed"), 80, "COMPLETED shown")
    finally:
        codes = [await proc.stop() for proc in procs]
        # uvicorn.run (gamesched api) re-raises the SIGTERM it handled: -15 is its clean stop
        assert codes in ([], [-signal.SIGTERM, 0, 0], [0, 0, 0]), [p.log() for p in procs]
        await server.http.aclose()
        await fake.stop()
    assert len(fake.calls("POST", f"/channels/{CHANNEL}/messages")) == 1  # posted once...
    assert len(fake.calls("PATCH", f"/channels/{CHANNEL}/messages/")) >= 3  # ...edited since
    assert len(fake.dms_to(HOST)) == len(fake.dms_to(PLAYER)) == 1


async def _announced(fake: FakeDiscord) -> bool:
    return bool(fake.messages)


async def _shows(message: Any, text: str) -> bool:
    return text in json.dumps(message.embeds)


async def _status(message: Any, status: str) -> bool:
    return status_shown(message) == status


async def _dmed(fake: FakeDiscord, *users: str) -> bool:
    return all(fake.dms_to(u) for u in users)


async def test_run_without_a_token_shows_the_flow_in_its_log(settings: Settings):
    api_port = free_port()
    environ = env(settings, None, api_port)
    run = await start("run", environ)
    server: Server | None = None
    try:
        await run.logged("bot consuming", 60)
        server = Server(api_port, await admin_token(environ))
        # starts in 65 s: its 1-minute reminder is due 5 s from now, after the join
        game = await server.game(starts_in=65)
        await run.logged(f"dry-run: would post in channel {CHANNEL}")
        await server.click_join(game, PLAYER)
        await run.logged("players (1/4)")
        await run.logged(f"dry-run: would DM user {PLAYER}")
        resp = await server.http.post(f"/api/v1/games/{game}/cancel")
        assert resp.status_code == 200, resp.text
        await run.logged("[Cancelled]")
        assert (await server.http.delete(f"/api/v1/games/{game}")).status_code == 204
        await run.logged(f"in channel {CHANNEL}: announcement")  # the delete
    finally:
        assert await run.stop() == 0, run.log()
        if server is not None:
            await server.http.aclose()
    log = run.log()
    assert f"dry-run: would DM user {HOST}" in log
    assert log.count(f"dry-run: would post in channel {CHANNEL}") == 1
