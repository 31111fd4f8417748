"""Registering channels: a guild token cannot probe or squat another guild's channel ids, and
with a bot token configured Discord must confirm that the channel belongs to the guild."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import orm, text
from sqlalchemy.orm import Session

from gamesched import discord_rest
from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from gamesched.testing.fake_discord import FakeDiscord
from tests.api.conftest import CHANNEL, GUILD, Api, auth
from tests.conftest import make_settings

OTHER_GUILD = "100000000000000002"
OTHER_CHANNEL = "200000000000000002"
NEW_CHANNEL = "200000000000000003"
BOT_TOKEN = "fake-bot-token"


def add_channel(api: Api, channel: str, guild: str = GUILD, **kwargs: Any) -> Any:
    return api.http.post(
        f"/api/v1/guilds/{guild}/channels", json={"discord_channel_id": channel}, **kwargs
    )


def test_guild_token_gets_the_same_404_for_another_guilds_channel(
    client: Api, db_session: Session
) -> None:
    client.setup_guild()
    client.setup_guild(guild=OTHER_GUILD, channel=OTHER_CHANNEL)
    mine = auth(tokens.create_token(db_session, name="mine", discord_guild_id=GUILD))
    db_session.commit()
    same_id = {**mine, "X-Request-ID": "probe"}

    squat = add_channel(client, OTHER_CHANNEL, headers=same_id)
    assert squat.status_code == 404
    unseen = client.http.patch(
        f"/api/v1/channels/{OTHER_CHANNEL}", json={"name": "x"}, headers=same_id
    )
    unknown = client.http.patch(
        "/api/v1/channels/299999999999999999", json={"name": "x"}, headers=same_id
    )
    assert unseen.status_code == unknown.status_code == 404
    assert squat.content == unseen.content == unknown.content
    assert squat.json()["request_id"] == "probe"

    owner = db_session.scalar(
        text(
            "SELECT g.discord_guild_id FROM channels c JOIN guilds g ON g.id = c.guild_id "
            "WHERE c.discord_channel_id = :c"
        ),
        {"c": OTHER_CHANNEL},
    )
    assert owner == OTHER_GUILD

    # Its own channel again, or any duplicate for an admin: a plain 409.
    again = add_channel(client, CHANNEL, headers=mine)
    assert again.status_code == 409 and again.json()["detail"][0]["field"] == "discord_channel_id"
    assert add_channel(client, OTHER_CHANNEL).status_code == 409


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    # in a thread of its own: the TestClient blocks this thread while the API asks the fake
    with FakeDiscord().in_thread() as fake:
        yield fake


def app_with_token(fresh_settings: Settings, api_base: str) -> Iterator[Api]:
    settings = make_settings(
        fresh_settings.database_name, discord_token=BOT_TOKEN, discord_api_base=api_base
    )
    engine = db_engine.make_engine(settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    with TestClient(api_app.create_app(settings), headers=auth(admin)) as http:
        yield Api(http, admin)


@pytest.fixture
def checked(fresh_settings: Settings, discord: FakeDiscord) -> Iterator[Api]:
    """The API with a bot token, asking the fake Discord."""
    discord.guild_of_channel[CHANNEL] = GUILD
    yield from app_with_token(fresh_settings, discord.base_url)


def registered(settings: Settings) -> set[str]:
    engine = db_engine.make_engine(settings)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT discord_channel_id FROM channels")))
    finally:
        engine.dispose()


def test_discord_confirms_the_channel_before_it_is_registered(
    checked: Api, discord: FakeDiscord, fresh_settings: Settings
) -> None:
    checked.setup_guild()  # registers CHANNEL, which the fake says is GUILD's
    assert [(r.method, discord.prefix + r.path, r.authorization) for r in discord.requests] == [
        ("GET", f"/api/v10/channels/{CHANNEL}", f"Bot {BOT_TOKEN}")
    ]
    discord.guild_of_channel[OTHER_CHANNEL] = OTHER_GUILD
    discord.dm_channels["300000000000000009"] = NEW_CHANNEL

    other = add_channel(checked, OTHER_CHANNEL)
    assert other.status_code == 422
    assert other.json()["detail"] == [
        {
            "field": "discord_channel_id",
            "message": f"channel {OTHER_CHANNEL} is not a channel of guild {GUILD} on Discord",
        }
    ]
    for unknown in (NEW_CHANNEL, "299999999999999999"):  # a DM, a channel Discord does not know
        resp = add_channel(checked, unknown)
        assert resp.status_code == 422, resp.text
        assert "no channel" in resp.json()["detail"][0]["message"]
    assert registered(fresh_settings) == {CHANNEL}
    assert len(discord.requests) == 4


def test_discord_failing_is_503_and_registers_nothing(
    checked: Api, discord: FakeDiscord, fresh_settings: Settings
) -> None:
    checked.setup_guild()
    discord.guild_of_channel[NEW_CHANNEL] = GUILD
    for status in (500, 502, 401, 429):  # down, a proxy's error, a revoked bot token, throttled
        discord.fail_with = status
        resp = add_channel(checked, NEW_CHANNEL)
        assert resp.status_code == 503, (status, resp.text)
        assert resp.headers["retry-after"]
        assert "Discord" in resp.json()["detail"][0]["message"]
        assert registered(fresh_settings) == {CHANNEL}
    discord.fail_with = None
    assert add_channel(checked, NEW_CHANNEL).status_code == 201  # and it recovers by itself


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_discord_unreachable_is_503(fresh_settings: Settings) -> None:
    api_base = f"http://127.0.0.1:{free_port()}/api/v10"  # nothing listens there
    for api in app_with_token(fresh_settings, api_base):
        assert api.http.post("/api/v1/guilds", json={"discord_guild_id": GUILD}).status_code == 201
        resp = add_channel(api, NEW_CHANNEL)
        assert resp.status_code == 503, resp.text
        assert resp.headers["retry-after"]
    assert registered(fresh_settings) == set()


def test_without_a_bot_token_discord_is_not_asked(client: Api) -> None:
    # Dry-run installs (DISCORD_TOKEN unset; the tests' Discord base is a closed port).
    client.setup_guild()
    assert add_channel(client, NEW_CHANNEL).status_code == 201


async def test_channel_guild_id_against_the_fake(discord: FakeDiscord) -> None:
    discord.guild_of_channel[NEW_CHANNEL] = OTHER_GUILD
    ask = {"api_base": discord.base_url, "token": BOT_TOKEN}
    assert await discord_rest.channel_guild_id(**ask, channel_id=NEW_CHANNEL) == OTHER_GUILD
    assert await discord_rest.channel_guild_id(**ask, channel_id="1") is None
    discord.fail_with = 403  # the bot may not see it
    assert await discord_rest.channel_guild_id(**ask, channel_id=NEW_CHANNEL) is None
    discord.fail_with = None
    discord.hang = True
    with pytest.raises(discord_rest.DiscordUnavailable):
        await discord_rest.channel_guild_id(**ask, channel_id=NEW_CHANNEL, timeout=0.5)
