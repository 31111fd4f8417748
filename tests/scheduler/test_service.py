"""The scheduler process: start-up checks, health endpoints, the monitor, --kinds."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from gamesched import errors
from gamesched.db import engine as db_engine
from gamesched.scheduler import kinds
from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings
from tests.conftest import RABBITMQ_URL, SERVER_URL, database_url
from tests.scheduler._helpers import (
    aconnect,
    fetch_one,
    free_port,
    insert_reminders,
    seed_game,
    wait_until,
)


def run_scheduler(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "gamesched", "scheduler"],
        env={**os.environ, "RABBITMQ_URL": RABBITMQ_URL, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_unmigrated_database_is_a_one_line_error():
    name = f"gst_empty_{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=database_url(name))
    db_engine.create_database(settings)
    try:
        result = run_scheduler({"DATABASE_URL": database_url(name)})
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "gamesched migrate" in result.stderr
    finally:
        db_engine.drop_database(SERVER_URL, name)


def test_unreachable_broker_ends_within_15_seconds(fresh_settings: Settings):
    start = time.monotonic()
    result = run_scheduler(
        {
            "DATABASE_URL": fresh_settings.database_url,
            "RABBITMQ_URL": "amqp://guest:s3cret@127.0.0.1:1/",
            "METRICS_PORT": "0",
        }
    )
    assert time.monotonic() - start < 15
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "RabbitMQ" in result.stderr and "s3cret" not in result.stderr


def test_max_wait_must_be_below_the_notify_horizon(fresh_settings: Settings):
    result = run_scheduler(
        {"DATABASE_URL": fresh_settings.database_url, "SCHEDULER_MAX_WAIT_SECONDS": "900"}
    )
    assert result.returncode == 2
    assert "horizon" in result.stderr


def test_unknown_kind_is_rejected():
    with pytest.raises(errors.ConfigError, match="unknown kind"):
        kinds.parse_kinds("reminders,nope")
    assert [k.name for k in kinds.parse_kinds("outbox, status")] == ["outbox", "status"]
    assert len(kinds.parse_kinds(None)) == 3


async def test_health_endpoints(sched_settings: Settings):
    port = free_port()
    svc = SchedulerService(
        sched_settings.model_copy(update={"metrics_port": port}), metrics_host="127.0.0.1"
    )
    task = asyncio.create_task(svc.run())
    try:
        await wait_until(lambda: svc.ready()[0], 20, "ready")
        async with await aconnect(sched_settings) as conn:
            await insert_reminders(conn, await seed_game(conn), 2)
        await wait_until(lambda: svc.loops[0].published == 2, 10, "published")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert 'gamesched_scheduler_published_total{kind="reminders"} 2.0' in metrics
            assert 'gamesched_scheduler_lateness_seconds_count{kind="reminders"} 2.0' in metrics
            assert "gamesched_scheduler_due_rows" in metrics
            assert "gamesched_scheduler_last_loop_timestamp_seconds" in metrics
            assert (await client.get("/nope")).status_code == 404
    finally:
        svc.stop()
        assert await asyncio.wait_for(task, 10) == 0


async def test_a_dead_loop_stops_the_process_loudly(
    sched_settings: Settings, caplog: pytest.LogCaptureFixture
):
    def explode(rows: object) -> list[kinds.Planned]:
        raise RuntimeError("bug in a planner")

    broken = dataclasses.replace(kinds.REMINDERS, plan=explode)
    svc = SchedulerService(sched_settings, [broken], metrics_host="127.0.0.1")
    task = asyncio.create_task(svc.run())
    await wait_until(lambda: svc.ready()[0], 20, "ready")
    async with await aconnect(sched_settings) as conn:
        await insert_reminders(conn, await seed_game(conn), 1)
    assert await asyncio.wait_for(task, 15) == 1
    assert any(
        r.levelname == "CRITICAL" and "loop-reminders" in r.getMessage() for r in caplog.records
    )
    async with await aconnect(sched_settings) as conn:
        cur = await conn.execute("SELECT count(*) FROM notification_schedule WHERE NOT sent")
        assert (await cur.fetchone()) == (1,)  # nothing marked done by the broken loop


@pytest.mark.parametrize("transport", ["postgres"], indirect=True)
async def test_postgres_transport_needs_no_broker_to_be_ready(
    sched_settings: Settings, caplog: pytest.LogCaptureFixture
):
    """PostgreSQL only: with a RABBITMQ_URL that leads nowhere but GAMESCHED_TRANSPORT=postgres,
    the scheduler neither checks nor waits for a broker: it is ready once the database is
    connected and listening, says at start-up which transport it uses, and publishes."""
    settings = sched_settings.model_copy(update={"rabbitmq_url": "amqp://guest:guest@127.0.0.1:1/"})
    assert settings.transport == "postgres"
    caplog.set_level("INFO", logger="gamesched.scheduler.service")
    svc = SchedulerService(settings, metrics_host="127.0.0.1")
    task = asyncio.create_task(svc.run())
    try:
        await wait_until(lambda: svc.ready()[0] or task.done(), 10, "ready")
        assert not task.done()
        (line,) = [r.getMessage() for r in caplog.records if "events via" in r.getMessage()]
        assert "PostgreSQL queue table event_queue" in line and settings.database_name in line
        async with await aconnect(settings) as conn:
            await insert_reminders(conn, await seed_game(conn), 2)
            await wait_until(
                lambda: fetch_one(conn, "SELECT count(*) = 2 FROM event_queue"), 10, "queued"
            )
    finally:
        svc.stop()
        assert await asyncio.wait_for(task, 10) == 0
