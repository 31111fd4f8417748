"""Asking Discord which guild a channel belongs to, with hikari's REST-only client.

Used before a channel is registered, so a guild cannot claim another guild's channel. Only
called when ``DISCORD_TOKEN`` is set (a dry-run install has nobody to ask). ``DISCORD_API_BASE``
is hikari's ``url``, so tests point it at a local fake Discord.

hikari is imported inside the function: it costs about half a second of import time, which an
API without a Discord token (and every CLI command) should not pay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from gamesched import errors

if TYPE_CHECKING:
    from hikari.api import RESTClient

#: One bounded attempt: no retries, no waiting out a rate limit longer than this.
TIMEOUT_SECONDS = 10.0


@contextlib.asynccontextmanager
async def one_shot(
    api_base: str, token: str | None, *, timeout: float, max_retries: int = 0
) -> AsyncIterator[RESTClient]:
    """A hikari REST client for one bounded exchange, started and closed around it: everything
    inside (start, the calls, close) must be done within ``timeout`` seconds, and no rate limit
    longer than that is waited out. ``token`` None: a client without authorisation (interaction
    webhooks are authorised by their own token). Failures are :func:`rest_failures`."""
    import hikari
    from hikari.impl import config

    app = hikari.RESTApp(
        url=api_base,
        max_retries=max_retries,
        max_rate_limit=timeout,
        http_settings=config.HTTPSettings(timeouts=config.HTTPTimeoutSettings(total=timeout)),
    )
    async with asyncio.timeout(timeout):
        await app.start()
        try:
            if token is None:
                async with app.acquire(None) as rest:
                    yield rest
            else:
                async with app.acquire(token, hikari.TokenType.BOT) as rest:
                    yield rest
        finally:
            await app.close()


def rest_failures() -> tuple[type[BaseException], ...]:
    """What a :func:`one_shot` exchange fails with: hikari's HTTP failures (it wraps connection
    errors and timeouts into HTTPError) and entities it cannot read, the client's own and
    network errors, the deadline, and KeyError/ValueError for a 2xx answer without the fields
    expected."""
    import aiohttp
    import hikari

    return (hikari.HikariError, aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError)


class DiscordUnavailable(errors.GameschedError):
    """Discord could not be asked; try again shortly."""


async def channel_guild_id(
    *, api_base: str, token: str, channel_id: str, timeout: float = TIMEOUT_SECONDS
) -> str | None:
    """The id of the guild that owns channel ``channel_id``, as a string.

    None when Discord says there is no such channel, or the bot may not see it, or it belongs
    to no guild (a DM). Raises :class:`DiscordUnavailable` when Discord cannot be reached,
    fails (5xx), refuses the bot token, rate-limits us, answers something we cannot read, or
    does not answer within ``timeout`` seconds.
    """
    import hikari

    try:
        async with one_shot(api_base, token, timeout=timeout) as rest:
            channel = await rest.fetch_channel(hikari.Snowflake(int(channel_id)))
    except (hikari.NotFoundError, hikari.ForbiddenError):
        return None
    except rest_failures() as exc:
        raise DiscordUnavailable(
            f"could not ask Discord about channel {channel_id} ({type(exc).__name__})"
        ) from exc
    if isinstance(channel, hikari.GuildChannel):
        return str(channel.guild_id)
    return None
