"""The bot's Discord operations over REST with hikari (no gateway).

hikari's ``RESTApp`` takes the API's base URL as a constructor argument, so tests point it at a
local fake Discord through ``DISCORD_API_BASE``; it honours Discord's per-route buckets and
429 ``retry_after`` itself. What it does not do is keep the bot under Discord's *global* limit
(50 requests/s per bot) before Discord complains, and too many 429s get an IP banned: every
request here first takes a slot of an ``aiolimiter`` leaky bucket set a little below the limit.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiolimiter
import hikari
from prometheus_client import Counter

from gamesched import errors
from gamesched.bot import discord, plan

log = logging.getLogger(__name__)

T = TypeVar("T")

GLOBAL_RATE = 48.0  # requests per second, evenly spaced: Discord allows 50 per bot
MAX_RATE_LIMIT_WAIT = 30.0  # a longer 429 wait is a transient failure: the transport retries
MAX_RETRIES = 1  # hikari retries 5xx and dropped connections once; then the transport retries
UNKNOWN_MESSAGE, UNKNOWN_CHANNEL, CANNOT_DM = 10008, 10003, 50007
DM_CHANNEL_CACHE = 10_000  # user id -> DM channel id: saves a request per DM


def _components(rest: hikari.api.RESTClient, a: plan.Announcement) -> list[Any]:
    row = rest.build_message_action_row()
    for b in a.buttons:
        row.add_interactive_button(
            hikari.ButtonStyle.SUCCESS if b.style == "success" else hikari.ButtonStyle.DANGER,
            b.custom_id,
            label=b.label,
            is_disabled=b.disabled,
        )
    return [row]


def _embed(a: plan.Announcement) -> hikari.Embed:
    embed = hikari.Embed(title=a.title, description=a.description or None, colour=a.colour)
    for f in a.fields:
        embed.add_field(f.name, f.value, inline=f.inline)
    return embed


class HikariDiscord:
    """``discord.Discord`` on Discord's REST API."""

    def __init__(
        self,
        token: str,
        *,
        api_base: str,
        requests: Counter | None = None,
        rate: float = GLOBAL_RATE,
    ) -> None:
        self._app = hikari.RESTApp(
            url=api_base,
            max_rate_limit=MAX_RATE_LIMIT_WAIT,
            max_retries=MAX_RETRIES,
            # keep connections alive between requests (hikari closes each one by default)
            http_settings=hikari.impl.HTTPSettings(force_close_transports=False),
        )
        self._token = token
        self._rest: hikari.impl.RESTClientImpl | None = None
        # one request every 1/rate s, no bursts: a bucket of capacity 1 (a larger one lets a
        # burst of twice the rate through in its first second)
        self._limiter = aiolimiter.AsyncLimiter(1, 1.0 / rate)
        self._dm_channels: OrderedDict[str, int] = OrderedDict()
        self._requests = requests
        self.api_base = api_base

    def __repr__(self) -> str:
        return f"<HikariDiscord {self.api_base} started={self._rest is not None}>"

    async def start(self) -> None:
        await self._app.start()
        self._rest = self._app.acquire(self._token, hikari.TokenType.BOT)
        self._rest.start()

    async def close(self) -> None:
        if self._rest is not None:
            await self._rest.close()
            self._rest = None
        await self._app.close()

    async def check_token(self) -> None:
        """ConfigError if Discord refuses the token (401); an unreachable Discord is only
        logged: it is a fault the bot rides out, not a configuration error."""
        try:
            await self._call(self.rest.fetch_my_user)
        except discord.Transient as exc:
            log.warning(
                "Discord at %s did not answer at start-up (%s): going on",
                self.api_base,
                exc,
                extra={"action": "discord_unreachable"},
            )
        except discord.DiscordError as exc:
            if exc.status in (401, 403):
                raise errors.ConfigError(
                    f"Discord at {self.api_base} refused DISCORD_TOKEN ({exc}): check the bot token"
                ) from exc
            raise errors.ConfigError(f"Discord at {self.api_base}: {exc}") from exc

    @property
    def rest(self) -> hikari.impl.RESTClientImpl:
        if self._rest is None:
            raise RuntimeError("HikariDiscord used before start()")
        return self._rest

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        """One request: paced, counted, and its errors sorted for the handler."""
        async with self._limiter:
            try:
                result = await call()
            except hikari.HTTPResponseError as exc:
                self._count(str(int(exc.status)))
                raise _sorted(exc) from exc
            except hikari.RateLimitTooLongError as exc:
                self._count("rate_limited")
                raise discord.Transient(f"rate limited for {exc.retry_after:.0f} s") from exc
            except (hikari.HTTPError, OSError, TimeoutError) as exc:
                self._count("network")
                raise discord.Transient(f"{type(exc).__name__}: {exc}") from exc
        self._count("2xx")
        return result

    def _count(self, status: str) -> None:
        if self._requests is not None:
            self._requests.labels(status).inc()

    async def post(self, channel_id: str, announcement: plan.Announcement) -> str:
        message = await self._call(
            lambda: self.rest.create_message(
                int(channel_id),
                embed=_embed(announcement),
                components=_components(self.rest, announcement),
                user_mentions=False,
                role_mentions=False,
            )
        )
        return str(int(message.id))

    async def edit(self, channel_id: str, message_id: str, announcement: plan.Announcement) -> None:
        await self._call(
            lambda: self.rest.edit_message(
                int(channel_id),
                int(message_id),
                embed=_embed(announcement),
                components=_components(self.rest, announcement),
                user_mentions=False,
                role_mentions=False,
            )
        )

    async def delete(self, channel_id: str, message_id: str) -> None:
        with contextlib.suppress(discord.MessageGone):  # already gone: what we wanted
            await self._call(lambda: self.rest.delete_message(int(channel_id), int(message_id)))

    async def dm(self, user_id: str, content: str, nonce: str) -> None:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            dm_channel = await self._call(lambda: self.rest.create_dm_channel(int(user_id)))
            channel = int(dm_channel.id)
            self._dm_channels[user_id] = channel
            if len(self._dm_channels) > DM_CHANNEL_CACHE:
                self._dm_channels.popitem(last=False)
        else:
            self._dm_channels.move_to_end(user_id)
        # a nonce makes hikari send enforce_nonce: Discord answers a resend with the first message
        await self._call(
            lambda: self.rest.create_message(
                channel, content, nonce=nonce, user_mentions=False, role_mentions=False
            )
        )


def _sorted(exc: hikari.HTTPResponseError) -> discord.DiscordError:
    status, code = int(exc.status), int(getattr(exc, "code", 0) or 0)
    message = f"{status} {exc.message or ''}".strip()
    if code == CANNOT_DM or (status == 403 and "Cannot send messages" in (exc.message or "")):
        return discord.DmClosed(message, status=status, code=code)
    if status == 404 or code in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):
        return discord.MessageGone(message, status=status, code=code)
    if status >= 500 or status == 429:
        return discord.Transient(message, status=status, code=code)
    return discord.DiscordError(message, status=status, code=code)
