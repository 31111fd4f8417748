"""The event contract: every body any producer writes parses as its routing key's model, and
anything else is a clear ``MalformedEvent`` (never another exception a consumer would crash on)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gamesched.db import claims
from gamesched.events import schemas
from gamesched.rules import GameStatus
from gamesched.settings import Settings
from tests.scheduler._helpers import aconnect, insert_reminders, seed_game

GAME = uuid.UUID("7c0a3f3e-1f7b-4e43-9a57-0d6f5bb1c3a1")
ROW = uuid.UUID("2b8f9d4a-5e3c-4a61-8f0e-9c7d6b5a4e3f")
WHEN = datetime(2030, 6, 1, 17, 30, tzinfo=UTC)

EXAMPLES: list[schemas.Event] = [
    schemas.ReminderDue(
        game_id=GAME,
        notification_id=ROW,
        reminder_minutes=15,
        scheduled_at=WHEN,
        notification_time=WHEN,
    ),
    schemas.StatusTransitionDue(
        game_id=GAME, schedule_id=ROW, target_status=GameStatus.IN_PROGRESS, transition_time=WHEN
    ),
    schemas.GameCreated(game_id=GAME),
    schemas.GameUpdated(game_id=GAME),
    schemas.GameCancelled(game_id=GAME),
    schemas.GameDeleted(game_id=GAME, discord_channel_id="2", discord_message_id=None),
    schemas.RosterChanged(game_id=GAME, discord_user_id="3", action="promoted"),
]


def test_every_routing_key_has_a_model_and_an_example():
    assert {e.routing_key for e in EXAMPLES} == set(schemas.ROUTING_KEYS)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.routing_key)
def test_body_round_trips_as_json_text_bytes_and_object(event: schemas.Event):
    body = event.body()
    text_body = json.dumps(body)
    assert schemas.parse(event.routing_key, text_body) == event
    assert schemas.parse(event.routing_key, text_body.encode()) == event
    assert schemas.parse(event.routing_key, body) == event


def test_unknown_fields_are_ignored_so_producers_can_add_some():
    body = {"game_id": str(GAME), "added_later": {"x": 1}}
    assert schemas.parse(schemas.GAME_UPDATED, json.dumps(body)) == schemas.GameUpdated(
        game_id=GAME
    )


ROSTER_OK = {"game_id": str(GAME), "discord_user_id": "3", "action": "joined"}


@pytest.mark.parametrize(
    ("routing_key", "body", "says"),
    [
        ("game.nope", "{}", "unknown routing key"),
        ("x" * 10_000, "{}", "unknown routing key"),
        (schemas.ROSTER_CHANGED, "", "Invalid JSON"),
        (schemas.ROSTER_CHANGED, b"\xff\xfe", "Invalid JSON"),
        (schemas.ROSTER_CHANGED, "null", "body"),
        (schemas.ROSTER_CHANGED, "[1, 2]", "body"),
        (schemas.ROSTER_CHANGED, "[" * 20_000 + "]" * 20_000, "recursion"),
        (schemas.ROSTER_CHANGED, " " * (schemas.MAX_BODY_BYTES + 1), "too large"),
        (schemas.ROSTER_CHANGED, json.dumps({**ROSTER_OK, "game_id": None}), "game_id"),
        (schemas.ROSTER_CHANGED, json.dumps({**ROSTER_OK, "game_id": "42"}), "game_id"),
        (schemas.ROSTER_CHANGED, json.dumps({**ROSTER_OK, "action": "kicked"}), "action"),
        (schemas.ROSTER_CHANGED, json.dumps({**ROSTER_OK, "discord_user_id": "²"}), "user_id"),
        (schemas.ROSTER_CHANGED, json.dumps({**ROSTER_OK, "discord_user_id": "١٢"}), "user_id"),
        (schemas.ROSTER_CHANGED, json.dumps({**ROSTER_OK, "discord_user_id": 3}), "user_id"),
        (
            schemas.REMINDER_DUE,
            json.dumps({**EXAMPLES[0].body(), "reminder_minutes": 0}),
            "reminder_minutes",
        ),
        (
            schemas.REMINDER_DUE,
            json.dumps({**EXAMPLES[0].body(), "scheduled_at": "2030-06-01T17:30:00"}),
            "scheduled_at",
        ),
        (
            schemas.REMINDER_DUE,
            json.dumps({**EXAMPLES[0].body(), "notification_time": "infinity"}),
            "notification_time",
        ),
        (
            schemas.STATUS_TRANSITION_DUE,
            json.dumps({**EXAMPLES[1].body(), "target_status": "PAUSED"}),
            "target_status",
        ),
    ],
)
def test_malformed_bodies_are_one_clear_error(routing_key: str, body: Any, says: str):
    with pytest.raises(schemas.MalformedEvent) as caught:
        schemas.parse(routing_key, body)
    message = str(caught.value)
    assert says in message
    assert len(message) < 300 and "\n" not in message


# -- button ids --------------------------------------------------------------------------------


@given(action=st.sampled_from(schemas.BUTTON_ACTIONS), game_id=st.uuids())
def test_button_id_round_trips(action: schemas.ButtonAction, game_id: uuid.UUID):
    custom_id = schemas.button_id(action, game_id)
    assert len(custom_id) <= 100  # Discord's limit for custom_id
    assert schemas.parse_button_id(custom_id) == (action, game_id)


@pytest.mark.parametrize(
    "custom_id",
    [
        None,
        42,
        "",
        "game:join",
        f"game:kick:{GAME}",
        f"gamex:join:{GAME}",
        f"game:join:{GAME}:extra",
        "game:join:not-a-uuid",
        "game:join:" + "a" * 200,
    ],
)
def test_parse_button_id_refuses_what_is_not_ours(custom_id: object):
    assert schemas.parse_button_id(custom_id) is None


# -- bodies as the producers really write them ---------------------------------------------------


async def test_bodies_built_by_the_claim_queries_parse_as_their_models(fresh_settings: Settings):
    async with await aconnect(fresh_settings) as conn:
        game = await seed_game(conn)
        await insert_reminders(conn, game, 2)
        await conn.execute(
            "INSERT INTO game_status_schedule (game_id, target_status, transition_time) "
            "VALUES (%s, 'IN_PROGRESS', now())",
            (game,),
        )
        for table, model in (
            (claims.REMINDERS, schemas.ReminderDue),
            (claims.STATUS, schemas.StatusTransitionDue),
        ):
            async with conn.transaction(force_rollback=True):
                rows = await claims.claim_due(conn, table, limit=10)
                assert rows
                for row in rows:
                    event = schemas.parse(model.routing_key, row.body)
                    assert isinstance(event, model)
                    assert str(event.game_id) == game
                    # the body names its own row, which is also the message id
                    row_id = getattr(event, "notification_id", None) or getattr(
                        event, "schedule_id", None
                    )
                    assert str(row_id) == row.id
                    # and carries no field the model does not know
                    assert set(json.loads(row.body)) == set(model.model_fields)


async def test_reminder_body_times_match_the_rows(fresh_settings: Settings):
    async with await aconnect(fresh_settings) as conn:
        game = await seed_game(conn)
        await insert_reminders(conn, game, 1)
        async with conn.transaction(force_rollback=True):
            (row,) = await claims.claim_due(conn, claims.REMINDERS, limit=1)
            cur = await conn.execute(
                "SELECT n.notification_time, g.scheduled_at, n.reminder_minutes "
                "FROM notification_schedule n JOIN game_sessions g ON g.id = n.game_id"
            )
            expected = await cur.fetchone()
        assert expected is not None
        event = schemas.parse(schemas.REMINDER_DUE, row.body)
        assert isinstance(event, schemas.ReminderDue)
        assert (event.notification_time, event.scheduled_at, event.reminder_minutes) == expected
