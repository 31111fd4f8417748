"""Replicas, crashes, lost connections and shutdown: nothing is lost, nothing double-claimed.

On both event transports (the ``transport`` fixture) except the broker cut-off, which is about
RabbitMQ itself."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest

from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings
from tests.scheduler._helpers import (
    DaemonProcess,
    TcpProxy,
    aconnect,
    consuming,
    fetch_one,
    flush,
    insert_reminders,
    seed_game,
    wait_until,
)


async def _all_ids(conn) -> set[str]:
    cur = await conn.execute("SELECT id::text FROM notification_schedule")
    return {r[0] for r in await cur.fetchall()}


async def _sent_ids(conn) -> set[str]:
    cur = await conn.execute("SELECT id::text FROM notification_schedule WHERE sent")
    return {r[0] for r in await cur.fetchall()}


async def _wait_sent(conn: Any, count: int) -> None:
    await wait_until(
        lambda: fetch_one(
            conn, "SELECT count(*) >= %s FROM notification_schedule WHERE sent", count
        ),
        60,
        f"{count} rows sent",
        interval=0.01,
    )


async def test_three_replicas_publish_each_row_exactly_once(sched_settings: Settings):
    daemons = [DaemonProcess(sched_settings).start() for _ in range(3)]
    try:
        async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
            for d in daemons:
                await d.wait_ready()
            game = await seed_game(conn)
            await insert_reminders(conn, game, 5000)
            await consumer.wait_for(5000, timeout=90)
            await wait_until(
                lambda: fetch_one(
                    conn,
                    "SELECT count(*) = 5000 FROM notification_schedule "
                    "WHERE sent AND skip_reason IS NULL",
                ),
                30,
                "all rows marked sent",
            )
            for d in daemons:
                d.proc.send_signal(signal.SIGTERM)
            for d in daemons:
                assert d.proc.wait(10) == 0, d.stderr()
            await flush(consumer, sched_settings)
            counts = Counter(consumer.ids())
            assert set(counts) == await _all_ids(conn)
            assert max(counts.values()) == 1, counts.most_common(3)
    finally:
        for d in daemons:
            d.close()


async def test_replica_killed_mid_burst_loses_nothing(sched_settings: Settings):
    total = 20_000
    daemon = DaemonProcess(sched_settings, SCHEDULER_BATCH_SIZE="200").start()
    try:
        async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
            await daemon.wait_ready()
            game = await seed_game(conn)
            await insert_reminders(conn, game, total)
            # mid-burst by the rows marked done (the PostgreSQL transport drains faster than
            # its consumer reads, so the consumer's count would come too late)
            await _wait_sent(conn, 1000)
            daemon.kill()  # SIGKILL, mid-burst
            assert daemon.proc.returncode == -signal.SIGKILL
            sent_at_kill = len(await _sent_ids(conn))
            assert sent_at_kill < total, "burst finished before the kill: test proves nothing"

            restarted = DaemonProcess(sched_settings).start()
            try:
                await restarted.wait_ready()
                await wait_until(
                    lambda: fetch_one(
                        conn, "SELECT count(*) = %s FROM notification_schedule WHERE sent", total
                    ),
                    90,
                    "all rows done after restart",
                )
            finally:
                restarted.close()
            await flush(consumer, sched_settings)
            assert set(consumer.ids()) == await _all_ids(conn)  # at least once, every one
            if sched_settings.transport == "postgres":
                # the killed batches' messages were rolled back with their marks: exactly once
                counts = Counter(consumer.ids())
                assert max(counts.values()) == 1, counts.most_common(3)
    finally:
        daemon.close()


async def test_recovers_from_terminated_database_connections(
    sched_settings: Settings, service: SchedulerService
):
    async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
        game = await seed_game(conn)
        connects = service.listener.connects
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await wait_until(
            lambda: service.listener.connects > connects and service.listener.listening,
            15,
            "listener back",
        )
        received = service.listener.received
        await insert_reminders(conn, game, 3)
        await consumer.wait_for(3, timeout=10)
        assert service.listener.received > received  # woken by NOTIFY (longest sleep is 300 s)
        await wait_until(lambda: service.ready()[0], 10, "ready again")


async def test_listener_reconnect_wakes_the_loops_to_requery(sched_settings: Settings):
    """Only the LISTEN connection is cut (the loops keep theirs): rows written meanwhile sent
    their NOTIFY to no one, so the listener must wake the loops once it is back, well before
    the longest sleep (120 s here) would."""
    pg = urlsplit(sched_settings.libpq_url)
    proxy = TcpProxy(pg.hostname or "127.0.0.1", pg.port or 5432)
    await proxy.start()
    settings = sched_settings.model_copy(update={"scheduler_max_wait_seconds": 120})
    svc = SchedulerService(settings, metrics_host="127.0.0.1")
    svc.listener.url = settings.libpq_url.replace(
        pg.netloc.rsplit("@", 1)[-1], f"127.0.0.1:{proxy.port}"
    )
    task = asyncio.create_task(svc.run())
    try:
        await wait_until(lambda: svc.ready()[0] or task.done(), 20, "ready")
        assert not task.done()
        async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
            game = await seed_game(conn)
            connects = svc.listener.connects
            await proxy.cut()
            await wait_until(lambda: not svc.listener.listening, 20, "listener down")
            await insert_reminders(conn, game, 3)  # their NOTIFY reaches no one
            await conn.execute(
                "INSERT INTO event_outbox (routing_key, game_id, payload) "
                "VALUES ('game.created', gen_random_uuid(), '{}')"
            )
            assert all(loop.connected for loop in svc.loops)
            await proxy.restore()
            # the listener's backoff is capped at 10 s, and was short here
            await consumer.wait_for(4, timeout=15)
            assert svc.listener.connects > connects
            assert sorted(m.routing_key for m in consumer.messages) == [
                "game.created",
                *["game.reminder_due"] * 3,
            ]
    finally:
        svc.stop()
        assert await asyncio.wait_for(task, 10) == 0
        await proxy.close()


@pytest.mark.parametrize("transport", ["rabbitmq"], indirect=True)
async def test_broker_cut_off_leaves_rows_pending_until_it_returns(sched_settings: Settings):
    """RabbitMQ only (about the broker): rows due while the broker is cut off stay pending,
    and all go out once it is back."""
    assert sched_settings.rabbitmq_url is not None
    amqp = urlsplit(sched_settings.rabbitmq_url)
    proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
    await proxy.start()
    via_proxy = sched_settings.rabbitmq_url.replace(
        f"{amqp.hostname}:{amqp.port}", f"127.0.0.1:{proxy.port}"
    )
    svc = SchedulerService(
        sched_settings.model_copy(update={"rabbitmq_url": via_proxy}), metrics_host="127.0.0.1"
    )
    task = asyncio.create_task(svc.run())
    try:
        await wait_until(lambda: svc.ready()[0], 20, "ready")
        async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
            game = await seed_game(conn)
            await proxy.cut()
            await wait_until(lambda: not svc.sink.connected, 10, "broker loss noticed")
            await insert_reminders(conn, game, 100)
            loop = svc.loops[0]
            await wait_until(lambda: loop._failures.count >= 3, 30, "several failed attempts")
            assert (
                await fetch_one(conn, "SELECT count(*) FROM notification_schedule WHERE sent") == 0
            )
            assert not svc.ready()[0]
            await proxy.restore()
            await consumer.wait_for(100, timeout=30)
            await wait_until(
                lambda: fetch_one(
                    conn, "SELECT count(*) = 100 FROM notification_schedule WHERE sent"
                ),
                10,
                "all marked sent",
            )
    finally:
        svc.stop()
        assert await asyncio.wait_for(task, 10) == 0
        await proxy.close()


async def test_sigterm_mid_burst_exits_cleanly_without_unconfirmed_marks(
    sched_settings: Settings,
):
    total = 20_000
    daemon = DaemonProcess(sched_settings, SCHEDULER_BATCH_SIZE="200").start()
    try:
        async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
            await daemon.wait_ready()
            game = await seed_game(conn)
            await insert_reminders(conn, game, total)
            await _wait_sent(conn, 1000)
            start = time.monotonic()
            daemon.proc.send_signal(signal.SIGTERM)
            rc = await asyncio.to_thread(daemon.proc.wait, 10)
            assert time.monotonic() - start < 5
            assert rc == 0, daemon.stderr()
            sent = await _sent_ids(conn)
            assert 0 < len(sent) < total, "burst finished before the signal: test proves nothing"
            await flush(consumer, sched_settings)
            received = Counter(consumer.ids())
            assert sent <= set(received)  # every row marked done was really published
            # and the reverse: the batches in flight were let finish, so every message that went
            # out was marked done (none left to be published again), and none went out twice
            assert set(received) == sent, len(set(received) - sent)
            assert max(received.values()) == 1, received.most_common(3)
    finally:
        daemon.close()
