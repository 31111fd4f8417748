"""The dry-run bot's log lines: one plain line per Discord call, no Discord markup."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gamesched.bot import discord, plan
from gamesched.rules import GameStatus

NOW = datetime(2030, 6, 1, 17, 30, tzinfo=UTC)


def game(status: GameStatus = GameStatus.SCHEDULED) -> plan.Game:
    return plan.Game(
        id=uuid.uuid4(),
        title="Catan",
        description=None,
        scheduled_at=NOW + timedelta(minutes=2),
        duration_minutes=60,
        max_players=2,
        status=status,
        host_id="10",
        guild_id="1",
        channel_id="2",
        message_id="7",
        confirmed=("11", "12"),
        waitlist=("13",),
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(119.9, "in 2 min"), (60.2, "in 1 min"), (30, "in 30 s"), (-5, "5 s ago"), (7200, "in 2 h")],
)
def test_relative_times_round_to_the_largest_unit(seconds: float, text: str) -> None:
    assert discord.relative(NOW + timedelta(seconds=seconds), NOW) == text


def test_a_reminder_reads_as_plain_text() -> None:
    line = discord.readable(plan.reminder_text(game(), 1), now=NOW)
    assert line == (
        "Reminder: Catan starts 2030-06-01 17:32:00 UTC (in 2 min). You are #1 on the waitlist: "
        "you get a seat if someone leaves. https://discord.com/channels/1/2/7"
    )


def test_an_announcement_is_one_line_with_status_time_players_and_waitlist() -> None:
    done = discord.summary(plan.announcement(game(GameStatus.COMPLETED)))
    assert done.startswith("'Catan (completed)' [Completed] starts 2030-06-01 17:32:00 UTC (")
    assert done.endswith("; players (2/2): @11, @12; waitlist (1): @13")


async def test_each_call_is_one_dry_run_line(caplog: pytest.LogCaptureFixture) -> None:
    dry = discord.DryRun()
    caplog.set_level(logging.INFO, logger="gamesched.bot.discord")
    announcement = plan.announcement(game())
    message_id = await dry.post("2", announcement)
    await dry.edit("2", message_id, announcement)
    await dry.dm("11", plan.reminder_text(game(), None), "n")
    await dry.delete("2", message_id)
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(":")[0] for line in lines] == ["dry-run"] * 4
    assert lines[0].startswith(f"dry-run: would post in channel 2 (message {message_id}): 'Catan'")
    assert lines[1].startswith(f"dry-run: would edit message {message_id} in channel 2: 'Catan'")
    assert lines[2].startswith("dry-run: would DM user 11: Reminder: Catan starts 2030-06-01")
    assert lines[3] == f"dry-run: would delete message {message_id} in channel 2: announcement"
    assert not any("<t:" in line or "<@" in line or "**" in line for line in lines)
