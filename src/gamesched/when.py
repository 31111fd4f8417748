"""Times people type, read in their own time zone.

``parse_when`` turns what a host types into the modal's "when" field (``fri 8pm``,
``tomorrow 19:30``, ``in 2h``, ``2026-12-04 20:00``, ``2026-12-04T20:00+01:00``) into one
instant. The rules, in the order they apply:

* The text is at most ``MAX_INPUT`` characters; case and extra spaces do not matter.
* A time with an explicit offset (``Z``, ``+01:00``, or a zone abbreviation dateparser knows,
  like ``EST``) is that instant: the offset wins over the person's zone.
* ``in 2h``, ``in 90 minutes``, ``in 1h30``, ``in 3 days``: hours and minutes are added to the
  instant ``now`` (so ``in 2h`` is two real hours, even across a DST change); days and weeks move
  the wall-clock date and keep the wall-clock time.
* A bare hour without am/pm is a time of day, never a month or a year: ``friday at 20`` is
  20:00, ``at 0`` is midnight; ``friday at 8`` (1-12) is refused as ambiguous, naming both
  readings (``friday at 8am`` / ``friday at 8pm``), except after ``tonight``, where it is pm.
  ``HH:MM`` is the 24-hour clock (``8:30`` is 08:30) unless am/pm follows.
* ``dd.mm.yyyy`` is day first; ``a/b`` or ``a/b/yyyy`` is month first when ``b > 12``, day first
  when ``a > 12``, and refused as ambiguous when both are 12 or less and differ.
* A day without a time (``monday``, ``tomorrow``, ``2026-12-04``) is refused: add a time.
* Anything else goes to dateparser (English) with "prefer future": ``fri 8pm`` on a Friday
  after 20:00 is the next Friday, before 20:00 it is today; a bare ``19:30`` is the next 19:30;
  ``next friday`` is dateparser's reading, the coming Friday (the same as ``friday``).
* The wall time is then placed in the zone here, not by dateparser: a wall time in a DST gap
  (``2027-03-28 02:30`` in Europe/Berlin) is moved forward by the length of the gap (03:30);
  a wall time that happens twice (``2026-10-25 02:30`` in Europe/Berlin) is the first of the two
  (still on summer time). Either way :attr:`When.note` says so in a sentence.
* Seconds are dropped: a game starts on a whole minute, so ``<t:UNIX>`` shows it exactly.
* A weekday named must be the date's weekday: ``friday 8 dec`` (a Tuesday) is refused, and so is
  dateparser's reading of ``friday the 4th`` (a day in April).
* The result must be after ``now`` (a past time is refused with a suggestion, such as
  ``tomorrow 19:30``) and at most ``MAX_AHEAD_DAYS`` ahead.

dateparser (1.5) alone gets these wrong, which is why the rules above come first: a bare hour
is a month or a year (``friday at 8`` is 25 August, ``32`` is 2032); ``20h`` is twenty hours
from now; ``tonight at 9`` is 15:00; ``04.12.2026`` is 12 April; a weekday named for today is
next week's even when the time is still ahead; ``friday the 4th`` is a day in April; a time of
00:00 reports the period "day"; relative hours are wall-clock arithmetic (wrong across DST);
and with its default zone, "local", it looks up the machine's zone and fails where TZ is odd
(``TIMEZONE`` is set to UTC here: it only does naive wall-clock arithmetic).

The first call through dateparser costs about 0.3 s (its import and English data; later calls
about 1 ms): a process that answers interactions calls :func:`warm_up` once at start-up.

Every refusal is a :class:`WhenError` whose message is a sentence to show the person.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_INPUT = 100
MAX_AHEAD_DAYS = 5 * 366
MIN_DURATION = 1
MAX_DURATION = 7 * 24 * 60


@dataclass(frozen=True)
class When:
    at: datetime  # aware, UTC, whole minute
    zone: ZoneInfo  # the zone the text was read in
    note: str | None  # a sentence for the person when something was resolved (DST), else None


class WhenError(ValueError):
    """A time, duration or zone that cannot be used; ``str(exc)`` is a sentence for a person."""


# --- durations ----------------------------------------------------------------------------

_UNITS: dict[str, int] = {}
for _names, _minutes in (
    (("m", "min", "mins", "minute", "minutes"), 1),
    (("h", "hr", "hrs", "hour", "hours"), 60),
    (("d", "day", "days"), 24 * 60),
    (("w", "wk", "wks", "week", "weeks"), 7 * 24 * 60),
):
    for _name in _names:
        _UNITS[_name] = _minutes

_NUMBER = r"(?:\d+(?:[.,]\d+)?|(?:half\s+)?an?(?=\s))"
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)", re.ASCII)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _normal(text: str) -> str:
    """NFKC (full-width digits and letters read as ASCII), lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _number(text: str) -> float:
    if text in ("a", "an"):
        return 1.0
    if text.startswith("half"):
        return 0.5
    return float(text.replace(",", "."))


def _duration_parts(text: str) -> list[tuple[float, int]] | None:
    """``1h30`` -> [(1, 60), (30, 1)]; None if ``text`` is not a duration with units."""
    parts: list[tuple[float, int]] = []
    pos = 0
    last_unit = 0
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip() not in ("", "and"):
            return None
        unit = _UNITS.get(match.group(2))
        if unit is None:
            return None
        parts.append((_number(match.group(1)), unit))
        last_unit = unit
        pos = match.end()
    rest = text[pos:].strip()
    if rest:
        # "1h30": a trailing bare number counts in the next smaller unit (only after hours)
        if not _digits(rest) or last_unit != 60:
            return None
        parts.append((float(rest), 1))
    return parts or None


def parse_duration(text: str) -> int:
    """Minutes from ``90``, ``90m``, ``1h30``, ``1:30``, ``1.5h``, ``2 hours``,
    ``2 hours 15 minutes``; :class:`WhenError` on anything else or outside 1..10080 (a week)."""
    raw = _normal(text)
    if not raw:
        raise WhenError("the duration is empty — write it in minutes (90) or like 1h30")
    if len(raw) > MAX_INPUT:
        raise WhenError(f"the duration is too long to be one (at most {MAX_INPUT} characters)")
    minutes: float
    if _digits(raw):
        minutes = int(raw)
    elif match := re.fullmatch(r"(\d{1,3}):([0-5]\d)", raw, re.ASCII):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
    elif (parts := _duration_parts(raw)) is not None:
        minutes = sum(n * unit for n, unit in parts)
    else:
        raise WhenError(
            f"I can't read {text.strip()!r} as a duration — "
            "write minutes (90) or like 1h30 or 2 hours"
        )
    if minutes != int(minutes):
        raise WhenError(f"{text.strip()!r} is not a whole number of minutes")
    if not MIN_DURATION <= minutes <= MAX_DURATION:
        raise WhenError(
            f"a game lasts between {MIN_DURATION} minute and {MAX_DURATION // 1440} days "
            f"({MAX_DURATION} minutes); {text.strip()!r} is {int(minutes)} minutes"
        )
    return int(minutes)


MAX_REMINDER = 525_600  # a year, as gamesched.rules
MAX_REMINDERS = 10
_INHERIT = frozenset({"default", "inherit", "reset"})
_NO_REMINDERS = frozenset({"none", "off", "no", "never"})


def parse_reminder_minutes(text: str) -> tuple[int, ...] | None:
    """The ``minutes`` of ``/game remind``: values separated by spaces or commas, each in
    minutes (``60``) or with units (``1h``, ``1h30``, ``2d``, ``1w``), largest first, duplicates
    dropped; ``none``/``off``: no reminders (an empty tuple); ``default``/``inherit``: None
    (use the channel's or the server's). At most 10 values, each 1 minute to a year."""
    raw = _normal(text)
    if not raw:
        raise WhenError("no minutes given — write them like 60 15, or none, or default")
    if len(raw) > MAX_INPUT:
        raise WhenError(f"that is too long (at most {MAX_INPUT} characters)")
    if raw in _INHERIT:
        return None
    if raw in _NO_REMINDERS:
        return ()
    values: set[int] = set()
    for token in re.split(r"[,;\s]+", raw.strip(",; ")):
        if _digits(token):
            minutes: float = int(token)
        elif (parts := _duration_parts(token)) is not None:
            minutes = sum(n * unit for n, unit in parts)
        else:
            raise WhenError(
                f"I can't read {token!r} as minutes before the start — write them like 60 15 "
                "or 1h 15m"
            )
        if minutes != int(minutes) or not 1 <= minutes <= MAX_REMINDER:
            raise WhenError(
                f"{token!r}: a reminder is 1 minute to a year ({MAX_REMINDER} minutes) "
                "before the start, in whole minutes"
            )
        values.add(int(minutes))
    if len(values) > MAX_REMINDERS:
        raise WhenError(f"at most {MAX_REMINDERS} reminders ({len(values)} given)")
    return tuple(sorted(values, reverse=True))


# --- zones ------------------------------------------------------------------------------------

# old links, accepted but not suggested (their modern names are)
_HIDDEN_ZONES = ("SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/")


@functools.cache
def _zones() -> tuple[tuple[str, ...], dict[str, str]]:
    """(names offered in suggestions, lower-cased name -> name for every name accepted).

    Accepted: every Area/Location name and its old links (``US/Eastern``), and ``UTC``. Not
    accepted: the bare legacy names (``EST``, ``CET``, ``EST5EDT``, ``GMT``) and ``Etc/GMT+5``
    (whose sign is the reverse of what people expect): a person picking one of them almost
    always means their city's zone, daylight saving time included."""
    accepted = {
        name
        for name in available_timezones()
        if ("/" in name and not name.startswith(("posix/", "right/", "Etc/"))) or name == "UTC"
    }
    shown = sorted(name for name in accepted if not name.startswith(_HIDDEN_ZONES))
    return tuple(shown), {name.lower(): name for name in accepted}


def _zone_key(text: str) -> str:
    return "_".join(unicodedata.normalize("NFKC", text).split()).lower()[:MAX_INPUT]


def _ranked(key: str) -> tuple[list[str], list[str], list[str]]:
    """Names starting with ``key``, names with a later part starting with it, names
    containing it."""
    first: list[str] = []
    second: list[str] = []
    third: list[str] = []
    for name in _zones()[0]:
        lower = name.lower()
        if lower.startswith(key):
            first.append(name)
        elif any(part.startswith(key) for part in lower.split("/")[1:]):
            second.append(name)
        elif key in lower:
            third.append(name)
    return first, second, third


def zone_suggestions(prefix: str, limit: int = 25) -> list[str]:
    """IANA zone names for autocomplete, at most ``limit``: those whose whole name starts with
    ``prefix`` first (``europe/b``), then those where a part of it does (``berl``,
    ``new york``), then those containing it; case-insensitive, spaces read as ``_``."""
    key = _zone_key(prefix)
    if not key:
        return list(_zones()[0][:limit])
    first, second, third = _ranked(key)
    return (first + second + third)[:limit]


def lookup_zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (an IANA name, any case, spaces for ``_``); :class:`WhenError`
    naming a few close names otherwise."""
    key = _zone_key(name)
    found = _zones()[1].get(key)
    if found is not None:
        try:
            return ZoneInfo(found)
        except (ZoneInfoNotFoundError, ValueError):  # pragma: no cover - listed but unreadable
            pass
    shown = name.strip()[:40]
    first, second, _ = _ranked(key) if key else ([], [], [])
    close = (first + second)[:3]
    if close:
        hint = f" — did you mean {', '.join(close)}?"
    elif key and "/" not in key:
        hint = (
            " — pick the zone of a city near you, like Europe/Berlin or America/New_York "
            "(an abbreviation like CET or EST does not say when daylight saving time applies)"
        )
    else:
        hint = " — pick one from the list, like Europe/Berlin"
    raise WhenError(f"unknown time zone {shown!r}{hint}")


# --- times ------------------------------------------------------------------------------------

_WEEKDAYS = (
    "monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thur|thu|friday|fri|"
    "saturday|sat|sunday|sun"
)
_DAY_WORDS = rf"(?:today|tomorrow|tonight|{_WEEKDAYS})"
_MONTH_WORDS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
_AMPM = r"\s*(?:am|pm|a\.m\.?|p\.m\.?)"
# a lone hour: the whole text, after "at", or after a day word; not followed by a time part
_BARE_HOUR = re.compile(
    rf"(?:^(?=\d{{1,2}}$)|\bat\s+|\b{_DAY_WORDS}\s+)(\d{{1,2}})(?=$|\s)(?!\s*(?:[:.h]\d|{_AMPM}|o'?clock|st\b|nd\b|rd\b|th\b|{_MONTH_WORDS}))",
    re.ASCII,
)
_OFFSET_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:z|[+-]\d{2}:?\d{2})$",
    re.ASCII,
)
_PLAIN_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[t ](\d{1,2}):(\d{2})(?::(\d{2}))?$", re.ASCII
)
_DOTTED_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\b", re.ASCII)
_SLASH_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])", re.ASCII)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_TIME_TOKEN = re.compile(rf"\d(?:[:.h]\d\d|{_AMPM})|\b(?:noon|midnight)\b", re.ASCII)
_BARE_DURATION = re.compile(r"^\d+(?:[.,]\d+)?\s*(?:h|hr|hrs|m|min|mins)$", re.ASCII)


def _year(text: str) -> int:
    return int(text) + 2000 if len(text) == 2 else int(text)


def _rewrite_dates(text: str) -> str:
    """Day-first dotted dates and unambiguous slashed dates into forms dateparser reads one way."""

    def dotted(match: re.Match[str]) -> str:
        day, month, year = int(match.group(1)), int(match.group(2)), _year(match.group(3))
        return f"{year:04d}-{month:02d}-{day:02d}"

    def slashed(match: re.Match[str]) -> str:
        a, b = int(match.group(1)), int(match.group(2))
        if a > 12 and b <= 12:
            day, month = a, b
        elif b > 12 and a <= 12:
            month, day = a, b
        elif a == b:
            day = month = a
        elif a > 12 and b > 12:
            raise WhenError(f"{match.group(0)!r} is not a date — write it like 2026-12-04")
        else:
            raise WhenError(
                f"{match.group(0)!r} could be {a} {_MONTHS[b - 1].title()} or "
                f"{b} {_MONTHS[a - 1].title()} — write the month as a word or the date as "
                "YYYY-MM-DD"
            )
        if not 1 <= month <= 12:
            raise WhenError(f"{match.group(0)!r} is not a date — write it like 2026-12-04")
        if match.group(3):
            return f"{_year(match.group(3)):04d}-{month:02d}-{day:02d}"
        return f"{day} {_MONTHS[month - 1]}"

    return _SLASH_DATE.sub(slashed, _DOTTED_DATE.sub(dotted, text))


def _rewrite_bare_hour(text: str, shown: str) -> str:
    tonight = "tonight" in text
    match = _BARE_HOUR.search(text)
    if match is None:
        return text
    hour = int(match.group(1))
    if hour > 23:
        return text  # not an hour: let the rest decide (a day of the month, a year...)
    head, tail = text[: match.start(1)], text[match.end(1) :]
    if hour == 0 or hour > 12:
        return f"{head}{hour:02d}:00{tail}"
    if tonight and hour != 12:
        return f"{head}{hour + 12:02d}:00{tail}"
    if hour == 12:
        noon = f"{shown[: match.start(1)]}12:00{shown[match.end(1) :]}".strip()
        midnight = f"{shown[: match.start(1)]}0:00{shown[match.end(1) :]}".strip()
        raise WhenError(f"{shown!r}: noon or midnight? Write {noon!r} or {midnight!r}")
    morning = f"{shown[: match.start(1)]}{hour}am{shown[match.end(1) :]}".strip()
    evening = f"{shown[: match.start(1)]}{hour}pm{shown[match.end(1) :]}".strip()
    raise WhenError(
        f"{shown!r}: {hour} in the morning or the evening? Write {morning!r} or {evening!r}"
    )


def _describe(wall: datetime, zone: ZoneInfo) -> str:
    local = wall.replace(tzinfo=zone)
    return f"{local:%a %d %b %Y %H:%M} {_zone_name(zone)}"


def _zone_name(zone: ZoneInfo) -> str:
    return zone.key if zone.key else str(zone)


def localize(wall: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """The UTC instant of the naive wall time ``wall`` in ``zone``, and a note when the wall time
    is in a DST gap (moved forward by the gap) or a fold (the first occurrence)."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    at = first.astimezone(UTC)
    back = at.astimezone(zone).replace(tzinfo=None)
    if back != wall:
        # in a gap, fold=0 uses the offset from before the change: that is the wall time
        # shifted forward by the length of the gap
        moved = at.astimezone(zone)
        gap = back - wall
        minutes = int(gap.total_seconds() // 60)
        return at, (
            f"{wall:%H:%M} does not exist on {wall:%a %d %b %Y} in {_zone_name(zone)} "
            f"(the clocks skip {_length(minutes)} for daylight saving time), so I used "
            f"{moved:%H:%M} {moved.tzname()}, {_length(minutes)} later."
        )
    if first.utcoffset() != second.utcoffset():
        later = second.astimezone(UTC).astimezone(zone)
        return at, (
            f"{wall:%H:%M} happens twice on {wall:%a %d %b %Y} in {_zone_name(zone)} "
            f"(the clocks go back for the end of daylight saving time); I used the first, "
            f"{first:%H:%M} {first.tzname()} (UTC{_offset(first)}), not the second one "
            f"in {later.tzname()} (UTC{_offset(later)})."
        )
    return at, None


def _length(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _offset(value: datetime) -> str:
    offset = value.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    total = int(abs(offset).total_seconds() // 60)
    return f"{sign}{total // 60:02d}:{total % 60:02d}"


def _past_hint(wall: datetime, now_wall: datetime, zone: ZoneInfo, now: datetime) -> str:
    """' — did you mean tomorrow 19:30?' for a wall time earlier than now: the next day for a
    time today or yesterday, the same weekday a week on for a date earlier in the week."""
    if wall.date() < now_wall.date() - timedelta(days=7):
        return " — pick a time in the future"
    step = timedelta(days=1 if wall.date() >= now_wall.date() - timedelta(days=1) else 7)
    candidate = wall + step
    while localize(candidate, zone)[0] <= now:
        candidate += step
    if candidate.date() == now_wall.date():
        words = "today"
    elif candidate.date() == now_wall.date() + timedelta(days=1):
        words = "tomorrow"
    else:
        words = f"{candidate:%Y-%m-%d}"
    return f" — did you mean {words} {candidate:%H:%M}?"


def _finish(at: datetime, zone: ZoneInfo, now: datetime, note: str | None, shown: str) -> When:
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    if at > now + timedelta(days=MAX_AHEAD_DAYS):
        raise WhenError(
            f"{shown!r} is more than {MAX_AHEAD_DAYS // 366} years away — is the year right?"
        )
    if at <= now:
        wall = at.astimezone(zone).replace(tzinfo=None)
        now_wall = now.astimezone(zone).replace(tzinfo=None)
        raise WhenError(
            f"that time ({_describe(wall, zone)}) has already passed"
            + _past_hint(wall, now_wall, zone, now)
        )
    return When(at=at, zone=zone, note=note)


def _relative(rest: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    parts = _duration_parts(rest)
    if parts is None:
        if re.fullmatch(r"\d+(?:[.,]\d+)?", rest, re.ASCII):
            raise WhenError(f"in {rest} what? Write it like 'in {rest}h' or 'in {rest} minutes'")
        return None
    minutes = sum(n * unit for n, unit in parts if unit < 24 * 60)
    days = sum(n * unit for n, unit in parts if unit >= 24 * 60) / (24 * 60)
    if days != int(days):
        # "in 1.5 days": wall-clock days must be whole; count it in hours instead
        minutes += days * 24 * 60
        days = 0
    if minutes + days * 24 * 60 > MAX_AHEAD_DAYS * 24 * 60:
        raise WhenError(f"'in {rest}' is more than {MAX_AHEAD_DAYS // 366} years away")
    at = now
    if days:
        wall = now.astimezone(zone).replace(tzinfo=None) + timedelta(days=int(days))
        at, _ = localize(wall, zone)
    return at + timedelta(minutes=minutes)


def _dateparser(text: str, now_wall: datetime) -> tuple[datetime | None, str | None]:
    from dateparser.date import DateDataParser

    parser = DateDataParser(
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now_wall,
            "RETURN_TIME_AS_PERIOD": True,
            # naive wall-clock arithmetic, and no look-up of the machine's zone (dateparser's
            # default, "local", fails, with a FutureWarning, where TZ is unset or odd); a zone
            # written in the text still comes back aware (converted to UTC)
            "TIMEZONE": "UTC",
            "STRICT_PARSING": False,
        },
    )
    data = parser.get_date_data(text)
    return data.date_obj, data.period


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> When:
    """The instant ``text`` means for a person in ``zone`` at ``now`` (aware); see the module
    docstring for the rules. :class:`WhenError` with a sentence for the person otherwise."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    try:
        return _parse_when(text, zone, now)
    except OverflowError:  # pragma: no cover - _in_range keeps dates far from year 1 and 9999
        raise WhenError("that date is out of range — pick a time in the next few years") from None


def _in_range(wall: datetime, now_wall: datetime, shown: str) -> None:
    """Refuse dates far in the past or future before they are placed in a zone (near year 1 or
    9999 that overflows)."""
    if wall.year > now_wall.year + MAX_AHEAD_DAYS // 366 + 1:
        raise WhenError(
            f"{shown!r} is more than {MAX_AHEAD_DAYS // 366} years away — is the year right?"
        )
    if wall < now_wall - timedelta(days=8):
        raise WhenError(
            f"that time ({wall:%a %d %b %Y %H:%M}) has already passed — pick a time in the future"
        )


_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_INDEX = {
    name: index
    for index, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tues", "tue"),
            ("wednesday", "wed"),
            ("thursday", "thurs", "thur", "thu"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}


def _parse_when(text: str, zone: ZoneInfo, now: datetime) -> When:
    shown = " ".join(unicodedata.normalize("NFKC", text).split())
    if not shown:
        raise WhenError("the time is empty — write it like 'fri 20:00' or 'tomorrow 19:30'")
    if len(shown) > MAX_INPUT:
        raise WhenError(
            f"that is too long for a time (at most {MAX_INPUT} characters) — "
            "write it like 'fri 20:00' or '2026-12-04 20:00'"
        )
    now = now.astimezone(UTC)
    raw = shown.lower()
    now_wall = now.astimezone(zone).replace(tzinfo=None)

    if _OFFSET_ISO.match(raw):
        try:
            explicit = datetime.fromisoformat(raw.upper().replace(" ", "T", 1).replace(" ", ""))
        except ValueError:
            raise WhenError(f"{shown!r} is not a valid date and time") from None
        _in_range(explicit.replace(tzinfo=None), now.replace(tzinfo=None), shown)
        return _finish(explicit, zone, now, None, shown)

    if match := _PLAIN_ISO.match(raw):
        year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
        try:
            wall = datetime.combine(date(year, month, day), dtime(hour, minute))
        except ValueError:
            raise WhenError(f"{shown!r} is not a valid date and time") from None
        _in_range(wall, now_wall, shown)
        at, note = localize(wall, zone)
        return _finish(at, zone, now, note, shown)

    if match := re.fullmatch(r"in\s+(.+)", raw):
        relative = _relative(match.group(1), zone, now)
        if relative is not None:
            return _finish(relative, zone, now, None, shown)
    if _BARE_DURATION.match(raw):
        raise WhenError(
            f"{shown!r}: did you mean 'in {shown}'? For a time of day write it like 20:00"
        )

    rewritten = _rewrite_bare_hour(_rewrite_dates(raw), shown)
    rewritten = re.sub(r"\btonight\b", "today", rewritten)
    parsed, period = _dateparser(rewritten, now_wall)
    if parsed is not None and parsed.tzinfo is not None:
        # a zone in the text ("8pm EST"): dateparser took the base for UTC; pick the day again
        # from the real now
        parsed, period = _dateparser(rewritten, now.replace(tzinfo=None))
    if parsed is None or (period != "time" and raw.startswith("in ")) or _digits(rewritten):
        raise WhenError(
            f"I can't read {shown!r} as a time — try 'fri 20:00', 'tomorrow 7:30pm', 'in 2h' "
            "or '2026-12-04 20:00'"
        )
    if period != "time" and not raw.startswith("in ") and not _TIME_TOKEN.search(rewritten):
        # (dateparser gives the period "day" for a time of 00:00: the text says whether a time
        # was written)
        raise WhenError(f"{shown!r} has no time of day — add one, like '{shown} 20:00'")
    _in_range(parsed.replace(tzinfo=None), now_wall, shown)
    named = {_WEEKDAY_INDEX[w] for w in re.findall(rf"\b(?:{_WEEKDAYS})\b", raw)}
    if len(named) == 1 and parsed.weekday() not in named:
        # dateparser can read "friday the 4th" as some day of April: say so, never guess
        raise WhenError(
            f"{shown!r}: {parsed:%a %d %b %Y} is not a {_WEEKDAY_NAMES[named.pop()]} — "
            "check the day, or write just the date, like 'dec 4 20:00'"
        )
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return _finish(parsed, zone, now, None, shown)  # an explicit zone in the text wins
    wall = parsed.replace(second=0, microsecond=0)
    if (
        wall.date() == now_wall.date() + timedelta(days=7)
        and re.search(rf"\b(?:{_WEEKDAYS})\b", raw)
        and not re.search(r"\bnext\b", raw)
        and localize(wall - timedelta(days=7), zone)[0] > now
    ):
        # dateparser reads today's weekday as next week's even when the time is still ahead
        # today ("wednesday 16:00" on a Wednesday at 15:00): a person means today
        wall -= timedelta(days=7)
    at, note = localize(wall, zone)
    return _finish(at, zone, now, note, shown)


def warm_up() -> None:
    """Load dateparser and its English data now rather than in the first interaction."""
    parse_when("fri 8pm", ZoneInfo("UTC"), datetime(2000, 1, 3, tzinfo=UTC))


def discord_timestamp(at: datetime, style: str = "F") -> str:
    """``<t:UNIX:F>``: Discord shows it to every reader in their own zone."""
    return f"<t:{int(at.timestamp())}:{style}>"
