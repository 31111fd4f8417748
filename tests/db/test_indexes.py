from __future__ import annotations

import pytest

from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.db._sql import seed_game

CASES = {
    "notification_schedule": (
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time, sent) "
        "SELECT %(game)s, g, now() + g * interval '1 minute', g %% 100 <> 0 "
        "FROM generate_series(1, 200000) g",
        "SELECT notification_time FROM notification_schedule WHERE NOT sent "
        "ORDER BY notification_time LIMIT 1",
        "ix_notification_schedule_due",
    ),
    "event_outbox": (
        "INSERT INTO event_outbox (routing_key, payload, available_at, published) "
        "SELECT 'game.updated', '{}', now() + g * interval '1 second', g %% 100 <> 0 "
        "FROM generate_series(1, 200000) g",
        "SELECT available_at FROM event_outbox WHERE NOT published ORDER BY available_at LIMIT 1",
        "ix_event_outbox_due",
    ),
}


@pytest.mark.parametrize("table", sorted(CASES))
def test_next_due_query_uses_partial_index(fresh_settings: Settings, table: str):
    fill, query, index = CASES[table]
    with db_engine.connect(fresh_settings.libpq_url, autocommit=True) as conn:
        game = seed_game(conn)
        conn.execute(fill, {"game": game})
        conn.execute(f"ANALYZE {table}")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query).fetchall())
        assert index in plan, plan
        assert "Seq Scan" not in plan, plan
        # and the index is small: it holds only the 2,000 pending rows
        size = conn.execute(
            "SELECT pg_relation_size(%s::regclass), pg_relation_size(%s::regclass)",
            (index, table),
        ).fetchone()
        assert size[0] * 20 < size[1]


def test_claim_limits_before_joining(fresh_settings: Settings):
    """The claim picks and locks a batch from the partial index before joining games: a join
    before the LIMIT would join and sort every due row of a backlog."""
    from gamesched.db import claims

    with db_engine.connect(fresh_settings.libpq_url, autocommit=True) as conn:
        game = seed_game(conn)
        conn.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "SELECT %s, g, now() - interval '1 s' FROM generate_series(1, 20000) g",
            (game,),
        )
        conn.execute("ANALYZE notification_schedule")
        with conn.transaction():
            plan = conn.execute(
                "EXPLAIN ANALYZE " + claims.CLAIM_REMINDERS, {"limit": 500, "only": None}
            )
            text = "\n".join(r[0] for r in plan.fetchall())
        lines = text.splitlines()
        cte = next(i for i, line in enumerate(lines) if "CTE c" in line)
        assert "Limit" in lines[cte + 1] and "rows=500 " in lines[cte + 1], text
        assert "ix_notification_schedule_due" in text
        assert "external" not in text  # no on-disk sort
