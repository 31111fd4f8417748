"""Retention against a real PostgreSQL: what is pruned, what is kept, in bounded batches, by one
pruner at a time, and the row-count gauges."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from gamesched import errors
from gamesched.scheduler import retention
from gamesched.scheduler.metrics import SchedulerMetrics
from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings, load_settings
from tests.scheduler._helpers import wait_until
from tests.test_cli import run_cli

OLD = "40 days"  # older than the 30-day period
RECENT = "5 days"


@pytest.fixture
def db(fresh_settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(fresh_settings.libpq_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO guilds (id, discord_guild_id, name) "
            "VALUES ('00000000-0000-0000-0000-000000000001', '1', 'guild')"
        )
        conn.execute(
            "INSERT INTO channels (id, guild_id, discord_channel_id, name) "
            "VALUES ('00000000-0000-0000-0000-000000000002', "
            "'00000000-0000-0000-0000-000000000001', '2', 'channel')"
        )
        yield conn


@pytest.fixture
async def aconn(fresh_settings: Settings) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await retention.connect(fresh_settings.libpq_url)
    async with conn:
        yield conn


def game(db: psycopg.Connection[Any], status: str, starts: str = "-60 days") -> str:
    row = db.execute(
        "INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, status, "
        "host_discord_id) VALUES ('00000000-0000-0000-0000-000000000001', "
        "'00000000-0000-0000-0000-000000000002', 'Game', now() + %s::interval, %s, '3') "
        "RETURNING id::text",
        (starts, status),
    ).fetchone()
    assert row is not None
    return str(row[0])


def reminder(
    db: psycopg.Connection[Any], game_id: str, *, done_ago: str | None, minutes: int = 60
) -> str:
    """A reminder, done (sent) ``done_ago`` before now, or pending (None)."""
    row = db.execute(
        "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time, sent, "
        "sent_at) VALUES (%s, %s, now() - interval '400 days', %s, now() - %s::interval) "
        "RETURNING id::text",
        (game_id, minutes, done_ago is not None, done_ago),
    ).fetchone()
    assert row is not None
    return str(row[0])


def delivery(db: psycopg.Connection[Any], notification_id: str, *, ago: str) -> None:
    db.execute(
        "INSERT INTO reminder_deliveries (notification_id, discord_user_id, notification_time, "
        "delivered_at) VALUES (%s, '4', now() - interval '400 days', now() - %s::interval)",
        (notification_id, ago),
    )


def transition(
    db: psycopg.Connection[Any], game_id: str, *, done_ago: str | None, target: str = "COMPLETED"
) -> str:
    row = db.execute(
        "INSERT INTO game_status_schedule (game_id, target_status, transition_time, executed, "
        "executed_at) VALUES (%s, %s, now() - interval '400 days', %s, now() - %s::interval) "
        "RETURNING id::text",
        (game_id, target, done_ago is not None, done_ago),
    ).fetchone()
    assert row is not None
    return str(row[0])


def outbox(db: psycopg.Connection[Any], game_id: str | None, *, done_ago: str | None) -> str:
    row = db.execute(
        "INSERT INTO event_outbox (routing_key, game_id, payload, available_at, published, "
        "published_at) VALUES ('game.updated', %s, '{}', now() - interval '400 days', %s, "
        "now() - %s::interval) RETURNING id::text",
        (game_id, done_ago is not None, done_ago),
    ).fetchone()
    assert row is not None
    return str(row[0])


def processed(
    db: psycopg.Connection[Any], message_id: str, *, ago: str, routing_key: str = "game.updated"
) -> None:
    """A processed message id; its routing key says which table its row is in (as the bot
    records it: the key the scheduler published the row's message with)."""
    db.execute(
        "INSERT INTO processed_events (message_id, routing_key, processed_at) "
        "VALUES (%s, %s, now() - %s::interval)",
        (message_id, routing_key, ago),
    )


def ids(db: psycopg.Connection[Any], table: str) -> set[str]:
    key = "message_id" if table == "processed_events" else "id::text"
    return {str(r[0]) for r in db.execute(f"SELECT {key} FROM {table}").fetchall()}


def count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


async def test_old_done_rows_go_recent_and_pending_rows_stay(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any]
) -> None:
    completed, cancelled = game(db, "COMPLETED"), game(db, "CANCELLED")
    gone = str(uuid.uuid4())  # an outbox event that outlived its (deleted) game
    old_reminder = reminder(db, completed, done_ago=OLD)
    delivery(db, old_reminder, ago=OLD)
    old = {
        "notification_schedule": {old_reminder, reminder(db, cancelled, done_ago=OLD)},
        "game_status_schedule": {transition(db, completed, done_ago=OLD)},
        "event_outbox": {
            outbox(db, completed, done_ago=OLD),
            outbox(db, cancelled, done_ago=OLD),
            outbox(db, gone, done_ago=OLD),
            outbox(db, None, done_ago=OLD),
        },
    }
    recent_reminder = reminder(db, completed, done_ago=RECENT, minutes=15)
    delivery(db, recent_reminder, ago=RECENT)
    kept = {
        "notification_schedule": {
            recent_reminder,
            reminder(db, completed, done_ago=None, minutes=5),
        },
        "game_status_schedule": {
            transition(db, completed, done_ago=RECENT, target="IN_PROGRESS"),
            transition(db, cancelled, done_ago=None),
        },
        # pending rows however old their due time; a recent one
        "event_outbox": {outbox(db, completed, done_ago=None), outbox(db, None, done_ago=RECENT)},
    }
    processed(db, "not-a-row-id", ago=OLD)
    processed(db, str(uuid.uuid4()), ago=OLD)  # its row was pruned long ago
    processed(db, "recent-id", ago=RECENT)

    result = await retention.prune(aconn, days=30)

    assert result is not None and not result.stopped
    for table, rows in kept.items():
        assert ids(db, table) == rows, table
    assert count(db, "reminder_deliveries") == 1  # the recent reminder's
    assert ids(db, "processed_events") == {"recent-id"}
    assert result.deleted == {
        "reminder_deliveries": 1,
        "notification_schedule": 2,
        "game_status_schedule": 1,
        "event_outbox": 4,
        "processed_events": 2,
    }
    assert all(not (ids(db, t) & rows) for t, rows in old.items())


@pytest.mark.parametrize("status", ["SCHEDULED", "IN_PROGRESS"])
async def test_rows_of_a_game_not_ended_stay_whatever_their_age(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any], status: str
) -> None:
    g = game(db, status, starts="-400 days")
    r = reminder(db, g, done_ago="400 days")
    delivery(db, r, ago="400 days")
    t = transition(db, g, done_ago="400 days", target="IN_PROGRESS")
    o = outbox(db, g, done_ago="400 days")
    # dedup records of rows that may still be published again
    processed(db, r, ago="400 days", routing_key="game.reminder_due")
    processed(db, t, ago="400 days", routing_key="game.status_transition_due")
    processed(db, o, ago="400 days")

    result = await retention.prune(aconn, days=30)

    assert result is not None and result.total == 0
    assert ids(db, "notification_schedule") == {r}
    assert count(db, "reminder_deliveries") == 1
    assert ids(db, "game_status_schedule") == {t}
    assert ids(db, "event_outbox") == {o}
    assert ids(db, "processed_events") == {r, t, o}


async def test_dedup_ids_of_parked_messages_and_of_live_rows_stay(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any]
) -> None:
    completed = game(db, "COMPLETED")
    parked = str(uuid.uuid4())
    db.execute(
        "INSERT INTO event_queue (queue, message_id, routing_key, body, state, parked_at) "
        "VALUES ('gamesched', %s, 'game.cancelled', '{}', 'parked', now())",
        (parked,),
    )
    processed(db, parked, ago=OLD)
    # a done row still within the period: the scheduler could not republish it, but its record
    # goes no sooner than the row itself
    live = outbox(db, completed, done_ago=RECENT)
    processed(db, live, ago=OLD)
    pending = outbox(db, completed, done_ago=None)  # e.g. a crash between confirm and commit
    processed(db, pending, ago=OLD)

    result = await retention.prune(aconn, days=30)

    assert result is not None
    assert ids(db, "processed_events") == {parked, live, pending}


async def test_batches_are_bounded(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any]
) -> None:
    db.execute(
        "INSERT INTO event_outbox (routing_key, payload, published, published_at) "
        "SELECT 'game.updated', '{}', true, now() - interval '40 days' FROM generate_series(1, 35)"
    )
    result = await retention.prune(aconn, days=30, batch_size=10, tables=["event_outbox"])

    assert result is not None
    assert result.deleted["event_outbox"] == 35
    assert result.statements == 4  # 10 + 10 + 10 + 5
    assert count(db, "event_outbox") == 0


async def test_each_batch_commits_on_its_own(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any]
) -> None:
    """A pass stopped after its first batch has still deleted (committed) that batch."""
    db.execute(
        "INSERT INTO event_outbox (routing_key, payload, published, published_at) "
        "SELECT 'game.updated', '{}', true, now() - interval '40 days' FROM generate_series(1, 25)"
    )
    checks = iter([False, True])

    result = await retention.prune(
        aconn, days=30, batch_size=10, tables=["event_outbox"], should_stop=lambda: next(checks)
    )

    assert result is not None and result.stopped
    assert result.statements == 1
    assert count(db, "event_outbox") == 15


async def test_zero_days_keeps_everything(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any]
) -> None:
    completed = game(db, "COMPLETED")
    reminder(db, completed, done_ago="4000 days")
    outbox(db, None, done_ago="4000 days")
    processed(db, "x", ago="4000 days")

    result = await retention.prune(aconn, days=0)

    assert result is not None and result.total == 0 and result.statements == 0
    assert (count(db, "notification_schedule"), count(db, "event_outbox")) == (1, 1)
    assert count(db, "processed_events") == 1


async def test_a_second_pruner_does_not_work_while_one_holds_the_lock(
    db: psycopg.Connection[Any], aconn: psycopg.AsyncConnection[Any], fresh_settings: Settings
) -> None:
    db.execute(
        "INSERT INTO event_outbox (routing_key, payload, published, published_at) "
        "SELECT 'game.updated', '{}', true, now() - interval '40 days' FROM generate_series(1, 50)"
    )
    # the first pruner pauses after each batch until released, so the second surely runs
    # in the middle of its pass
    deleted_once = asyncio.Event()
    release = asyncio.Event()
    real_execute = aconn.execute

    async def paused_execute(query: Any, params: Any = None) -> Any:
        cur = await real_execute(query, params)
        if "DELETE" in str(query):
            deleted_once.set()
            await release.wait()
        return cur

    aconn.execute = paused_execute  # type: ignore[method-assign]
    first = asyncio.create_task(
        retention.prune(aconn, days=30, batch_size=10, tables=["event_outbox"])
    )
    await asyncio.wait_for(deleted_once.wait(), 10)

    other = await retention.connect(fresh_settings.libpq_url)
    async with other:
        second = await retention.prune(other, days=30, batch_size=10, tables=["event_outbox"])
        assert second is None  # it did nothing
        assert count(db, "event_outbox") == 40  # only the first pruner's first batch is gone
        release.set()
        result = await asyncio.wait_for(first, 30)
        assert result is not None and result.deleted["event_outbox"] == 50
        # the lock is free again once the first pass is over
        assert await retention.prune(other, days=30, tables=["event_outbox"]) is not None
    assert count(db, "event_outbox") == 0


async def test_gauges_show_the_row_counts(
    db: psycopg.Connection[Any], fresh_settings: Settings
) -> None:
    completed = game(db, "COMPLETED")
    for minutes in (60, 15, 5):
        reminder(db, completed, done_ago=OLD, minutes=minutes)
    outbox(db, None, done_ago=RECENT)
    outbox(db, None, done_ago=OLD)
    processed(db, "a", ago=RECENT)
    metrics = SchedulerMetrics()
    task = retention.RetentionTask(fresh_settings.libpq_url, days=30, metrics=metrics)

    await task.tick()  # the first tick prunes, then counts

    def sample(name: str, table: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"table": table})

    assert sample("gamesched_table_rows", "notification_schedule") == 0
    assert sample("gamesched_table_rows", "event_outbox") == 1
    assert sample("gamesched_table_rows", "processed_events") == 1
    assert sample("gamesched_table_rows", "reminder_deliveries") == 0
    assert sample("gamesched_retention_pruned_rows_total", "notification_schedule") == 3
    assert sample("gamesched_retention_pruned_rows_total", "event_outbox") == 1
    assert (
        metrics.registry.get_sample_value("gamesched_retention_last_prune_timestamp_seconds") or 0
    ) > 0
    assert task.passes == 1

    outbox(db, None, done_ago=None)
    await task.tick()  # not time to prune again: only counts
    assert sample("gamesched_table_rows", "event_outbox") == 2
    assert task.passes == 1


async def test_large_tables_are_estimated_not_counted(
    db: psycopg.Connection[Any],
    aconn: psycopg.AsyncConnection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db.execute(
        "INSERT INTO processed_events (message_id, routing_key) "
        "SELECT 'm' || i, 'game.updated' FROM generate_series(1, 5000) i"
    )
    db.execute("VACUUM ANALYZE processed_events")
    monkeypatch.setattr(retention, "EXACT_MAX_PAGES", 0)
    db.execute(
        "INSERT INTO processed_events (message_id, routing_key) "
        "SELECT 'n' || i, 'game.updated' FROM generate_series(1, 5000) i"
    )
    counted: list[str] = []
    real_execute = aconn.execute

    async def spy(query: Any, params: Any = None) -> Any:
        counted.append(str(query))
        return await real_execute(query, params)

    aconn.execute = spy  # type: ignore[method-assign]

    counts = await retention.row_counts(aconn)

    # the estimate follows the table's size past its last analyse: about 10,000, not 5,000
    assert 9000 <= counts["processed_events"] <= 11000
    assert not any("count(*)" in q and "processed_events" in q for q in counted)


async def test_a_failing_prune_logs_once_keeps_going_and_recovers(
    caplog: pytest.LogCaptureFixture, fresh_settings: Settings
) -> None:
    metrics = SchedulerMetrics()
    task = retention.RetentionTask(
        "postgresql://postgres@127.0.0.1:9/nowhere", days=30, metrics=metrics, count_interval=0.05
    )
    attempts = 0
    real_tick = task.tick

    async def counting_tick() -> None:
        nonlocal attempts
        attempts += 1
        await real_tick()

    task.tick = counting_tick  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="gamesched.scheduler.retention"):
        run = asyncio.create_task(task.run())
        await wait_until(lambda: attempts >= 4 or run.done(), 20, "several failed ticks")
        assert not run.done()
        task.database_url = fresh_settings.libpq_url  # the database is back
        await wait_until(lambda: task.passes >= 1 or run.done(), 20, "a pass after recovery")
        task.stop()
        await asyncio.wait_for(run, 5)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "retention failing" in m]) == 1, messages
    assert len([m for m in messages if "retention recovered" in m]) == 1, messages


async def test_the_daemon_prunes_at_start_and_serves_the_gauges(
    db: psycopg.Connection[Any], fresh_settings: Settings
) -> None:
    outbox(db, None, done_ago=OLD)
    keep = outbox(db, None, done_ago=RECENT)
    settings = fresh_settings.model_copy(
        update={
            "gamesched_transport": "postgres",
            "rabbitmq_url": None,
            "gamesched_exchange": f"gamesched.ret.{uuid.uuid4().hex[:8]}",
        }
    )
    svc = SchedulerService(settings, metrics_host="127.0.0.1")
    run = asyncio.create_task(svc.run())
    try:
        await wait_until(lambda: svc.retention.passes >= 1 or run.done(), 20, "first prune pass")
        assert not run.done()
        assert ids(db, "event_outbox") == {keep}
        # the counts follow the pass, in the same tick
        await wait_until(
            lambda: (
                svc.metrics.registry.get_sample_value(
                    "gamesched_table_rows", {"table": "event_outbox"}
                )
                == 1
            ),
            10,
            "the outbox gauge",
        )
        async with httpx.AsyncClient() as client:
            port = svc.health.port
            body = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert 'gamesched_table_rows{table="event_outbox"} 1.0' in body
    finally:
        svc.stop()
        assert await asyncio.wait_for(run, 10) == 0


def test_retention_days_is_validated(fresh_settings: Settings) -> None:
    assert fresh_settings.gamesched_retention_days == 30
    assert load_settings(gamesched_retention_days=0).gamesched_retention_days == 0
    for bad in (-1, 36501):
        with pytest.raises(errors.ConfigError, match="GAMESCHED_RETENTION_DAYS"):
            load_settings(gamesched_retention_days=bad)


def test_prune_command_runs_one_pass_and_prints_counts(
    db: psycopg.Connection[Any], fresh_settings: Settings
) -> None:
    outbox(db, None, done_ago=OLD)
    outbox(db, None, done_ago=RECENT)
    result = run_cli("prune", DATABASE_URL=fresh_settings.database_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("pruned 1 rows done over 30 days ago in "), lines
    assert "event_outbox 1" in lines[0]
    assert "event_outbox 1" in lines[1] and lines[1].startswith("rows now: ")
    assert ids(db, "event_outbox") != set() and count(db, "event_outbox") == 1

    off = run_cli("prune", DATABASE_URL=fresh_settings.database_url, GAMESCHED_RETENTION_DAYS="0")
    assert off.returncode == 0, off.stderr
    assert off.stdout.splitlines()[0] == "GAMESCHED_RETENTION_DAYS is 0: nothing is pruned"


def test_prune_command_configuration_errors_are_one_line() -> None:
    for env in (
        {"DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"},
        {"GAMESCHED_RETENTION_DAYS": "-1"},
    ):
        result = run_cli("prune", timeout=20, **env)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "hunter2" not in result.stderr
