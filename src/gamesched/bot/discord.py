"""The bot's Discord edge: the few REST operations it needs, and a dry-run stand-in.

``Discord`` is what the handler calls; ``DryRun`` logs one readable line per call and records
it (``DISCORD_TOKEN`` unset); ``gamesched.bot.hikari_rest`` talks to Discord's REST API. Errors
are sorted here into what the handler must tell apart: a message that is gone, DMs that are
closed, and failures worth retrying.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
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
        log.info(
            "dry-run: would %s %s%s: %s",
            sent.action,
            sent.target,
            f" message {sent.message_id}" if sent.message_id else "",
            sent.text,
            extra={"action": f"dry_{sent.action}", "discord_message_id": sent.message_id},
        )

    async def post(self, channel_id: str, announcement: plan.Announcement) -> str:
        message_id = f"{next(self._ids)}"
        self._record(Sent("post", channel_id, message_id, summary(announcement)))
        return message_id

    async def edit(self, channel_id: str, message_id: str, announcement: plan.Announcement) -> None:
        self._record(Sent("edit", channel_id, message_id, summary(announcement)))

    async def delete(self, channel_id: str, message_id: str) -> None:
        self._record(Sent("delete", channel_id, message_id, "announcement"))

    async def dm(self, user_id: str, content: str, nonce: str) -> None:
        self._record(Sent("dm", user_id, None, " ".join(content.split())))

    async def close(self) -> None:
        return None


def summary(announcement: plan.Announcement) -> str:
    """One line for a log: title, status and seats."""
    fields = {f.name.split(" (")[0]: f.value for f in announcement.fields}
    players = next((f.name for f in announcement.fields if f.name.startswith("Players")), "")
    return f"{announcement.title!r} [{fields.get('Status', '?')}] {players}".strip()
