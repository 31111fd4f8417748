"""A fake Discord REST API: a Starlette app under uvicorn on 127.0.0.1, any free port.

It records every request and answers from what the test put in it. Only the routes the code
under test uses exist (today ``GET /channels/{id}``); add routes here as the bot needs them.

    with FakeDiscord().running() as discord:
        discord.add_text_channel("222", guild_id="111")
        settings = make_settings(..., discord_token="t", discord_api_base=discord.api_base)
        ...
        assert discord.requests[0].path == "/api/v10/channels/222"
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests._serve import serve

PREFIX = "/api/v10"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str | None


@dataclass
class FakeDiscord:
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    #: Answer every request with this status (e.g. 500, 401) instead of the normal answer.
    fail_with: int | None = None
    #: Never answer (until the fake stops): for timeouts.
    hang: bool = False
    api_base: str = ""
    _stopping: threading.Event = field(default_factory=threading.Event)

    def add_text_channel(self, channel_id: str, *, guild_id: str) -> None:
        """A guild text channel, as Discord's GET /channels/{id} returns it."""
        self.channels[channel_id] = {
            "id": channel_id,
            "type": 0,
            "guild_id": guild_id,
            "name": f"channel-{channel_id}",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def add_dm_channel(self, channel_id: str, *, user_id: str) -> None:
        self.channels[channel_id] = {
            "id": channel_id,
            "type": 1,
            "last_message_id": None,
            "recipients": [
                {"id": user_id, "username": "someone", "discriminator": "0", "avatar": None}
            ],
        }

    async def _get_channel(self, request: Request) -> Response:
        self.requests.append(
            Recorded(request.method, request.url.path, request.headers.get("authorization"))
        )
        if self.hang:
            await asyncio.to_thread(self._stopping.wait)
        if self.fail_with is not None:
            return JSONResponse({"message": "fake failure", "code": 0}, self.fail_with)
        channel = self.channels.get(request.path_params["channel_id"])
        if channel is None:
            return JSONResponse({"message": "Unknown Channel", "code": 10003}, 404)
        return JSONResponse(channel)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(PREFIX + "/channels/{channel_id}", self._get_channel)])

    @contextlib.contextmanager
    def running(self) -> Iterator[FakeDiscord]:
        """Serve in a thread of its own (so sync and async tests can both use it)."""
        with serve(self.app()) as url:
            self.api_base = url + PREFIX
            try:
                yield self
            finally:
                self._stopping.set()  # release a hung request first, so the server can stop
