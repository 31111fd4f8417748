"""A local fake of the slice of Discord's REST API that gamesched uses, for tests, benchmarks
and demos: point ``DISCORD_API_BASE`` at ``FakeDiscord.base_url``.

It records every request, keeps the messages it was sent and the application commands
registered (bulk overwrites, global and per guild), and can misbehave on demand the way
Discord does: 429 with ``retry_after``, 403 with code 50007 (the user's DMs are closed), 404 with
code 10008 (the message was deleted), 5xx, and a global rate limit; or fail every request, or
never answer. Messages sent with a ``nonce`` and ``enforce_nonce`` are deduplicated as Discord
does.

``GET /channels/{id}`` answers for the guild text channels in ``guild_of_channel`` and the DM
channels in ``dm_channels``, and 404 (code 10003) for any other id.

In async code: ``await fake.start()`` ... ``await fake.stop()``. A synchronous test whose code
under test waits on the fake (a TestClient request to an API that asks Discord) serves it from a
thread of its own: ``with FakeDiscord().in_thread() as fake: ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SNOWFLAKE_START = 1_300_000_000_000_000_000
BOT_ID = "1"
APPLICATION_ID = "2"


def _user(user_id: str) -> dict[str, Any]:
    """A user object with every field a client library may insist on."""
    return {
        "id": user_id,
        "username": f"user{user_id}",
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "bot": user_id == BOT_ID,
        "public_flags": 0,
        "flags": 0,
    }


def _application() -> dict[str, Any]:
    """The bot's application, with every field hikari reads."""
    return {
        "id": APPLICATION_ID,
        "name": "gamesched",
        "description": "",
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": _user("3"),
        "verify_key": "00" * 32,
        "flags": 0,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
    }


def _text_channel(channel_id: str, guild_id: str) -> dict[str, Any]:
    """A guild text channel with every field hikari reads."""
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": "games",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "last_pin_timestamp": None,
        "flags": 0,
    }


def _dm_channel(channel_id: str, user_id: str) -> dict[str, Any]:
    """A DM channel with the bot's recipient."""
    return {"id": channel_id, "type": 1, "last_message_id": None, "recipients": [_user(user_id)]}


def _numbered(components: list[Any]) -> list[Any]:
    """Discord numbers every component in what it returns (clients may require the ids)."""
    counter = itertools.count(1)

    def walk(c: Any) -> Any:
        if not isinstance(c, dict):
            return c
        out = {**c, "id": next(counter)}
        if isinstance(c.get("components"), list):
            out["components"] = [walk(x) for x in c["components"]]
        return out

    return [walk(c) for c in components]


@dataclass(frozen=True, slots=True)
class Request:
    at: float  # time.monotonic()
    method: str
    path: str  # without the API prefix, e.g. /channels/20/messages
    body: Any
    status: int
    authorization: str | None


@dataclass
class Message:
    id: str
    channel_id: str
    content: str
    embeds: list[Any]
    components: list[Any]
    nonce: str | None


@dataclass
class FakeDiscord:
    """``await fake.start()``; ``fake.base_url``; ``await fake.stop()``."""

    prefix: str = "/api/v10"
    closed_dms: set[str] = field(default_factory=set)  # user ids whose DMs answer 403/50007
    guild_of_channel: dict[str, str] = field(default_factory=dict)  # for GET /channels/{id}
    global_rate: float | None = None  # requests/s; above it: 429 global
    # scripted failures: (method, path) -> statuses to answer next (429 carries retry_after)
    fail_next: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    retry_after: float = 0.2
    # every request answers this status with a bare error body (a 429 without retry_after, as
    # a proxy or Cloudflare sends it, which clients do not wait out)
    fail_with: int | None = None
    hang: bool = False  # requests get no answer until the fake stops (for timeouts)
    requests: list[Request] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    dm_channels: dict[str, str] = field(default_factory=dict)  # user -> channel
    # interaction token -> the original response as last edited through the webhook route
    interaction_responses: dict[str, Message] = field(default_factory=dict)
    # registered application commands: guild id (None: global) -> the commands as returned
    commands: dict[str | None, list[dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(SNOWFLAKE_START))
    _window: deque[float] = field(default_factory=deque)
    _nonces: dict[tuple[str, str], str] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    base_url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._stopping.clear()
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", self.prefix + "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sock = server.sockets[0]  # type: ignore[attr-defined]
        self.base_url = f"http://{host}:{sock.getsockname()[1]}{self.prefix}"
        return self.base_url

    @contextlib.contextmanager
    def in_thread(self, timeout: float = 10.0) -> Iterator[FakeDiscord]:
        """Serve from an event loop in a thread of its own while the block runs: for
        synchronous tests, and async ones whose loop blocks on the code under test."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-discord", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()

    async def stop(self) -> None:
        self._stopping.set()  # answer hung requests first, so the server can stop at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what tests read ---------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str = "", status: int | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method == method
            and r.path.startswith(path_prefix)
            and (status is None or r.status == status)
        ]

    def dms_to(self, user_id: str) -> list[Message]:
        channel = self.dm_channels.get(user_id)
        return [m for m in self.messages.values() if channel and m.channel_id == channel]

    def count(self, status: int) -> int:
        return sum(1 for r in self.requests if r.status == status)

    # -- the API -----------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(next(self._ids))

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        if self.hang:
            await self._stopping.wait()
        status, payload, headers = self._answer(request.method, path, body)
        self.requests.append(
            Request(
                time.monotonic(),
                request.method,
                path,
                body,
                status,
                request.headers.get("Authorization"),
            )
        )
        self.arrived.set()
        if status == 204:
            return web.Response(status=204, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _error(self, status: int, code: int, message: str) -> tuple[int, Any, dict[str, str]]:
        return status, {"code": code, "message": message}, {}

    def _answer(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if self.fail_with is not None:
            return self._error(self.fail_with, 0, f"fake failure {self.fail_with}")
        limited = self._global_limit()
        if limited is not None:
            return limited
        scripted = self.fail_next.get((method, path))
        if scripted:
            status = scripted.pop(0)
            if status == 429:
                return self._rate_limited(global_=False)
            return self._error(status, 0, f"scripted {status}")
        parts = path.strip("/").split("/")
        if parts == ["users", "@me"] and method == "GET":
            me = {"mfa_enabled": False, "locale": "en-US", "verified": True, "premium_type": 0}
            return 200, {**_user(BOT_ID), **me}, {}
        if parts == ["users", "@me", "channels"] and method == "POST":
            return self._dm_channel(str((body or {}).get("recipient_id", "")))
        if parts == ["oauth2", "applications", "@me"] and method == "GET":
            return 200, _application(), {}
        if parts[:1] == ["applications"] and parts[-1:] == ["commands"]:
            return self._commands(method, parts, body)
        if parts[:1] == ["channels"] and len(parts) == 2 and method == "GET":
            return self._channel(parts[1])
        if parts[:1] == ["webhooks"] and parts[3:] == ["messages", "@original"]:
            return self._original_response(method, parts[2], body)
        if parts[:1] == ["channels"] and len(parts) >= 3 and parts[2] == "messages":
            return self._messages(method, parts[1], parts[3] if len(parts) > 3 else None, body)
        return self._error(404, 0, f"fake Discord has no {method} {path}")

    def _commands(
        self, method: str, parts: list[str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """GET/PUT /applications/{id}/commands and /applications/{id}/guilds/{gid}/commands
        (a PUT is a bulk overwrite: it replaces the whole list, keeping the ids of the names
        that stay)."""
        if len(parts) == 3:
            guild = None
        elif len(parts) == 5 and parts[2] == "guilds":
            guild = parts[3]
        else:
            return self._error(404, 0, "fake Discord has no such commands route")
        if parts[1] != APPLICATION_ID:
            return self._error(403, 50001, "Missing Access")
        if method == "GET":
            return 200, self.commands.get(guild, []), {}
        if method != "PUT":
            return self._error(405, 0, "Method Not Allowed")
        if not isinstance(body, list):
            return self._error(400, 50035, "Invalid Form Body")
        return 200, self.set_commands(guild, body), {}

    def set_commands(
        self, guild: str | None, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store ``commands`` as a bulk overwrite does (also for tests: what was registered
        before), with the fields Discord adds; the ids of names already registered stay."""
        ids = {c["name"]: c["id"] for c in self.commands.get(guild, [])}
        stored = [
            {
                "type": 1,
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "id": ids.get(command.get("name")) or self._new_id(),
                "application_id": APPLICATION_ID,
                "guild_id": guild,
                "version": self._new_id(),
            }
            for command in commands
        ]
        if guild is None:
            for command in stored:
                command.setdefault("contexts", None)
                command.setdefault("integration_types", [0])
        self.commands[guild] = stored
        return stored

    def _global_limit(self) -> tuple[int, Any, dict[str, str]] | None:
        if self.global_rate is None:
            return None
        now = time.monotonic()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= self.global_rate:
            return self._rate_limited(global_=True)
        self._window.append(now)
        return None

    def _rate_limited(self, *, global_: bool) -> tuple[int, Any, dict[str, str]]:
        headers = {"Retry-After": f"{self.retry_after:.3f}", "X-RateLimit-Scope": "user"}
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": global_,
        }
        return 429, body, headers

    def _dm_channel(self, user_id: str) -> tuple[int, Any, dict[str, str]]:
        channel = self.dm_channels.setdefault(user_id, self._new_id())
        return 200, _dm_channel(channel, user_id), {}

    def _channel(self, channel_id: str) -> tuple[int, Any, dict[str, str]]:
        guild = self.guild_of_channel.get(channel_id)
        if guild is not None:
            return 200, _text_channel(channel_id, guild), {}
        user = next((u for u, c in self.dm_channels.items() if c == channel_id), None)
        if user is not None:
            return 200, _dm_channel(channel_id, user), {}
        return self._error(404, 10003, "Unknown Channel")

    def _messages(
        self, method: str, channel: str, message_id: str | None, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "POST" and message_id is None:
            user = next((u for u, c in self.dm_channels.items() if c == channel), None)
            if user is not None and user in self.closed_dms:
                return self._error(403, 50007, "Cannot send messages to this user")
            body = body or {}
            nonce = body.get("nonce")
            if nonce is not None and body.get("enforce_nonce"):
                earlier = self._nonces.get((channel, str(nonce)))
                if earlier is not None:
                    return 200, self._json(self.messages[earlier]), {}
            message = Message(
                self._new_id(),
                channel,
                body.get("content") or "",
                body.get("embeds") or [],
                body.get("components") or [],
                None if nonce is None else str(nonce),
            )
            self.messages[message.id] = message
            if nonce is not None:
                self._nonces[(channel, str(nonce))] = message.id
            return 200, self._json(message), {}
        if message_id is None or message_id not in self.messages:
            return self._error(404, 10008, "Unknown Message")
        if method == "PATCH":
            message = self.messages[message_id]
            body = body or {}
            message.content = body.get("content", message.content) or ""
            message.embeds = body.get("embeds", message.embeds) or []
            message.components = body.get("components", message.components) or []
            return 200, self._json(message), {}
        if method == "DELETE":
            del self.messages[message_id]
            return 204, None, {}
        return self._error(405, 0, "Method Not Allowed")

    def _original_response(
        self, method: str, token: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """An interaction's original response, edited after a deferred answer (any token is
        accepted: the fake does not know which interactions Discord sent)."""
        if method != "PATCH":
            return self._error(405, 0, "Method Not Allowed")
        body = body or {}
        earlier = self.interaction_responses.get(token)
        message = Message(
            earlier.id if earlier else self._new_id(),
            "0",
            body.get("content") or "",
            body.get("embeds") or [],
            body.get("components") or [],
            None,
        )
        self.interaction_responses[token] = message
        return 200, self._json(message), {}

    def delete_message(self, message_id: str) -> None:
        """As if someone deleted the message in the Discord client."""
        self.messages.pop(message_id, None)

    @staticmethod
    def _json(m: Message) -> dict[str, Any]:
        return {
            "id": m.id,
            "channel_id": m.channel_id,
            "type": 0,
            "content": m.content,
            "author": _user(BOT_ID),
            "timestamp": "2026-11-29T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": m.embeds,
            "components": _numbered(m.components),
            "pinned": False,
            "flags": 0,
            "nonce": m.nonce,
        }
