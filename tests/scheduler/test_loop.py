"""The scheduler loop against real PostgreSQL, on both event transports (the ``transport``
fixture), consuming what it publishes with a consumer written against the ``Source`` protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from gamesched.events import schemas
from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings
from tests.scheduler._helpers import (
    aconnect,
    consuming,
    fetch_one,
    insert_reminders,
    seed_game,
    wait_until,
)


async def test_idle_daemon_wakes_on_notify(sched_settings: Settings, service: SchedulerService):
    """Idle on a 300 s longest sleep, a row due now goes out within seconds: NOTIFY woke it."""
    assert service.settings.scheduler_max_wait_seconds == 300
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        # let the loop settle into its long sleep first
        await wait_until(
            lambda: service.loops[0].batches == 0 and service.listener.listening, 5, "idle"
        )
        received_before = service.listener.received
        await insert_reminders(conn, game, 1)
        # the deadline is the assertion: without the NOTIFY the loop would sleep for 300 s
        (msg,) = await consumer.wait_for(1, timeout=10)
        assert service.listener.received > received_before
        row_id = await fetch_one(conn, "SELECT id::text FROM notification_schedule")
        assert msg.message_id == row_id
        assert msg.routing_key == "game.reminder_due"
        if sched_settings.transport == "rabbitmq":
            assert msg.properties["type"] == "game.reminder_due"
            assert msg.properties["content_type"] == "application/json"
            assert msg.properties["delivery_mode"] == 2
            assert msg.properties["timestamp"] is not None
            # expiration = time left until the game starts (about a day), in milliseconds
            assert 86_000 < float(msg.properties["expiration"]) <= 86_400  # aio-pika: seconds
        assert msg.body["game_id"] == game
        assert msg.body["notification_id"] == row_id
        assert msg.body["reminder_minutes"] == 1
        assert set(msg.body) == set(schemas.REMINDER_DUE_FIELDS)
        for key in ("scheduled_at", "notification_time"):
            assert datetime.fromisoformat(msg.body[key]).tzinfo is not None
        await wait_until(
            lambda: fetch_one(
                conn,
                "SELECT sent AND sent_at IS NOT NULL AND skip_reason IS NULL "
                "FROM notification_schedule",
            ),
            5,
            "row marked sent",
        )


async def test_future_rows_are_not_published_early(
    sched_settings: Settings, service: SchedulerService
):
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        await conn.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "VALUES (%s, 1, now() + interval '1.5 s'), (%s, 2, now() + interval '3 s')",
            (game, game),
        )
        msgs = await consumer.wait_for(2, timeout=10)
        for m in msgs:
            due = datetime.fromisoformat(m.body["notification_time"]).timestamp()
            lateness = m.arrived - due
            assert lateness >= 0, f"published {-lateness:.3f}s early"
            assert lateness < 1.0, f"published {lateness:.3f}s late"
        assert [m.body["reminder_minutes"] for m in msgs] == [1, 2]


async def test_reminder_for_started_game_is_skipped(
    sched_settings: Settings, service: SchedulerService
):
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        started = await seed_game(conn, starts_in="-1 minute")
        upcoming = await seed_game(conn, starts_in="1 hour")
        # the started game's reminder was due before it began; a down daemon missed it
        await conn.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "VALUES (%s, 15, now() - interval '16 minutes')",
            (started,),
        )
        await insert_reminders(conn, upcoming, 1)
        (msg,) = await consumer.wait_for(1, timeout=5)
        assert msg.body["game_id"] == upcoming
        await wait_until(
            lambda: fetch_one(conn, "SELECT count(*) = 2 FROM notification_schedule WHERE sent"),
            5,
            "both rows done",
        )
        row = await fetch_one(
            conn, "SELECT sent, skip_reason FROM notification_schedule WHERE game_id = %s", started
        )
        assert row == (True, "game_started")
        skipped = service.metrics.skipped.labels("reminders", "game_started")._value.get()
        assert skipped == 1
        assert len(consumer.messages) == 1


async def test_status_transition_applies_in_same_transaction(
    sched_settings: Settings, service: SchedulerService
):
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn, starts_in="0 s")
        cancelled = await seed_game(conn, starts_in="0 s")
        await conn.execute(
            "UPDATE game_sessions SET status = 'CANCELLED' WHERE id = %s", (cancelled,)
        )
        await conn.execute(
            "INSERT INTO game_status_schedule (game_id, target_status, transition_time) "
            "VALUES (%s, 'IN_PROGRESS', now()), (%s, 'COMPLETED', now() + interval '1 s'), "
            "(%s, 'IN_PROGRESS', now())",
            (game, game, cancelled),
        )
        msgs = await consumer.wait_for(2, timeout=10)
        assert [(m.body["game_id"], m.body["target_status"]) for m in msgs] == [
            (game, "IN_PROGRESS"),
            (game, "COMPLETED"),
        ]
        assert all(m.routing_key == "game.status_transition_due" for m in msgs)
        assert all(set(m.body) == set(schemas.STATUS_TRANSITION_DUE_FIELDS) for m in msgs)
        await wait_until(
            lambda: fetch_one(conn, "SELECT bool_and(executed) FROM game_status_schedule"),
            5,
            "all executed",
        )
        assert (
            await fetch_one(conn, "SELECT status FROM game_sessions WHERE id = %s", game)
            == "COMPLETED"
        )
        assert (
            await fetch_one(conn, "SELECT status FROM game_sessions WHERE id = %s", cancelled)
            == "CANCELLED"
        )
        reason = await fetch_one(
            conn, "SELECT skip_reason FROM game_status_schedule WHERE game_id = %s", cancelled
        )
        assert reason == "illegal_from_cancelled"
        assert len(consumer.messages) == 2


async def test_outbox_events_are_published_verbatim(
    sched_settings: Settings, service: SchedulerService
):
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        row_id = await fetch_one(
            conn,
            "INSERT INTO event_outbox (routing_key, game_id, payload) VALUES "
            "('game.roster_changed', gen_random_uuid(), "
            '\'{"game_id": "x", "discord_user_id": "5", "action": "joined"}\') '
            "RETURNING id::text",
        )
        (msg,) = await consumer.wait_for(1, timeout=5)
        assert msg.message_id == row_id
        assert msg.routing_key == "game.roster_changed"
        assert msg.body == {"game_id": "x", "discord_user_id": "5", "action": "joined"}
        if sched_settings.transport == "rabbitmq":
            assert msg.properties["expiration"] is None


@pytest.mark.parametrize("transport", ["postgres"], indirect=True)
async def test_postgres_queue_row_is_written_with_the_mark_done(
    sched_settings: Settings, service: SchedulerService
):
    """PostgreSQL only (about its queue table): a reminder's message row exists exactly when
    its schedule row is sent (one transaction), with the reminder's expiration as
    ``expires_at`` (when the game starts) and the outbox event's with none."""
    async with await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        await insert_reminders(conn, game, 3)
        await conn.execute(
            "INSERT INTO event_outbox (routing_key, game_id, payload) "
            "VALUES ('game.created', gen_random_uuid(), '{}')"
        )
        await wait_until(
            lambda: fetch_one(conn, "SELECT count(*) = 4 FROM event_queue"), 10, "4 messages"
        )
        rows = await (
            await conn.execute(
                "SELECT q.routing_key, extract(epoch FROM q.expires_at - g.scheduled_at), "
                "coalesce(n.sent, o.published) FROM event_queue q "
                "LEFT JOIN notification_schedule n ON n.id::text = q.message_id "
                "LEFT JOIN event_outbox o ON o.id::text = q.message_id "
                "LEFT JOIN game_sessions g ON g.id = n.game_id "
                "WHERE q.queue = %s ORDER BY q.routing_key",
                (sched_settings.gamesched_exchange,),
            )
        ).fetchall()
        assert [r[0] for r in rows] == ["game.created"] + ["game.reminder_due"] * 3
        assert rows[0][1] is None
        assert all(abs(float(r[1])) < 5 for r in rows[1:]), rows  # expires as the game starts
        assert all(r[2] for r in rows)  # every message's row is marked done


async def test_rows_locked_elsewhere_are_retried_without_spinning(sched_settings: Settings):
    """Another claimer (a replica, an API transaction) holds the only due row: the loop skips it
    (``SKIP LOCKED``: a plain ``FOR UPDATE`` would block the loop on it), backs off instead of
    spinning, and publishes the row once it is released."""
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        await conn.execute(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "VALUES (%s, 1, now() - interval '1 s')",
            (game,),
        )
        async with await aconnect(sched_settings) as holder:
            # locked before the scheduler starts, so it can never claim the row first
            await holder.execute("BEGIN")
            await holder.execute("SELECT * FROM notification_schedule FOR UPDATE")
            service = SchedulerService(sched_settings, metrics_host="127.0.0.1")
            task = asyncio.create_task(service.run())
            try:
                await wait_until(
                    lambda: (
                        service.metrics.due.labels("reminders")._value.get() == 1 or task.done()
                    ),
                    20,
                    "the loop saw the due row it cannot claim",
                )
                assert not task.done()
                before = await fetch_one(
                    conn,
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
                )
                await asyncio.sleep(1.0)  # an observation window, not synchronisation
                after = await fetch_one(
                    conn,
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
                )
                # a 50 ms retry costs ~3 statements per retry: ~60 a second, not thousands
                assert after - before < 300, after - before
                assert consumer.messages == []
                await holder.execute("ROLLBACK")  # release the lock
                (msg,) = await consumer.wait_for(1, timeout=5)
                assert msg.body["reminder_minutes"] == 1
            finally:
                service.stop()
                assert await asyncio.wait_for(task, 10) == 0


@pytest.mark.parametrize("transport", ["rabbitmq"], indirect=True)
async def test_nothing_is_marked_done_unless_the_broker_confirmed_it(
    sched_settings: Settings, service: SchedulerService
):
    """RabbitMQ only (about publisher confirms; the PostgreSQL sink has none): a broker that
    confirms nothing (every message nacked or lost): not one row is marked done, however often
    the batches are retried; once it confirms again, all go out."""
    calls: list[int] = []

    async def confirm_nothing(conn: Any, messages: Sequence[schemas.Outgoing]) -> list[bool]:
        calls.append(len(messages))
        return [False] * len(messages)

    service.sink.publish = confirm_nothing  # type: ignore[method-assign]
    async with await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        await insert_reminders(conn, game, 5)
        await conn.execute(
            "INSERT INTO event_outbox (routing_key, game_id, payload) "
            "SELECT 'game.created', gen_random_uuid(), '{}' FROM generate_series(1, 3)"
        )
        done_sql = (
            "SELECT (SELECT count(*) FROM notification_schedule WHERE sent) "
            "+ (SELECT count(*) FROM event_outbox WHERE published)"
        )

        async def retried_or_done() -> bool:
            retried = calls.count(5) >= 3 and calls.count(3) >= 3
            return retried or await fetch_one(conn, done_sql) > 0

        await wait_until(retried_or_done, 20, "batches retried")
        assert await fetch_one(conn, done_sql) == 0
        del service.sink.publish  # the real sink again
        await wait_until(
            lambda: fetch_one(conn, f"SELECT ({done_sql}) = 8"),
            30,
            "all done once confirmed",
        )


async def test_status_change_waits_for_a_game_locked_elsewhere(
    sched_settings: Settings, service: SchedulerService
):
    """An API transaction holds the game: its due transition is skipped (not waited for, which
    would stall the loop; not applied under the API's feet) and applied once it is released."""
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn, starts_in="0 s")
        async with await aconnect(sched_settings) as holder:
            await holder.execute("BEGIN")
            # what an UPDATE of the game takes (FOR UPDATE would block the insert's FK check)
            await holder.execute(
                "SELECT * FROM game_sessions WHERE id = %s FOR NO KEY UPDATE", (game,)
            )
            await conn.execute(
                "INSERT INTO game_status_schedule (game_id, target_status, transition_time) "
                "VALUES (%s, 'IN_PROGRESS', now())",
                (game,),
            )
            await wait_until(
                lambda: service.metrics.due.labels("status")._value.get() == 1,
                10,
                "the loop saw the due row whose game it cannot lock",
            )
            assert not await fetch_one(conn, "SELECT executed FROM game_status_schedule")
            assert consumer.messages == []
            await holder.execute("ROLLBACK")
        (msg,) = await consumer.wait_for(1, timeout=5)
        assert msg.body["target_status"] == "IN_PROGRESS"
        await wait_until(
            lambda: fetch_one(
                conn, "SELECT status = 'IN_PROGRESS' FROM game_sessions WHERE id = %s", game
            ),
            5,
            "status applied",
        )


async def test_the_due_gauge_reads_zero_once_a_burst_drains(sched_settings: Settings):
    """``gamesched_scheduler_due_rows`` is counted while a backlog drains; once it has drained and
    the loop sleeps with nothing due, the gauge says 0 (an alert on it must not fire forever)."""
    settings = sched_settings.model_copy(update={"scheduler_batch_size": 50})
    service = SchedulerService(settings, metrics_host="127.0.0.1")
    task = asyncio.create_task(service.run())

    def due() -> float | None:
        return service.metrics.registry.get_sample_value(
            "gamesched_scheduler_due_rows", {"kind": "reminders"}
        )

    try:
        await wait_until(lambda: service.ready()[0] or task.done(), 20, "scheduler ready")
        assert not task.done()
        async with await aconnect(settings) as conn:
            await insert_reminders(conn, await seed_game(conn), 400)  # 8 full batches
            await wait_until(
                lambda: fetch_one(
                    conn, "SELECT count(*) = 0 FROM notification_schedule WHERE NOT sent"
                ),
                30,
                "the burst drained",
            )
        # the drain counted what was due (a full claim); the loop then went to sleep
        assert service.loops[0].published == 400
        await wait_until(lambda: due() == 0, 5, "the due gauge back at 0")
    finally:
        service.stop()
        assert await asyncio.wait_for(task, 10) == 0
