"""Rows the scheduler cannot finish normally: one whose batch keeps failing after its message
was published (poison), and one whose game is missing. Each is done with a reason and logged
once, at a bounded cost, while the rest of its kind keeps flowing."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter

import pytest

from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings
from tests.scheduler._helpers import (
    aconnect,
    consuming,
    fetch_one,
    flush,
    insert_reminders,
    seed_game,
    wait_until,
)

# POISON_AFTER (3) attempts alone after the batch it failed in
MAX_POISON_COPIES = 4
XACT_SQL = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"

# Marking the reminder of 8888 minutes done fails (as ``-infinity`` once made it fail), unless
# it is being set aside as poison: the row is claimed and published, then its batch rolls back.
FAILING_MARK = """
CREATE FUNCTION refuse_8888() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cannot mark this reminder done';
END $$;
CREATE TRIGGER refuse_8888 BEFORE UPDATE ON notification_schedule FOR EACH ROW
    WHEN (OLD.reminder_minutes = 8888 AND NEW.skip_reason IS DISTINCT FROM 'poison')
    EXECUTE FUNCTION refuse_8888();
"""


def _naming(caplog: pytest.LogCaptureFixture, row_id: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if row_id in r.getMessage()]


async def test_poison_row_is_isolated_and_set_aside_while_others_flow(
    sched_settings: Settings, service: SchedulerService, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="gamesched")
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        await conn.execute(FAILING_MARK)
        game = await seed_game(conn)
        # one statement, one NOTIFY: the poison row is claimed in one batch with 20 good ones
        await conn.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "SELECT %s, m, now() FROM unnest(array_append(array(SELECT generate_series(1, 20)),"
            " 8888)) m",
            (game,),
        )
        poison = await fetch_one(
            conn, "SELECT id::text FROM notification_schedule WHERE reminder_minutes = 8888"
        )
        await wait_until(
            lambda: fetch_one(
                conn,
                "SELECT sent AND skip_reason = 'poison' FROM notification_schedule "
                "WHERE reminder_minutes = 8888",
            ),
            30,
            "the poison row set aside",
        )
        # the kind keeps flowing afterwards
        await conn.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "SELECT %s, 100 + g, now() FROM generate_series(1, 10) g",
            (game,),
        )
        await wait_until(
            lambda: fetch_one(
                conn,
                "SELECT count(*) = 30 FROM notification_schedule "
                "WHERE sent AND skip_reason IS NULL",
            ),
            30,
            "every good row sent",
        )
        await flush(consumer, sched_settings)
        counts = Counter(consumer.ids())
        good = await conn.execute(
            "SELECT id::text, reminder_minutes FROM notification_schedule WHERE skip_reason IS NULL"
        )
        if sched_settings.transport == "rabbitmq":
            # published with its batch, then on each attempt alone: a handful, not hundreds
            assert 1 <= counts[poison] <= MAX_POISON_COPIES, counts[poison]
            for row_id, minutes in await good.fetchall():
                # the poison row's batch-mates went out with it, then once more alone
                assert counts[row_id] == (1 if minutes > 100 else 2), (minutes, counts[row_id])
        else:
            # the messages were inserted in the batches that rolled back: none of them exists,
            # so the poison row was never published and every good row exactly once
            assert counts[poison] == 0, counts[poison]
            rows = await good.fetchall()
            assert len(rows) == 30
            assert all(counts[row_id] == 1 for row_id, _ in rows), counts.most_common(3)
        assert len(_naming(caplog, poison)) == 1, _naming(caplog, poison)
        assert service.metrics.skipped.labels("reminders", "poison")._value.get() == 1
        assert all(not t.done() for t in service._tasks)


async def test_row_whose_game_is_missing_is_done_with_a_reason(
    sched_settings: Settings, service: SchedulerService, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="gamesched")
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        missing = str(uuid.uuid4())
        # a restore or a manual fix can leave rows without their game: bypass the foreign key
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time)"
                " VALUES (%s, 5, now())",
                (missing,),
            )
            await conn.execute(
                "INSERT INTO game_status_schedule (game_id, target_status, transition_time) "
                "VALUES (%s, 'IN_PROGRESS', now())",
                (missing,),
            )
        # the triggers were bypassed too: a good row's NOTIFY wakes the loops
        await insert_reminders(conn, game, 1)
        await conn.execute(
            "INSERT INTO game_status_schedule (game_id, target_status, transition_time) "
            "VALUES (%s, 'IN_PROGRESS', now())",
            (game,),
        )
        await wait_until(
            lambda: fetch_one(
                conn,
                "SELECT (SELECT count(*) FROM notification_schedule WHERE sent "
                "AND skip_reason = 'game_missing') = 1 AND (SELECT count(*) FROM "
                "game_status_schedule WHERE executed AND skip_reason = 'game_missing') = 1",
            ),
            10,
            "rows of the missing game done",
        )
        msgs = await consumer.wait_for(2, timeout=10)
        assert {m.body["game_id"] for m in msgs} == {game}
        # nothing due is left, so the daemon is idle: no polling for rows it cannot claim
        before = await fetch_one(conn, XACT_SQL)
        await asyncio.sleep(2.0)  # an observation window, not synchronisation
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        after = await fetch_one(conn, XACT_SQL)
        assert after - before < 20, after - before  # was ~80 polls a second, 3 statements each
        for table in ("notification_schedule", "game_status_schedule"):
            row_id = await fetch_one(
                conn, f"SELECT id::text FROM {table} WHERE game_id = %s", missing
            )
            named = _naming(caplog, row_id)
            assert len(named) == 1 and "game_missing" in named[0], named
        assert await fetch_one(conn, "SELECT status FROM game_sessions WHERE id = %s", game) == (
            "IN_PROGRESS"
        )


async def test_poison_outbox_event_is_recorded_as_such(
    sched_settings: Settings, service: SchedulerService
):
    """The outbox has a skip_reason too (0003): a poison event is done, and says why."""
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        await conn.execute(
            """
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'cannot mark this event published';
            END $$;
            CREATE TRIGGER refuse_poison BEFORE UPDATE ON event_outbox FOR EACH ROW
                WHEN (OLD.payload ? 'bad' AND NEW.skip_reason IS DISTINCT FROM 'poison')
                EXECUTE FUNCTION refuse_poison();
            """
        )
        await conn.execute(
            "INSERT INTO event_outbox (routing_key, game_id, payload) "
            "SELECT 'game.created', gen_random_uuid(), "
            "CASE WHEN g = 3 THEN '{\"bad\": 1}' ELSE '{}' END::jsonb "
            "FROM generate_series(1, 5) g"
        )
        await wait_until(
            lambda: fetch_one(
                conn,
                "SELECT count(*) FILTER (WHERE skip_reason = 'poison' AND payload ? 'bad') = 1 "
                "AND count(*) FILTER (WHERE skip_reason IS NULL) = 4 "
                "FROM event_outbox WHERE published",
            ),
            30,
            "four published, one set aside",
        )
        await flush(consumer, sched_settings)
        bad = await fetch_one(conn, "SELECT id::text FROM event_outbox WHERE payload ? 'bad'")
        copies = Counter(consumer.ids())[bad]
        if sched_settings.transport == "rabbitmq":
            assert 1 <= copies <= MAX_POISON_COPIES, copies
        else:  # inserted only by batches that rolled back: it never existed
            assert copies == 0, copies
