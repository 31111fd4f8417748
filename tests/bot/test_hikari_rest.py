"""The hikari adapter against the local fake Discord: real HTTP, Discord's answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from gamesched.bot import discord, hikari_rest, plan
from gamesched.testing.fake_discord import FakeDiscord

ANNOUNCEMENT = plan.Announcement(
    title="Catan",
    description="Bring snacks",
    colour=0x5865F2,
    fields=(plan.EmbedField("Players (1/4)", "<@2>", inline=False),),
    buttons=(
        plan.Button("Join", "game:join:7c0a3f3e-1f7b-4e43-9a57-0d6f5bb1c3a1", "success"),
        plan.Button("Leave", "game:leave:7c0a3f3e-1f7b-4e43-9a57-0d6f5bb1c3a1", "danger"),
    ),
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    f = FakeDiscord()
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[hikari_rest.HikariDiscord]:
    requests = Counter("requests", "", ["status"], registry=CollectorRegistry())
    c = hikari_rest.HikariDiscord("TOKEN", api_base=fake.base_url, requests=requests)
    await c.start()
    yield c
    await c.close()


async def test_post_edit_delete_an_announcement(
    fake: FakeDiscord, client: hikari_rest.HikariDiscord
):
    message_id = await client.post("20", ANNOUNCEMENT)
    (post,) = fake.calls("POST", "/channels/20/messages")
    assert post.authorization == "Bot TOKEN"
    (embed,) = post.body["embeds"]
    assert embed["title"] == "Catan" and embed["fields"][0]["value"] == "<@2>"
    buttons = post.body["components"][0]["components"]
    assert [b["custom_id"] for b in buttons] == [b.custom_id for b in ANNOUNCEMENT.buttons]
    assert post.body["allowed_mentions"] == {"parse": []}  # shows mentions, pings nobody
    await client.edit("20", message_id, ANNOUNCEMENT)
    assert fake.calls("PATCH", f"/channels/20/messages/{message_id}")
    await client.delete("20", message_id)
    await client.delete("20", message_id)  # already gone: fine
    assert message_id not in fake.messages


async def test_editing_a_deleted_message_says_it_is_gone(
    fake: FakeDiscord, client: hikari_rest.HikariDiscord
):
    message_id = await client.post("20", ANNOUNCEMENT)
    fake.delete_message(message_id)
    with pytest.raises(discord.MessageGone):
        await client.edit("20", message_id, ANNOUNCEMENT)


async def test_dm_with_a_nonce_is_sent_once_and_closed_dms_are_told_apart(
    fake: FakeDiscord, client: hikari_rest.HikariDiscord
):
    await client.dm("5", "hello", "n1")
    await client.dm("5", "hello", "n1")  # a resend after a crash: Discord drops it
    assert [m.content for m in fake.dms_to("5")] == ["hello"]
    (first, _) = fake.calls("POST", f"/channels/{fake.dm_channels['5']}/messages")
    assert first.body["nonce"] == "n1" and first.body["enforce_nonce"] is True
    assert len(fake.calls("POST", "/users/@me/channels")) == 1  # the DM channel is cached
    fake.closed_dms.add("6")
    with pytest.raises(discord.DmClosed):
        await client.dm("6", "hello", "n2")


async def test_a_429_is_waited_out(fake: FakeDiscord, client: hikari_rest.HikariDiscord):
    fake.fail_next[("POST", "/channels/20/messages")] = [429]
    await client.post("20", ANNOUNCEMENT)
    statuses = [r.status for r in fake.calls("POST", "/channels/20/messages")]
    assert statuses == [429, 200]


async def test_server_errors_end_as_transient(fake: FakeDiscord, client: hikari_rest.HikariDiscord):
    fake.fail_next[("POST", "/channels/20/messages")] = [502] * 10
    with pytest.raises(discord.Transient):
        await client.post("20", ANNOUNCEMENT)


async def test_an_unreachable_discord_is_transient():
    c = hikari_rest.HikariDiscord("TOKEN", api_base="http://127.0.0.1:9/api/v10")
    await c.start()
    try:
        with pytest.raises(discord.Transient):
            await c.dm("5", "hello", "n1")
    finally:
        await c.close()


async def test_requests_are_paced_below_the_global_limit(fake: FakeDiscord):
    fake.global_rate = 10  # requests per second
    c = hikari_rest.HikariDiscord("TOKEN", api_base=fake.base_url, rate=8)
    await c.start()
    try:
        await asyncio.gather(*(c.post("20", ANNOUNCEMENT) for _ in range(20)))
    finally:
        await c.close()
    assert fake.count(429) == 0
    assert len(fake.calls("POST", "/channels/20/messages", status=200)) == 20
