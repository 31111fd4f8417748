"""The real ``gamesched bot`` process against the fake Discord (run in the test process), on each
transport: duplicates, a SIGKILL in the middle of a burst, Discord's faults, parking and
``gamesched dlq replay``. Messages are published by hand through the transport's sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, orm, text

from gamesched.events import schemas, transports
from gamesched.events.schemas import Outgoing
from gamesched.settings import Settings
from gamesched.testing.fake_discord import FakeDiscord
from tests.bot._helpers import change, message_id_of, reminder_message, seed, seed_channel
from tests.conftest import delete_broker_objects
from tests.scheduler._helpers import aconnect, wait_until

TRANSPORTS = ["postgres", "rabbitmq"]


@pytest.fixture(params=TRANSPORTS)
async def settings(
    request: pytest.FixtureRequest, fresh_settings: Settings, run_id: str
) -> AsyncIterator[Settings]:
    exchange = f"gamesched.test.{run_id}.{uuid.uuid4().hex[:6]}"
    yield fresh_settings.model_copy(
        update={"gamesched_transport": request.param, "gamesched_exchange": exchange}
    )
    if request.param == "rabbitmq":
        await delete_broker_objects(exchange)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    discord = FakeDiscord(retry_after=0.5)
    await discord.start()
    yield discord
    await discord.stop()


def env_for(settings: Settings, fake: FakeDiscord | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "RABBITMQ_URL": settings.rabbitmq_url or "",
        "GAMESCHED_TRANSPORT": settings.transport,
        "GAMESCHED_EXCHANGE": settings.gamesched_exchange,
        "METRICS_PORT": "0",
        "LOG_LEVEL": "INFO",
    }
    if fake is not None:
        env |= {"DISCORD_TOKEN": "any-token", "DISCORD_API_BASE": fake.base_url}
    else:
        env.pop("DISCORD_TOKEN", None)
    return env


class Proc:
    """A ``gamesched`` subprocess whose log is read into ``lines`` as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace"))

    def log(self) -> str:
        return "".join(self.lines)

    async def logged(self, needle: str, timeout: float = 30) -> None:
        async def seen() -> bool:
            assert self.proc.returncode is None, self.log()
            return needle in self.log()

        await wait_until(seen, timeout, f"{needle!r} in the log")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return code


async def start(command: str, env: dict[str, str], *args: str) -> Proc:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gamesched",
        command,
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return Proc(proc)


async def start_bot(settings: Settings, fake: FakeDiscord) -> Proc:
    bot = await start("bot", env_for(settings, fake))
    await bot.logged("bot consuming")
    return bot


async def cli(settings: Settings, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gamesched",
        *args,
        env=env_for(settings, None),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def publish(settings: Settings, *messages: Outgoing) -> None:
    sink = transports.sink(settings)
    await sink.connect()
    try:
        async with await aconnect(settings) as conn, conn.transaction():
            assert all(await sink.publish(conn, list(messages)))
    finally:
        await sink.close()


def dm_count(fake: FakeDiscord, user: str) -> int:
    return len(fake.dms_to(user))


async def test_a_reminder_delivered_twice_dms_each_recipient_once(
    settings: Settings, engine: Engine, fake: FakeDiscord
):
    game = seed(engine)  # host 1, confirmed 2 and 3, waitlisted 4
    reminder = reminder_message(engine, game)
    bot = await start_bot(settings, fake)
    try:
        await publish(settings, reminder)
        await wait_until(lambda: _all(fake, ["1", "2", "3", "4"]), 30, "four DMs")
        await publish(settings, reminder)  # republished by hand: the same message id
        await bot.logged(f"{reminder.message_id}: duplicate")
    finally:
        assert await bot.stop() == 0
    assert [dm_count(fake, u) for u in ("1", "2", "3", "4")] == [1, 1, 1, 1]
    assert "#1" in fake.dms_to("4")[0].content  # the waitlist variant names the place


async def _all(fake: FakeDiscord, users: list[str]) -> bool:
    return all(dm_count(fake, u) >= 1 for u in users)


async def test_closed_dms_a_429_and_a_deleted_announcement(
    settings: Settings, engine: Engine, fake: FakeDiscord
):
    game = seed(engine)
    fake.closed_dms.add("2")
    fake.fail_next[("POST", "/users/@me/channels")] = [429]  # the first DM channel waits
    bot = await start_bot(settings, fake)
    try:
        await publish(settings, change(schemas.GAME_CREATED, game))
        await wait_until(lambda: _has_message_id(engine, game), 30, "announcement posted")
        first = message_id_of(engine, game)
        assert first is not None
        fake.delete_message(first)  # someone deleted it in the Discord client
        await publish(settings, change(schemas.GAME_UPDATED, game), reminder_message(engine, game))
        await wait_until(lambda: _all(fake, ["1", "3", "4"]), 30, "DMs to the others")
        await wait_until(lambda: _reposted(engine, game, first), 30, "announcement re-posted")
    finally:
        assert await bot.stop() == 0
    assert dm_count(fake, "2") == 0
    assert fake.count(429) == 1  # waited out, not turned into a failure
    assert message_id_of(engine, game) in fake.messages
    with orm.Session(engine) as s:
        statuses = dict(
            s.execute(text("SELECT discord_user_id, status FROM reminder_deliveries")).all()
        )
    assert statuses == {"1": "sent", "2": "undeliverable", "3": "sent", "4": "sent"}


async def _has_message_id(engine: Engine, game: uuid.UUID) -> bool:
    return message_id_of(engine, game) is not None


async def _reposted(engine: Engine, game: uuid.UUID, old: str) -> bool:
    return message_id_of(engine, game) not in (None, old)


async def test_malformed_is_parked_and_a_refused_post_replays_once_fixed(
    settings: Settings, engine: Engine, fake: FakeDiscord
):
    game = seed(engine)
    code, out = await cli(settings, "dlq", "list")
    assert code == 0 and "nothing is parked" in out, out
    malformed = Outgoing(str(uuid.uuid4()), schemas.GAME_UPDATED, {"game_id": "not-a-uuid"})
    # the bot lacks a permission in the channel: Discord refuses, retrying cannot help
    fake.fail_next[("POST", "/channels/20/messages")] = [403]
    bot = await start_bot(settings, fake)
    try:
        await publish(settings, malformed, change(schemas.GAME_CREATED, game))
        await wait_until(lambda: _parked(settings, 2), 30, "both parked")
        code, out = await cli(settings, "dlq", "list")
        assert code == 0 and malformed.message_id in out and "403" in out, out
        assert message_id_of(engine, game) is None
        # the admin grants the permission (the fake no longer refuses); the operator replays
        code, out = await cli(settings, "dlq", "replay", "--all")
        assert code == 0 and "replayed 2 parked messages" in out, out
        await wait_until(lambda: _has_message_id(engine, game), 30, "announcement posted")
        await wait_until(lambda: _parked(settings, 1), 30, "the malformed one parked again")
    finally:
        assert await bot.stop() == 0
    code, out = await cli(settings, "dlq", "list")
    assert malformed.message_id in out and out.count("message ") == 1, out


async def _parked(settings: Settings, count: int) -> bool:
    return len(await transports.dead_letters(settings).list()) == count


@pytest.mark.slow
async def test_sigkill_in_a_burst_of_500_reminders_still_dms_everyone_once(
    settings: Settings, engine: Engine, fake: FakeDiscord
):
    reminders = seed_burst(engine, 500)
    users = [str(100_000 + i) for i in range(500)]
    bot = await start_bot(settings, fake)
    await publish(settings, *reminders)
    await wait_until(lambda: _dms_at_least(fake, 100), 60, "a part of the burst")
    assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
    handled_before = len(fake.messages)
    assert handled_before < len(users), "killed too late to test anything"
    bot = await start_bot(settings, fake)
    try:
        await wait_until(lambda: _all(fake, users), 120, "every recipient's DM")
    finally:
        # a stop just after the killed bot's leases came back once took over 10 s in the full
        # suite; the exit deadline (gamesched._shutdown) bounds it whatever hangs in teardown
        assert await bot.stop() == 0
    assert {dm_count(fake, u) for u in users} == {1}


async def _dms_at_least(fake: FakeDiscord, n: int) -> bool:
    return len(fake.messages) >= n


def seed_burst(engine: Engine, n: int) -> list[Outgoing]:
    """``n`` games, each with its own host, and a reminder due now for each (one recipient per
    reminder: the client's pacing, 45 requests/s, makes each DM to a new user two requests)."""
    when = datetime.now(UTC)
    with orm.Session(engine) as s, s.begin():
        guild, channel = seed_channel(s)
        rows = s.execute(
            text(
                "WITH games AS ("
                " INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at,"
                "  host_discord_id, max_players)"
                " SELECT :g, :c, 'Game ' || i, now() + interval '1 hour', (100000 + i)::text, 4"
                " FROM generate_series(0, :n - 1) AS i RETURNING id)"
                " INSERT INTO notification_schedule (game_id, reminder_minutes,"
                "  notification_time)"
                " SELECT id, 60, :t FROM games"
                " RETURNING id, game_id, (SELECT now() + interval '1 hour')"
            ),
            {"g": guild, "c": channel, "n": n, "t": when},
        ).all()
    return [
        Outgoing(
            str(row_id),
            schemas.REMINDER_DUE,
            schemas.ReminderDue(
                game_id=game_id,
                notification_id=row_id,
                reminder_minutes=60,
                scheduled_at=at,
                notification_time=when,
            ).body(),
        )
        for row_id, game_id, at in rows
    ]
