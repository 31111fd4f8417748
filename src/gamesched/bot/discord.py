"""The bot's Discord edge: the few REST operations it needs, and a dry-run stand-in.

``Discord`` is what the handler calls; ``DryRun`` logs one readable line per call and records
it (``DISCORD_TOKEN`` unset); ``gamesched.bot.hikari_rest`` talks to Discord's REST API. Errors
are sorted here into what the handler must tell apart: a message that is gone, DMs that are
closed, and failures worth retrying.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from gamesched.bot import plan

log = logging.getLogger(__name__)


class DiscordError(Exception):
    """Discord refused or failed a request."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class Transient(DiscordError):
    """Worth retrying later: a 5xx, a network error, a rate limit longer than we wait."""


class MessageGone(DiscordError):
    """The message (or channel) no longer exists (404, codes 10003 / 10008)."""


class DmClosed(DiscordError):
    """The user does not accept DMs from the bot (403, code 50007)."""


class Discord(Protocol):
    async def post(self, channel_id: str, announcement: plan.Announcement) -> str:
        """Post the announcement; return its message id."""
        ...

    async def edit(self, channel_id: str, message_id: str, announcement: plan.Announcement) -> None:
        """Edit it in place; ``MessageGone`` if it was deleted."""
        ...

    async def delete(self, channel_id: str, message_id: str) -> None:
        """Delete it; a message already gone is not an error."""
        ...

    async def dm(self, user_id: str, content: str, nonce: str) -> None:
        """DM a user; ``DmClosed`` if they do not accept DMs."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Sent:
    """One call the dry run would have made."""

    action: str  # post | edit | delete | dm
    target: str  # channel or user id
    message_id: str | None
    text: str


@dataclass
class DryRun:
    """Discord without Discord: logs what would be sent, one line each, and keeps it in
    ``sent``. Message ids it hands out are made up (``dry-1``, ``dry-2``, ...)."""

    sent: list[Sent] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __repr__(self) -> str:
        return f"<DryRun sent={len(self.sent)}>"

    def _record(self, sent: Sent) -> None:
        self.sent.append(sent)
        where = {
            "post": f"post in channel {sent.target} (message {sent.message_id})",
            "edit": f"edit message {sent.message_id} in channel {sent.target}",
            "delete": f"delete message {sent.message_id} in channel {sent.target}",
            "dm": f"DM user {sent.target}",
        }[sent.action]
        extra: dict[str, object] = {"action": f"dry_{sent.action}"}
        if sent.message_id:
            extra["discord_message_id"] = sent.message_id
        log.info("dry-run: would %s: %s", where, sent.text, extra=extra)

    async def post(self, channel_id: str, announcement: plan.Announcement) -> str:
        message_id = f"{next(self._ids)}"
        self._record(Sent("post", channel_id, message_id, summary(announcement)))
        return message_id

    async def edit(self, channel_id: str, message_id: str, announcement: plan.Announcement) -> None:
        self._record(Sent("edit", channel_id, message_id, summary(announcement)))

    async def delete(self, channel_id: str, message_id: str) -> None:
        self._record(Sent("delete", channel_id, message_id, "announcement"))

    async def dm(self, user_id: str, content: str, nonce: str) -> None:
        self._record(Sent("dm", user_id, None, readable(content)))

    async def close(self) -> None:
        return None


def summary(announcement: plan.Announcement) -> str:
    """One line for a log: title, status, start, players and waitlist, e.g.
    ``'Catan' [Scheduled] starts 2030-06-01 17:30 UTC (in 3 days); players (2/4): @1, @2``."""
    fields = {f.name.split(" (")[0]: f for f in announcement.fields}
    parts = [f"{announcement.title!r} [{fields['Status'].value if 'Status' in fields else '?'}]"]
    if "When" in fields:
        parts.append(f"starts {readable(fields['When'].value)}")
    out = " ".join(parts)
    for name in ("Players", "Waitlist"):
        if name in fields:
            label = fields[name].name.replace("Players", "players").replace("Waitlist", "waitlist")
            out += f"; {label}: {readable(fields[name].value)}"
    return out


_TIMESTAMP = re.compile(r"<t:(-?\d+):([tTdDfFR])>")
_MENTION = re.compile(r"<@!?(\d+)>")
_NUMBERED = re.compile(r"(?:^|\n)\d+\. ")


def readable(text: str, now: datetime | None = None) -> str:
    """Discord markup as one plain line: ``<t:UNIX:F>`` as a UTC time, ``<t:UNIX:R>`` as
    "in 3 min" / "3 min ago", ``<@id>`` as ``@id``, no ``**bold**``, no line breaks."""
    now = now or datetime.now(UTC)

    def stamp(found: re.Match[str]) -> str:
        when = datetime.fromtimestamp(int(found[1]), UTC)
        if found[2] != "R":
            return f"{when:%Y-%m-%d %H:%M:%S} UTC"
        return relative(when, now)

    text = _TIMESTAMP.sub(stamp, text)
    text = _MENTION.sub(r"@\1", text)
    text = _NUMBERED.sub(", ", text).lstrip(", ")
    return " ".join(text.replace("**", "").split())


def relative(when: datetime, now: datetime) -> str:
    """``in 3 min``, ``in 2 h``, ``5 s ago``: the largest unit that fits, rounded (a reminder
    handled a moment after "2 minutes before" still says "in 2 min")."""
    seconds = (when - now).total_seconds()
    size = abs(seconds)
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if size >= length - 1:
            amount = f"{round(size / length)} {unit}"
            break
    else:
        amount = f"{round(size)} s"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"
