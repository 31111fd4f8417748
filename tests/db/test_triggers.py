from __future__ import annotations

import json
import select
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.db._sql import seed_game

WAIT = 5.0  # deadline for a notification that must arrive


class Listener:
    """Collects notifications through a handler, so none is lost between reads."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.received: deque[psycopg.Notify] = deque()
        conn.add_notify_handler(self.received.append)

    def execute(self, query: str) -> None:
        self.conn.execute(query)

    def next(self, channel: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while not self.received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no notification on {channel} within {WAIT}s")
            select.select([self.conn.fileno()], [], [], remaining)
            self.conn.execute("SELECT 1")  # reads what arrived; the handler queues it
        n = self.received.popleft()
        assert n.channel == channel
        return json.loads(n.payload)


@pytest.fixture
def conns(fresh_settings: Settings) -> Iterator[tuple[Listener, psycopg.Connection[Any]]]:
    listener = db_engine.connect(fresh_settings.libpq_url, autocommit=True)
    writer = db_engine.connect(fresh_settings.libpq_url, autocommit=True)
    try:
        yield Listener(listener), writer
    finally:
        listener.close()
        writer.close()


def next_payload(listener: Listener, channel: str) -> dict[str, Any]:
    return listener.next(channel)


def test_insert_update_delete_within_horizon_notify(conns):
    listener, writer = conns
    game_id = seed_game(writer)
    listener.execute("LISTEN notification_schedule_changed")

    row_id = writer.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
        "VALUES (%s, 60, now() + interval '1 minute') RETURNING id",
        (game_id,),
    ).fetchone()[0]
    p = next_payload(listener, "notification_schedule_changed")
    assert p["op"] == "INSERT" and p["count"] == 1
    assert p["id"] == str(row_id) and p["game_id"] == game_id
    assert p["due_at"]

    writer.execute(
        "UPDATE notification_schedule SET notification_time = now() + interval '2 minutes' "
        "WHERE id = %s",
        (row_id,),
    )
    p = next_payload(listener, "notification_schedule_changed")
    assert p["op"] == "UPDATE" and p["id"] == str(row_id)

    writer.execute("DELETE FROM notification_schedule WHERE id = %s", (row_id,))
    p = next_payload(listener, "notification_schedule_changed")
    assert p["op"] == "DELETE" and p["id"] == str(row_id) and p["count"] == 1


def test_far_future_and_done_rows_do_not_notify(conns):
    listener, writer = conns
    game_id = seed_game(writer, starts_in="400 days")
    listener.execute("LISTEN notification_schedule_changed")
    # beyond the 10-minute horizon: no notification
    writer.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
        "VALUES (%s, 1440, now() + interval '30 days')",
        (game_id,),
    )
    # marking a due row done (what the daemon does) must not wake anyone either
    writer.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time, sent) "
        "VALUES (%s, 5, now(), true)",
        (game_id,),
    )
    # a sentinel within the horizon: it must be the first notification seen
    writer.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
        "VALUES (%s, 7, now() + interval '5 minutes')",
        (game_id,),
    )
    p = next_payload(listener, "notification_schedule_changed")
    assert p["count"] == 1
    row = writer.execute(
        "SELECT reminder_minutes FROM notification_schedule WHERE id = %s", (p["id"],)
    ).fetchone()
    assert row == (7,)


def test_ten_thousand_row_insert_sends_one_notification(conns):
    listener, writer = conns
    game_id = seed_game(writer)
    listener.execute("LISTEN notification_schedule_changed")
    writer.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
        "SELECT %s, g, now() + interval '1 minute' FROM generate_series(1, 10000) g",
        (game_id,),
    )
    writer.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
        "VALUES (%s, 0, now())",
        (game_id,),
    )
    first = next_payload(listener, "notification_schedule_changed")
    assert first["op"] == "INSERT" and first["count"] == 10000
    assert "id" not in first  # several rows: no single id
    second = next_payload(listener, "notification_schedule_changed")
    assert second["count"] == 1  # the sentinel: nothing came in between


@pytest.mark.parametrize(
    ("table", "insert"),
    [
        (
            "game_status_schedule",
            "INSERT INTO game_status_schedule (game_id, target_status, transition_time) "
            "VALUES (%s, 'IN_PROGRESS', now())",
        ),
        (
            "event_outbox",
            "INSERT INTO event_outbox (routing_key, game_id, payload) "
            "VALUES ('game.created', %s, '{}')",
        ),
    ],
)
def test_other_schedule_tables_notify(conns, table: str, insert: str):
    listener, writer = conns
    game_id = seed_game(writer)
    listener.execute(f"LISTEN {table}_changed")
    writer.execute(insert, (game_id,))
    p = next_payload(listener, f"{table}_changed")
    assert p["op"] == "INSERT" and p["count"] == 1 and p["game_id"] == game_id


def test_horizon_is_configurable(conns, fresh_settings: Settings):
    listener, writer = conns
    game_id = seed_game(writer, starts_in="400 days")
    writer.execute(
        f"ALTER DATABASE {fresh_settings.database_name} SET gamesched.notify_horizon = '2 hours'"
    )
    writer.close()
    writer = db_engine.connect(fresh_settings.libpq_url, autocommit=True)
    try:
        listener.execute("LISTEN notification_schedule_changed")
        writer.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "VALUES (%s, 60, now() + interval '90 minutes')",
            (game_id,),
        )
        p = next_payload(listener, "notification_schedule_changed")
        assert p["count"] == 1
    finally:
        writer.close()
