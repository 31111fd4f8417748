from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gamesched import errors, rules
from gamesched.rules import GameStatus

aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
zoned = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Sydney")]
    ),
)
minute_lists = st.lists(st.integers(0, rules.MAX_REMINDER_MINUTES), max_size=12)


# -- inheritance -------------------------------------------------------------------------------


@given(minute_lists, st.none() | minute_lists, minute_lists)
def test_game_level_wins_when_set(game: list[int], channel: list[int] | None, guild: list[int]):
    assert rules.resolve_reminder_minutes(game, channel, guild) == rules.normalise_minutes(game)


@given(minute_lists, minute_lists)
def test_channel_level_wins_when_game_inherits(channel: list[int], guild: list[int]):
    assert rules.resolve_reminder_minutes(None, channel, guild) == rules.normalise_minutes(channel)


@given(minute_lists)
def test_guild_level_when_both_inherit(guild: list[int]):
    assert rules.resolve_reminder_minutes(None, None, guild) == rules.normalise_minutes(guild)


def test_explicit_empty_list_means_no_reminders_and_stops_inheritance():
    assert rules.resolve_reminder_minutes([], [30], [60, 15]) == ()
    assert rules.resolve_reminder_minutes(None, [], [60, 15]) == ()


# -- reminder times ----------------------------------------------------------------------------


@given(aware, minute_lists, aware)
def test_reminder_times_are_future_unique_and_ordered(
    scheduled_at: datetime, minutes: list[int], now: datetime
):
    result = rules.reminder_times(scheduled_at, minutes, now=now)
    times = [r.notification_time for r in result]
    assert all(t > now for t in times)
    assert times == sorted(times)
    assert len({r.reminder_minutes for r in result}) == len(result)
    for r in result:
        assert scheduled_at - r.notification_time == timedelta(minutes=r.reminder_minutes)
    # nothing in the future was dropped
    expected = {m for m in minutes if scheduled_at - timedelta(minutes=m) > now}
    assert {r.reminder_minutes for r in result} == expected


@given(aware, minute_lists, aware)
def test_plan_reminders_partitions_all_minutes(
    scheduled_at: datetime, minutes: list[int], now: datetime
):
    future, past = rules.plan_reminders(scheduled_at, minutes, now=now)
    assert {r.reminder_minutes for r in future} | {r.reminder_minutes for r in past} == set(minutes)
    assert all(r.notification_time <= now for r in past)


@given(zoned, st.lists(st.integers(0, 2880), min_size=1, max_size=10))
def test_reminders_are_exact_elapsed_time_in_any_local_zone(
    scheduled_local: datetime, minutes: list[int]
):
    """Computed in UTC: 'N minutes before' is N*60 real seconds, even across a DST change."""
    far_past = datetime(1990, 1, 1, tzinfo=UTC)
    for r in rules.reminder_times(scheduled_local, minutes, now=far_past):
        assert r.notification_time.tzinfo is UTC
        elapsed = scheduled_local.astimezone(UTC) - r.notification_time
        assert elapsed.total_seconds() == r.reminder_minutes * 60


def test_reminder_across_spring_forward_in_berlin():
    # Clocks in Berlin jump 02:00 -> 03:00 on 2026-03-29. A game at 03:30 local (01:30 UTC)
    # with a 120-minute reminder is reminded at 23:30 UTC the day before, i.e. 00:30 local,
    # which is 3 hours earlier on the wall clock but exactly 2 hours earlier in real time.
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 3, 30, tzinfo=berlin)
    (r,) = rules.reminder_times(start, [120], now=datetime(2026, 1, 1, tzinfo=UTC))
    assert r.notification_time == datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert r.notification_time.astimezone(berlin).hour == 0


def test_naive_times_are_rejected():
    with pytest.raises(errors.InvalidInput, match="scheduled_at"):
        rules.reminder_times(datetime(2030, 1, 1), [60], now=datetime.now(UTC))
    with pytest.raises(errors.InvalidInput, match="now"):
        rules.reminder_times(datetime(2030, 1, 1, tzinfo=UTC), [60], now=datetime(2029, 1, 1))


@pytest.mark.parametrize(
    ("minutes", "problem"),
    [
        ([1] * 11, "at most 10"),
        ([-1], "outside"),
        ([525_601], "outside"),
        ([5, 5], "duplicate"),
        ([1.5], "whole number"),
        ([True], "whole number"),
    ],
)
def test_validate_minutes_names_the_problem(minutes: list[int], problem: str):
    with pytest.raises(errors.InvalidInput, match=problem) as info:
        rules.validate_minutes(minutes)
    assert info.value.field == "reminder_minutes"


def test_validate_minutes_accepts_bounds():
    assert rules.validate_minutes([0, 525_600]) == (525_600, 0)


# -- transitions -------------------------------------------------------------------------------


@given(aware, st.none() | st.integers(1, 100_000), st.integers(1, 100_000))
def test_status_transitions(scheduled_at: datetime, duration: int | None, default: int):
    start, end = rules.status_transitions(scheduled_at, duration, default)
    assert start == rules.Transition(GameStatus.IN_PROGRESS, scheduled_at)
    assert end.target_status is GameStatus.COMPLETED
    used = duration if duration is not None else default
    assert end.transition_time - scheduled_at == timedelta(minutes=used)


@given(st.sampled_from(GameStatus), st.sampled_from(GameStatus))
def test_legal_transitions(current: GameStatus, target: GameStatus):
    legal = {
        (GameStatus.SCHEDULED, GameStatus.IN_PROGRESS),
        (GameStatus.IN_PROGRESS, GameStatus.COMPLETED),
        (GameStatus.SCHEDULED, GameStatus.CANCELLED),
        (GameStatus.IN_PROGRESS, GameStatus.CANCELLED),
    }
    assert rules.can_transition(current, target) == ((current, target) in legal)
    if current in rules.TERMINAL_STATUSES:
        assert not rules.can_transition(current, target)
