"""Asking Discord which guild a channel belongs to, with hikari's REST-only client.

Used before a channel is registered, so a guild cannot claim another guild's channel. Only
called when ``DISCORD_TOKEN`` is set (a dry-run install has nobody to ask). ``DISCORD_API_BASE``
is hikari's ``url``, so tests point it at a local fake Discord.

hikari is imported inside the function: it costs about half a second of import time, which an
API without a Discord token (and every CLI command) should not pay.
"""

from __future__ import annotations

import asyncio

from gamesched import errors

#: One bounded attempt: no retries, no waiting out a rate limit longer than this.
TIMEOUT_SECONDS = 10.0


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
    import aiohttp
    import hikari
    from hikari.impl import config

    app = hikari.RESTApp(
        url=api_base,
        max_retries=0,
        max_rate_limit=timeout,
        http_settings=config.HTTPSettings(timeouts=config.HTTPTimeoutSettings(total=timeout)),
    )
    try:
        async with asyncio.timeout(timeout):
            await app.start()
            try:
                async with app.acquire(token, hikari.TokenType.BOT) as rest:
                    channel = await rest.fetch_channel(hikari.Snowflake(int(channel_id)))
            finally:
                await app.close()
    except (hikari.NotFoundError, hikari.ForbiddenError):
        return None
    except (
        hikari.HikariError,
        aiohttp.ClientError,
        OSError,
        TimeoutError,
        KeyError,
        ValueError,
    ) as exc:
        # HikariError: HTTP failures (hikari wraps connection errors and timeouts into
        # HTTPError) and entities it cannot read; KeyError/ValueError: a 2xx answer without the
        # fields of a channel.
        raise DiscordUnavailable(
            f"could not ask Discord about channel {channel_id} ({type(exc).__name__})"
        ) from exc
    if isinstance(channel, hikari.GuildChannel):
        return str(channel.guild_id)
    return None
