"""Signed slash-command interactions against the real app (on a database of the test's own).

Builders for the payloads Discord sends (a command, an autocomplete, a modal submit, a button
click), and :class:`Slash`, which posts them as one member of one guild.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import orm, text

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from tests.api.conftest import CHANNEL, GUILD, Api, auth
from tests.api.test_interactions import post, signed_settings

APP_ID = "900000000000000001"
MEMBER = "300000000000000001"
OTHER_MEMBER = "300000000000000002"
OTHER_GUILD = "100000000000000002"
OTHER_CHANNEL = "200000000000000002"
UNREGISTERED_CHANNEL = "200000000000000099"

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MANAGE_EVENTS = 1 << 33
#: what an ordinary member typically has: view channel, send messages, read history...
PLAIN = (1 << 10) | (1 << 11) | (1 << 16)

STAMP = re.compile(r"<t:(\d+):F> \(<t:\1:R>\)")


@dataclass
class Slash:
    api: Api
    settings: Settings
    user: str = MEMBER
    guild: str | None = GUILD
    channel: str = CHANNEL
    permissions: int = PLAIN
    #: run from a thread of ``channel``: (thread id, channel type 10, 11 or 12)
    thread: tuple[str, int] | None = None
    tokens_used: list[str] = field(default_factory=list)

    def as_(self, **changes: Any) -> Slash:
        return Slash(**{**self.__dict__, **changes})

    def _base(self, kind: int, data: dict[str, Any]) -> dict[str, Any]:
        token = f"tok-{uuid.uuid4().hex}"
        self.tokens_used.append(token)
        payload: dict[str, Any] = {
            "type": kind,
            "id": "910000000000000001",
            "application_id": APP_ID,
            "token": token,
            "version": 1,
            "channel_id": self.channel,
            # the partial channel Discord sends along (a thread names its parent)
            "channel": {"id": self.channel, "type": 0},
            "data": data,
        }
        if self.thread is not None:
            thread_id, thread_type = self.thread
            payload["channel_id"] = thread_id
            payload["channel"] = {"id": thread_id, "type": thread_type, "parent_id": self.channel}
        if self.guild is None:
            payload["user"] = {"id": self.user}
        else:
            payload["guild_id"] = self.guild
            payload["member"] = {"user": {"id": self.user}, "permissions": str(self.permissions)}
        return payload

    def send(self, kind: int, data: dict[str, Any]) -> dict[str, Any]:
        resp = post(self.api, self._base(kind, data))
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def command(self, name: str, sub: str | None = None, **options: Any) -> dict[str, Any]:
        opts = [{"name": k, "type": _type(v), "value": v} for k, v in options.items()]
        return self.send(2, {"id": "1", "name": name, "type": 1, "options": _nest(sub, opts)})

    def game(self, sub: str, **options: Any) -> dict[str, Any]:
        return self.command("game", sub, **options)

    def autocomplete(
        self, name: str, sub: str | None, focused: str, value: str, **others: Any
    ) -> dict[str, Any]:
        opts = [{"name": k, "type": _type(v), "value": v} for k, v in others.items()]
        opts.append({"name": focused, "type": 3, "value": value, "focused": True})
        return self.send(4, {"id": "1", "name": name, "type": 1, "options": _nest(sub, opts)})

    def submit(self, custom_id: str, **fields: str) -> dict[str, Any]:
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in fields.items()
        ]
        return self.send(5, {"custom_id": custom_id, "components": rows})

    def click(self, custom_id: str) -> dict[str, Any]:
        return self.send(3, {"custom_id": custom_id, "component_type": 2})

    def create(
        self,
        when: str,
        title: str = "Catan",
        duration: str = "",
        players: str = "",
        description: str = "",
    ) -> dict[str, Any]:
        """``/game create`` then the modal's submit: the preview answer."""
        modal = self.game("create")
        assert modal["type"] == 9, modal
        return self.submit(
            modal["data"]["custom_id"],
            title=title,
            when=when,
            duration=duration,
            players=players,
            description=description,
        )

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = db_engine.make_engine(self.settings)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(query), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()


def _nest(sub: str | None, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Options inside their subcommand (``"list"``) or grouped subcommand (``"remind game"``)."""
    if sub is None:
        return options
    *group, name = sub.split()
    nested = [{"name": name, "type": 1, "options": options}]
    return [{"name": group[0], "type": 2, "options": nested}] if group else nested


def _type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    return 3


def content(answer: dict[str, Any]) -> str:
    value = answer["data"]["content"]
    assert isinstance(value, str)
    return value


def ephemeral_sentence(answer: dict[str, Any]) -> str:
    """The answer's text, after checking it is an ephemeral message (a new one, not a modal)."""
    assert answer["type"] == 4, answer
    assert answer["data"]["flags"] == 64, answer
    return content(answer)


def buttons(answer: dict[str, Any]) -> dict[str, str]:
    """label -> custom_id of the answer's buttons."""
    return {
        b["label"]: b["custom_id"]
        for row in answer["data"].get("components", [])
        for b in row["components"]
    }


def stamped(answer: dict[str, Any]) -> datetime:
    """The instant of the first ``<t:UNIX:F> (<t:UNIX:R>)`` in the answer."""
    from datetime import UTC

    match = STAMP.search(content(answer))
    assert match, content(answer)
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def setup_guilds(api: Api) -> None:
    api.setup_guild()
    api.setup_guild(guild=OTHER_GUILD, channel=OTHER_CHANNEL)


@pytest.fixture
def slash(fresh_settings: Settings) -> Iterator[Slash]:
    settings = signed_settings(fresh_settings)
    engine = db_engine.make_engine(settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    with TestClient(api_app.create_app(settings), headers=auth(admin)) as http:
        api = Api(http, admin)
        setup_guilds(api)
        yield Slash(api, settings)
