"""The whole way with real processes: a host types ``/game create`` in Discord, confirms the
preview, and the bot posts the announcement (on the fake Discord)."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from gamesched.testing.fake_discord import FakeDiscord
from tests.api.test_interactions import signed_request
from tests.bot.test_processes import Proc, start
from tests.conftest import SERVER_URL, make_settings
from tests.e2e.test_flow import KEY, Server, admin_token, cli, env
from tests.scheduler._helpers import free_port, wait_until

GUILD, CHANNEL, HOST = "100000000000000001", "200000000000000001", "300000000000000001"


@pytest.fixture
async def settings(run_id: str) -> AsyncIterator[Settings]:
    name = f"gst_{run_id}_slash_{uuid.uuid4().hex[:6]}"
    yield make_settings(
        name,
        gamesched_transport="postgres",
        gamesched_exchange=f"gamesched.test.{run_id}.{uuid.uuid4().hex[:6]}",
        discord_public_key=KEY.verify_key.encode().hex(),
    )
    db_engine.drop_database(SERVER_URL, name)


async def interact(server: Server, kind: int, data: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "type": kind,
        "application_id": "900000000000000001",
        "token": f"tok-{uuid.uuid4().hex}",
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "member": {"user": {"id": HOST}, "permissions": "0"},
        "data": data,
    }
    body, headers = signed_request(payload, KEY)
    resp = await server.http.post("/discord/interactions", content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_slash_create_confirm_is_announced_by_the_bot(settings: Settings) -> None:
    fake = FakeDiscord(guild_of_channel={CHANNEL: GUILD})
    await fake.start()
    api_port = free_port()
    environ = env(settings, fake, api_port)
    await cli(environ, "migrate")
    server = Server(api_port, await admin_token(environ))
    procs: list[Proc] = []
    try:
        for name in ("api", "scheduler", "bot"):
            procs.append(await start(name, environ))
        _api, scheduler, bot = procs
        await wait_until(server.ready, 30, "api ready")
        await scheduler.logged("scheduler started")
        await bot.logged("bot consuming")
        guild = {"discord_guild_id": GUILD, "name": "Guild"}
        assert (await server.http.post("/api/v1/guilds", json=guild)).status_code == 201
        channel = {"discord_channel_id": CHANNEL, "name": "games"}
        resp = await server.http.post(f"/api/v1/guilds/{GUILD}/channels", json=channel)
        assert resp.status_code == 201, resp.text

        command = {"name": "game", "type": 1, "options": [{"name": "create", "type": 1}]}
        modal = await interact(server, 2, command)
        assert modal["type"] == 9
        start_at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
        fields = {
            "title": "Slash Catan",
            "when": start_at.strftime("%Y-%m-%d %H:%M"),  # nobody set a zone: UTC
            "duration": "2h",
            "players": "4",
            "description": "",
        }
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in fields.items()
        ]
        preview = await interact(
            server, 5, {"custom_id": modal["data"]["custom_id"], "components": rows}
        )
        assert f"<t:{int(start_at.timestamp())}:F>" in preview["data"]["content"]
        confirm = next(
            b["custom_id"]
            for row in preview["data"]["components"]
            for b in row["components"]
            if b["label"] == "Confirm"
        )
        done = await interact(server, 3, {"custom_id": confirm, "component_type": 2})
        assert "Created" in done["data"]["content"]

        await wait_until(lambda: bool(fake.messages), 30, "announcement posted")
        (announcement,) = fake.messages.values()
        assert announcement.channel_id == CHANNEL
        assert "Slash Catan" in json.dumps(announcement.embeds)
        assert any(
            b["custom_id"].startswith("game:join:")
            for row in announcement.components
            for b in row["components"]
        )
    finally:
        codes = [await proc.stop() for proc in procs]
        assert codes in ([], [-signal.SIGTERM, 0, 0], [0, 0, 0]), [p.log() for p in procs]
        await server.http.aclose()
        await fake.stop()
    engine = db_engine.make_engine(settings)
    try:
        with engine.connect() as conn:
            game = conn.execute(
                text("SELECT scheduled_at, host_discord_id, discord_message_id FROM game_sessions")
            ).one()
            schedule = conn.scalar(text("SELECT count(*) FROM game_status_schedule"))
    finally:
        engine.dispose()
    assert game.scheduled_at == start_at and game.host_discord_id == HOST
    assert game.discord_message_id == announcement.id
    assert schedule == 2
