"""Work that outlives the answer budget: the endpoint defers within Discord's 3 seconds and the
real answer arrives as an edit of the original response, on the (fake) Discord."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import orm

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from gamesched.testing.fake_discord import FakeDiscord, Message
from tests.api._slash import APP_ID, Slash, buttons, content, setup_guilds
from tests.api.conftest import Api, auth
from tests.api.test_interactions import signed_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    discord = FakeDiscord()
    await discord.start()
    yield discord
    await discord.stop()


def _app(fresh_settings: Settings, fake: FakeDiscord, budget: float) -> tuple[TestClient, Slash]:
    settings = signed_settings(fresh_settings, discord_api_base=fake.base_url)
    engine = db_engine.make_engine(settings)
    with orm.Session(engine) as session, session.begin():
        admin = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    app = api_app.create_app(settings)
    app.state.answer_budget = budget
    http = TestClient(app, headers=auth(admin))
    return http, Slash(Api(http, admin), settings)


async def _edited(fake: FakeDiscord, token: str, timeout: float = 15.0) -> Message:
    deadline = time.monotonic() + timeout
    while token not in fake.interaction_responses:
        assert time.monotonic() < deadline, f"no edit of the original response for {token}"
        fake.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.arrived.wait(), 0.5)
    return fake.interaction_responses[token]


async def test_slow_work_is_deferred_then_the_answer_edits_the_original(
    fresh_settings: Settings, fake: FakeDiscord
) -> None:
    http, slash = _app(fresh_settings, fake, budget=0.0)
    with http:
        setup_guilds(slash.api)
        # a modal submit: deferred (ephemeral), then the preview with its buttons
        deferred = slash.submit("game:create", title="Catan", when="in 3h", players="4")
        assert deferred == {"type": 5, "data": {"flags": 64}}
        preview = await _edited(fake, slash.tokens_used[-1])
        assert "Preview: Catan" in preview.content and "Seats: 4" in preview.content
        labels = {
            b["label"]: b["custom_id"] for row in preview.components for b in row["components"]
        }
        assert set(labels) == {"Confirm", "Edit"}
        patch = fake.calls("PATCH", f"/webhooks/{APP_ID}/{slash.tokens_used[-1]}")
        assert len(patch) == 1 and patch[0].authorization is None  # the token is the auth

        # a button: deferred as an update of its message, then the message edited
        clicked = slash.click(labels["Confirm"])
        assert clicked == {"type": 6}
        done = await _edited(fake, slash.tokens_used[-1])
        assert "Created **Catan**" in done.content and done.components == []
        assert slash.sql("SELECT title, max_players FROM game_sessions") == [("Catan", 4)]

        # a modal cannot be sent later: the deferred answer says to try again
        slash.game("create")
        late = await _edited(fake, slash.tokens_used[-1])
        assert "took too long" in late.content

        # autocomplete cannot wait either: no suggestions rather than none at all
        answer = slash.autocomplete("timezone", None, "zone", "berl")
        assert answer == {"type": 8, "data": {"choices": []}}


async def test_fast_work_is_answered_inline_and_nothing_is_sent_to_discord(
    fresh_settings: Settings, fake: FakeDiscord
) -> None:
    http, slash = _app(fresh_settings, fake, budget=2.0)
    with http:
        setup_guilds(slash.api)
        started = time.monotonic()
        preview = slash.create("in 3h")
        assert time.monotonic() - started < 3
        assert preview["type"] == 4 and "Confirm" in buttons(preview)
        assert "Created" in content(slash.click(buttons(preview)["Confirm"]))
    assert fake.requests == []


async def test_a_follow_up_discord_refuses_is_logged_not_raised(
    fresh_settings: Settings, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    http, slash = _app(fresh_settings, fake, budget=0.0)
    with http:
        setup_guilds(slash.api)
        deferred = slash.game("list")
        assert deferred["type"] == 5
        token = slash.tokens_used[-1]
        fake.fail_next[("PATCH", f"/webhooks/{APP_ID}/{token}/messages/@original")] = [404, 404]
        slash.game("list")  # the first one's edit went through; this one's is refused
        refused = slash.tokens_used[-1]
        fake.fail_next[("PATCH", f"/webhooks/{APP_ID}/{refused}/messages/@original")] = [404, 404]
        deadline = time.monotonic() + 15
        while not any("deferred interaction answer" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the refused follow-up was not logged"
            await asyncio.sleep(0.05)
        assert refused not in fake.interaction_responses
        # the endpoint still answers, and the next edit goes through
        assert slash.game("list")["type"] == 5
        assert "No games coming up" in (await _edited(fake, slash.tokens_used[-1])).content


async def test_the_app_shuts_its_workers_down_once_the_deferred_answers_are_sent(
    fresh_settings: Settings, fake: FakeDiscord
) -> None:
    """The slash commands' workers belong to the app: when its lifespan ends they are shut down
    (their threads gone), after the deferred answers in hand were sent."""
    http, slash = _app(fresh_settings, fake, budget=0.0)
    app = http.app
    http.__enter__()
    try:
        setup_guilds(slash.api)
        pool = app.state.interaction_pool
        assert slash.game("list")["type"] == 5  # deferred: its answer is still to be sent
    finally:
        # the lifespan ends; in a thread, since the fake Discord answers on this event loop
        await asyncio.to_thread(http.__exit__, None, None, None)
    assert slash.tokens_used[-1] in fake.interaction_responses
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(int)
    assert [t.name for t in threading.enumerate() if t.name.startswith("interaction")] == []
