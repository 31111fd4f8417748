"""gamesched.when: typed times, durations and zones, with DST and the round trip through <t:…>."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gamesched.when import (
    MAX_DURATION,
    MAX_INPUT,
    WhenError,
    discord_timestamp,
    localize,
    lookup_zone,
    parse_duration,
    parse_reminder_minutes,
    parse_when,
    warm_up,
    zone_suggestions,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 25 November 2026, 15:00 in Berlin (UTC+01:00), 09:00 in New York (UTC-05:00)
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# typed in Europe/Berlin at NOW -> the instant, in UTC (Berlin is UTC+01:00 in Nov-Jan)
BERLIN_TABLE = [
    ("fri 8pm", "2026-11-27 19:00"),
    ("Friday 8 PM", "2026-11-27 19:00"),
    ("  FRI   8PM  ", "2026-11-27 19:00"),
    ("friday at 20", "2026-11-27 19:00"),
    ("friday 20:00", "2026-11-27 19:00"),
    ("friday at 8:30pm", "2026-11-27 19:30"),
    ("friday 8:30", "2026-11-27 07:30"),  # HH:MM is the 24-hour clock
    ("friday at 0", "2026-11-26 23:00"),  # midnight starting Friday
    ("friday 00:00", "2026-11-26 23:00"),  # dateparser calls 00:00 a "day": still a time
    ("friday 12am", "2026-11-26 23:00"),
    ("next friday 20:00", "2026-11-27 19:00"),  # dateparser: the coming Friday
    ("thursday 8.30pm", "2026-11-26 19:30"),
    ("sat 9am", "2026-11-28 08:00"),
    ("saturday 3pm", "2026-11-28 14:00"),
    ("sun 18:00", "2026-11-29 17:00"),
    ("monday 7:30 pm", "2026-11-30 18:30"),
    ("wednesday 16:00", "2026-11-25 15:00"),  # today's weekday, still ahead: today
    ("wednesday 10am", "2026-12-02 09:00"),  # today's weekday, already past: next week
    ("tomorrow 19:30", "2026-11-26 18:30"),
    ("tomorrow at 7:30pm", "2026-11-26 18:30"),
    ("tomorrow noon", "2026-11-26 11:00"),
    ("today 23:00", "2026-11-25 22:00"),
    ("tonight at 9", "2026-11-25 20:00"),  # tonight makes a bare hour pm
    ("tonight 22:30", "2026-11-25 21:30"),
    ("19:30", "2026-11-25 18:30"),  # the next 19:30: today
    ("8:00", "2026-11-26 07:00"),  # the next 08:00: tomorrow
    ("8pm", "2026-11-25 19:00"),
    ("20", "2026-11-25 19:00"),  # a bare hour above 12 is that hour
    ("noon", "2026-11-26 11:00"),
    ("midnight", "2026-11-25 23:00"),
    ("in 2h", "2026-11-25 16:00"),
    ("in 2 hours", "2026-11-25 16:00"),
    ("in 90 minutes", "2026-11-25 15:30"),
    ("in 1h30", "2026-11-25 15:30"),
    ("in 1.5h", "2026-11-25 15:30"),
    ("in 1h and 15m", "2026-11-25 15:15"),
    ("in an hour", "2026-11-25 15:00"),
    ("in half an hour", "2026-11-25 14:30"),
    ("in 2 days", "2026-11-27 14:00"),
    ("in 1 week", "2026-12-02 14:00"),
    ("2026-12-04 20:00", "2026-12-04 19:00"),
    ("2026-12-04T20:00", "2026-12-04 19:00"),
    ("2026-12-04T20:00:00+05:00", "2026-12-04 15:00"),  # the offset wins over the zone
    ("2026-12-04T20:00Z", "2026-12-04 20:00"),
    ("2026-12-04 20:00 -05:00", "2026-12-05 01:00"),
    ("2026-12-04T20:00:45+01:00", "2026-12-04 19:00"),  # seconds dropped
    ("8pm EST", "2026-11-26 01:00"),  # a zone abbreviation in the text wins too
    ("dec 4 8pm", "2026-12-04 19:00"),
    ("4 dec 20:00", "2026-12-04 19:00"),
    ("December 4th at 8pm", "2026-12-04 19:00"),
    ("04.12.2026 20:00", "2026-12-04 19:00"),  # dotted: day first
    ("13/12 20:00", "2026-12-13 19:00"),  # slashed, day > 12: day first
    ("12/13 8pm", "2026-12-13 19:00"),  # slashed, second > 12: month first
    ("12/12/2026 20:00", "2026-12-12 19:00"),
    ("jan 1 20:00", "2027-01-01 19:00"),  # no year: the next one
    ("1 jan 2027 20:00", "2027-01-01 19:00"),
    ("2027-01-15 18:00", "2027-01-15 17:00"),
    ("tue 8 dec 20:00", "2026-12-08 19:00"),  # a day of the month after a weekday is not an hour
    ("sat 9 jan 8pm", "2027-01-09 19:00"),
]

NEW_YORK_TABLE = [
    ("fri 8pm", "2026-11-28 01:00"),
    ("tomorrow 19:30", "2026-11-27 00:30"),
    ("9:30", "2026-11-25 14:30"),
    ("in 2h", "2026-11-25 16:00"),
    ("2026-12-04 20:00", "2026-12-05 01:00"),
    ("2026-12-04 20:00+01:00", "2026-12-04 19:00"),
]


@pytest.mark.parametrize(("typed", "expected"), BERLIN_TABLE)
def test_typed_times_in_berlin(typed: str, expected: str) -> None:
    when = parse_when(typed, BERLIN, NOW)
    assert when.at == utc(expected)
    assert when.at.tzinfo is UTC
    assert when.zone is BERLIN
    assert when.note is None


@pytest.mark.parametrize(("typed", "expected"), NEW_YORK_TABLE)
def test_typed_times_in_new_york(typed: str, expected: str) -> None:
    assert parse_when(typed, NEW_YORK, NOW).at == utc(expected)


def test_the_table_is_big_enough() -> None:
    assert len(BERLIN_TABLE) + len(NEW_YORK_TABLE) >= 40


def test_the_same_words_are_read_in_each_persons_zone() -> None:
    berlin = parse_when("tomorrow 19:30", BERLIN, NOW).at
    new_york = parse_when("tomorrow 19:30", NEW_YORK, NOW).at
    assert new_york - berlin == timedelta(hours=6)


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("asdf", "can't read"),
        ("the day after the party", "can't read"),
        ("x" * (MAX_INPUT + 1), "too long"),
        ("friday at 8", "'friday at 8am' or 'friday at 8pm'"),
        ("friday 8", "'friday 8am' or 'friday 8pm'"),
        ("8", "'8am' or '8pm'"),
        ("at 12", "noon or midnight"),
        ("32", "can't read"),
        ("monday", "no time of day"),
        ("tomorrow", "no time of day"),
        ("tonight", "no time of day"),
        ("2026-12-04", "no time of day"),
        ("2h", "did you mean 'in 2h'"),
        ("in 7", "in 7 what"),
        ("in 10 years", "can't read"),
        ("12/04 20:00", "12 April or 4 December"),
        ("31/31 20:00", "not a date"),
        ("2026-02-30 20:00", "not a valid date"),
        ("2026-12-04T25:00+01:00", "not a valid date"),
        ("2040-01-01 20:00", "years away"),
        ("in 300 weeks", "years away"),
        ("9999-12-31 23:59", "years away"),
        ("9999-12-31T23:59-05:00", "years away"),
        ("dec 31 9999 11pm", "years away"),
        ("0001-01-01 00:00", "already passed"),
        ("0001-01-01T00:00+05:00", "already passed"),
        ("friday 8 dec 20:00", "Tue 08 Dec 2026 is not a Friday"),
        ("friday the 4th at 20:00", "is not a Friday"),  # dateparser's reading: some day in April
    ],
)
def test_bad_input_is_refused_in_words(typed: str, words: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_when(typed, BERLIN, NOW)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("today 10:00", "did you mean tomorrow 10:00?"),
        ("today 14:59", "did you mean tomorrow 14:59?"),
        ("yesterday 20:00", "did you mean today 20:00?"),
        ("now", "did you mean tomorrow 15:00?"),
        ("2026-11-20 19:30", "did you mean 2026-11-27 19:30?"),
        ("2026-11-25T13:00Z", "did you mean tomorrow 14:00?"),
        ("2025-01-01 20:00", "pick a time in the future"),
    ],
)
def test_a_past_time_is_refused_with_a_suggestion(typed: str, suggestion: str) -> None:
    with pytest.raises(WhenError, match="already passed") as caught:
        parse_when(typed, BERLIN, NOW)
    assert suggestion in str(caught.value)


def test_the_suggestion_for_a_past_time_parses_to_a_future_time() -> None:
    with pytest.raises(WhenError) as caught:
        parse_when("today 10:00", BERLIN, NOW)
    suggested = re.search(r"did you mean (.+)\?", str(caught.value))
    assert suggested is not None
    assert parse_when(suggested.group(1), BERLIN, NOW).at == utc("2026-11-26 09:00")


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("fri 8pm", BERLIN, datetime(2026, 11, 25, 14, 0))


# --- DST --------------------------------------------------------------------------------------

BEFORE_SPRING = datetime(2027, 3, 1, tzinfo=UTC)
BEFORE_AUTUMN = datetime(2027, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "zone", "expected", "used"),
    [
        # Berlin 2027-03-28: 02:00 CET -> 03:00 CEST; 02:30 is moved forward by the hour
        ("2027-03-28 02:30", BERLIN, "2027-03-28 01:30", "03:30 CEST"),
        ("sun 28 mar 2:30am", BERLIN, "2027-03-28 01:30", "03:30 CEST"),
        ("2027-03-28 02:00", BERLIN, "2027-03-28 01:00", "03:00 CEST"),
        # New York 2027-03-14: 02:00 EST -> 03:00 EDT
        ("2027-03-14 02:30", NEW_YORK, "2027-03-14 07:30", "03:30 EDT"),
        ("march 14 2:59am", NEW_YORK, "2027-03-14 07:59", "03:59 EDT"),
    ],
)
def test_a_wall_time_in_a_dst_gap_is_moved_forward_and_said(
    typed: str, zone: ZoneInfo, expected: str, used: str
) -> None:
    when = parse_when(typed, zone, BEFORE_SPRING)
    assert when.at == utc(expected)
    assert when.note is not None
    assert "does not exist" in when.note
    assert used in when.note
    assert "an hour later" in when.note


@pytest.mark.parametrize(
    ("typed", "zone", "expected", "first", "second"),
    [
        # Berlin 2027-10-31: 03:00 CEST -> 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC
        ("2027-10-31 02:30", BERLIN, "2027-10-31 00:30", "CEST (UTC+02:00)", "CET (UTC+01:00)"),
        ("oct 31 2:30am", BERLIN, "2027-10-31 00:30", "CEST (UTC+02:00)", "CET (UTC+01:00)"),
        # New York 2027-11-07: 02:00 EDT -> 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC
        ("2027-11-07 01:30", NEW_YORK, "2027-11-07 05:30", "EDT (UTC-04:00)", "EST (UTC-05:00)"),
    ],
)
def test_a_wall_time_that_happens_twice_is_the_first_and_said(
    typed: str, zone: ZoneInfo, expected: str, first: str, second: str
) -> None:
    when = parse_when(typed, zone, BEFORE_AUTUMN)
    assert when.at == utc(expected)
    assert when.note is not None
    assert "happens twice" in when.note
    assert first in when.note
    assert second in when.note


def test_the_second_occurrence_of_a_fold_can_be_given_with_an_offset() -> None:
    when = parse_when("2027-10-31T02:30+01:00", BERLIN, BEFORE_AUTUMN)
    assert when.at == utc("2027-10-31 01:30")
    assert when.note is None


def test_in_hours_counts_real_hours_across_the_spring_gap() -> None:
    # 01:30 CET; two real hours later it is 04:30 CEST (the wall clock moved three hours)
    now = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    when = parse_when("in 2h", BERLIN, now)
    assert when.at == now + timedelta(hours=2)
    assert f"{when.at.astimezone(BERLIN):%H:%M}" == "04:30"


def test_in_days_keeps_the_wall_time_across_a_dst_change() -> None:
    now = datetime(2027, 3, 27, 19, 0, tzinfo=UTC)  # Saturday 20:00 CET
    when = parse_when("in 1 day", BERLIN, now)
    assert f"{when.at.astimezone(BERLIN):%Y-%m-%d %H:%M %Z}" == "2027-03-28 20:00 CEST"
    assert when.at - now == timedelta(hours=23)


def test_localize_leaves_ordinary_times_alone() -> None:
    at, note = localize(datetime(2027, 6, 1, 20, 0), BERLIN)
    assert at == utc("2027-06-01 18:00")
    assert note is None


# --- properties -------------------------------------------------------------------------------

PROPERTY_ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "Antarctica/Troll",
]
FUTURE = st.datetimes(
    min_value=datetime(2026, 11, 26), max_value=datetime(2031, 10, 31), timezones=st.just(UTC)
).map(lambda at: at.replace(second=0, microsecond=0))


@settings(max_examples=600, deadline=None)
@given(
    at=FUTURE,
    zone_name=st.one_of(
        st.sampled_from(PROPERTY_ZONES), st.sampled_from(zone_suggestions("", limit=1000))
    ),
)
def test_a_formatted_instant_parses_back_to_itself(at: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    local = at.astimezone(zone)
    typed = f"{local:%Y-%m-%d %H:%M}"
    when = parse_when(typed, zone, NOW)
    if local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset():
        # the second occurrence of a repeated wall time: documented, the first one is chosen
        assert when.at == local.replace(fold=0).astimezone(UTC)
        assert when.at < at
        assert when.note is not None and "happens twice" in when.note
    else:
        assert when.at == at


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=FUTURE, zone_name=st.sampled_from(PROPERTY_ZONES))
def test_words_for_an_instant_parse_back_to_it(at: datetime, zone_name: str) -> None:
    """The same through dateparser: "4 December 2027 8:05pm"."""
    zone = ZoneInfo(zone_name)
    local = at.astimezone(zone)
    assume(local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset())
    typed = f"{local.day} {local:%B %Y} {local:%I:%M%p}".lower()
    assert parse_when(typed, zone, NOW).at == at


@given(at=FUTURE, zone_name=st.sampled_from(PROPERTY_ZONES))
def test_the_round_trip_through_a_discord_timestamp_is_exact(at: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    when = parse_when(f"{at:%Y-%m-%dT%H:%M}Z", zone, NOW)
    tag = discord_timestamp(when.at)
    match = re.fullmatch(r"<t:(\d+):F>", tag)
    assert match is not None
    assert datetime.fromtimestamp(int(match.group(1)), UTC) == when.at == at
    assert discord_timestamp(when.at, "R") == f"<t:{match.group(1)}:R>"


@given(minutes=st.integers(min_value=1, max_value=MAX_DURATION))
def test_durations_round_trip(minutes: int) -> None:
    hours, rest = divmod(minutes, 60)
    assert parse_duration(str(minutes)) == minutes
    assert parse_duration(f"{minutes}m") == minutes
    assert parse_duration(f"{hours}h{rest}") == minutes
    assert parse_duration(f"{hours}:{rest:02d}") == minutes
    assert parse_duration(f"{hours} hours {rest} minutes") == minutes


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("90", 90),
        ("90m", 90),
        ("90 min", 90),
        ("1h30", 90),
        ("1h 30m", 90),
        ("1h and 30m", 90),
        ("1:30", 90),
        ("1.5h", 90),
        ("1,5 h", 90),
        ("2 hours", 120),
        ("2 Hours 15 Minutes", 135),
        ("an hour", 60),
        ("half an hour", 30),
        ("1 day", 1440),
        ("1 week", 10080),
        ("10080", 10080),
        ("1", 1),
    ],
)
def test_durations(typed: str, minutes: int) -> None:
    assert parse_duration(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "empty"),
        ("abc", "can't read"),
        ("0", "between 1 minute and 7 days"),
        ("10081", "between 1 minute and 7 days"),
        ("2 weeks", "between 1 minute and 7 days"),
        ("1.3m", "whole number"),
        ("-5", "can't read"),
        ("5 parsecs", "can't read"),
        ("1h30x", "can't read"),
        ("9" * 200, "too long"),
    ],
)
def test_bad_durations(typed: str, words: str) -> None:
    with pytest.raises(WhenError, match=words):
        parse_duration(typed)


# --- zones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("  America/New York ", "America/New_York"),
        ("UTC", "UTC"),
        ("asia/kolkata", "Asia/Kolkata"),
        ("US/Eastern", "US/Eastern"),  # an old link: accepted, not suggested
    ],
)
def test_lookup_zone(typed: str, key: str) -> None:
    assert lookup_zone(typed).key == key


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("berlin", "did you mean Europe/Berlin?"),
        ("", "unknown time zone"),
        ("../../etc/passwd", "unknown time zone"),
        ("x" * 500, "unknown time zone"),
        ("CET", "an abbreviation like CET or EST does not say when daylight saving time"),
        ("est", "pick the zone of a city near you"),
        ("Etc/GMT+5", "unknown time zone"),
        ("localtime", "unknown time zone"),
    ],
)
def test_unknown_zones_are_refused(typed: str, words: str) -> None:
    with pytest.raises(WhenError, match=re.escape(words)):
        lookup_zone(typed)


def test_zone_suggestions() -> None:
    assert zone_suggestions("berl") == ["Europe/Berlin"]
    assert zone_suggestions("new y") == ["America/New_York"]
    assert zone_suggestions("Europe/B")[:3] == [
        "Europe/Belfast",
        "Europe/Belgrade",
        "Europe/Berlin",
    ]
    assert zone_suggestions("utc")[0] == "UTC"
    assert "US/Eastern" not in zone_suggestions("us/")
    assert zone_suggestions("zzzz") == []
    assert len(zone_suggestions("")) == 25
    assert len(zone_suggestions("a", limit=10)) == 10
    # whole-name prefixes come before matches on a later part of the name
    america = zone_suggestions("america")
    assert all(name.startswith("America/") for name in america)


@given(prefix=st.text(max_size=120))
def test_every_suggestion_is_a_zone_lookup_accepts(prefix: str) -> None:
    suggestions = zone_suggestions(prefix)
    assert len(suggestions) <= 25
    for name in suggestions:
        assert lookup_zone(name).key == name


_WORDS = (
    "fri friday at 8 20 8pm in 2h tomorrow tonight today 19:30 2026-12-04 12/04 13/12 04.12.2026 "
    "next week noon midnight +01:00 z t dec 4 2027 00:00 24:00 99:99 - 1h30 minutes 0 a an half "
    "hour days est cet am pm . / : \u00b2 \u0663 \uff18"
)
WORDS = st.sampled_from(_WORDS.split())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    typed=st.one_of(
        st.text(max_size=MAX_INPUT + 10),
        st.lists(WORDS, max_size=6).map(" ".join),
        st.lists(WORDS, max_size=6).map("".join),
    )
)
def test_anything_typed_gives_a_future_minute_or_a_sentence(typed: str) -> None:
    try:
        when = parse_when(typed, BERLIN, NOW)
    except WhenError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert NOW < when.at <= NOW + timedelta(days=5 * 366)
        assert when.at.tzinfo is UTC and when.at.second == when.at.microsecond == 0
    with contextlib.suppress(WhenError):
        assert 1 <= parse_duration(typed) <= MAX_DURATION


def test_full_width_input_is_read_as_ascii() -> None:
    assert parse_when("\uff18\uff50\uff4d", BERLIN, NOW).at == utc("2026-11-25 19:00")
    assert parse_duration("\uff19\uff10") == 90
    with pytest.raises(WhenError, match="can't read"):
        parse_duration("\u0663")  # other scripts' digits are not read (English only)


# --- reminder minutes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("60 15", (60, 15)),
        ("15, 60", (60, 15)),
        ("15,60,15", (60, 15)),
        ("1h 15m", (60, 15)),
        ("1h30", (90,)),
        ("1d 1h", (1440, 60)),
        ("1w", (10080,)),
        ("525600", (525600,)),
        ("none", ()),
        ("Off", ()),
        ("default", None),
        (" inherit ", None),
        ("1 2 3 4 5 6 7 8 9 10", (10, 9, 8, 7, 6, 5, 4, 3, 2, 1)),
    ],
)
def test_reminder_minutes(typed: str, minutes: tuple[int, ...] | None) -> None:
    assert parse_reminder_minutes(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "no minutes given"),
        ("soon", "can't read 'soon'"),
        ("0", "1 minute to a year"),
        ("525601", "1 minute to a year"),
        ("0.5m", "1 minute to a year"),
        ("1 2 3 4 5 6 7 8 9 10 11", "at most 10 reminders"),
        ("1" * 200, "too long"),
    ],
)
def test_bad_reminder_minutes(typed: str, words: str) -> None:
    with pytest.raises(WhenError, match=re.escape(words)):
        parse_reminder_minutes(typed)


def test_warm_up_loads_dateparser() -> None:
    warm_up()
    assert "dateparser.date" in sys.modules


def test_the_machines_own_zone_is_never_needed() -> None:
    """dateparser's default looks up the machine's zone, which fails (with a FutureWarning)
    where TZ is unset or odd, as in some containers; the zone is always the person's."""
    code = (
        "from datetime import UTC, datetime\n"
        "from zoneinfo import ZoneInfo\n"
        "from gamesched.when import parse_when\n"
        "now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)\n"
        "for typed in ('fri 8pm', '8pm EST', 'tomorrow 19:30'):\n"
        "    print(parse_when(typed, ZoneInfo('Europe/Berlin'), now).at.isoformat())\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env={**os.environ, "TZ": "Nowhere/Nothing"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "2026-11-27T19:00:00+00:00",
        "2026-11-26T01:00:00+00:00",
        "2026-11-26T18:30:00+00:00",
    ]


def test_a_zone_in_the_text_picks_the_day_from_the_real_now() -> None:
    # 08:00 Thursday in Tokyo is 18:00 Wednesday in New York: 8pm EST is two hours away
    now = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    assert parse_when("8pm EST", ZoneInfo("Asia/Tokyo"), now).at == utc("2026-11-26 01:00")


NOWS = st.datetimes(
    min_value=datetime(2027, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    now=NOWS,
    zone_name=st.sampled_from(PROPERTY_ZONES),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_tomorrow_is_the_next_local_date_at_that_wall_time(
    now: datetime, zone_name: str, hour: int, minute: int
) -> None:
    zone = ZoneInfo(zone_name)
    when = parse_when(f"tomorrow {hour}:{minute:02d}", zone, now)
    local = when.at.astimezone(zone)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    if when.note is None:
        assert (local.date(), local.hour, local.minute) == (tomorrow, hour, minute)
    else:  # in a gap: moved forward by it (at most a few hours); in a fold: the first one
        assert local.date() == tomorrow or "does not exist" in when.note
        assert ("does not exist" in when.note) != ("happens twice" in when.note)


@given(now=NOWS, minutes=st.integers(1, 5 * 365 * 24 * 60))
def test_in_minutes_is_that_many_real_minutes(now: datetime, minutes: int) -> None:
    when = parse_when(f"in {minutes} minutes", NEW_YORK, now)
    assert when.at == (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
