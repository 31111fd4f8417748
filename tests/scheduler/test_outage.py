"""A broker outage with rows due throughout: the daemon stays up, backs off (a low, bounded load
on PostgreSQL), logs once per change of state and publishes everything exactly once afterwards."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest

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

OUTAGE_SECONDS = 32.0
# Backing off (cap 10 s) the daemon needs well under one transaction a second: a claim per
# retry and kind with rows due, a keepalive on the LISTEN connection every 15 s, a count of due
# rows now and then. 5/s leaves a wide margin for a noisy machine and is still two orders of
# magnitude below the spin this guards against (about 600/s before the fix).
MAX_XACT_PER_SECOND = 5.0

XACT_SQL = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"


async def _insert_outbox(conn: Any, count: int, *, due_in: str = "0 s") -> None:
    await conn.execute(
        "INSERT INTO event_outbox (routing_key, game_id, payload, available_at) "
        "SELECT 'game.created', gen_random_uuid(), jsonb_build_object('n', g), "
        "now() + %s::interval FROM generate_series(1, %s) g",
        (due_in, count),
    )


async def _xact(conn: Any) -> int:
    # statistics reach pg_stat_database up to a second late: ask on a fresh snapshot
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return int(await fetch_one(conn, XACT_SQL))


def _log_records(stderr: str) -> list[dict[str, Any]]:
    records = []
    for line in stderr.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rabbitmq"], indirect=True)
async def test_broker_outage_with_rows_due_backs_off_and_catches_up(sched_settings: Settings):
    """RabbitMQ only (about the broker): see the module's docstring."""
    assert sched_settings.rabbitmq_url is not None
    amqp = urlsplit(sched_settings.rabbitmq_url)
    proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
    await proxy.start()
    via_proxy = sched_settings.rabbitmq_url.replace(
        f"{amqp.hostname}:{amqp.port}", f"127.0.0.1:{proxy.port}"
    )
    settings = sched_settings.model_copy(update={"rabbitmq_url": via_proxy})
    daemon = DaemonProcess(settings, LOG_FORMAT="json")
    try:
        async with consuming(sched_settings) as consumer, await aconnect(sched_settings) as conn:
            daemon.start()
            await daemon.wait_ready()
            game = await seed_game(conn)
            await proxy.cut()
            outage_started = time.monotonic()
            # due at once, due a few seconds into the outage (the timed wake-up), and more
            # written half-way through (NOTIFYs during the backoff)
            await _insert_outbox(conn, 50)
            await insert_reminders(conn, game, 20)
            await _insert_outbox(conn, 30, due_in="3 s")
            await wait_until(
                lambda: fetch_one(
                    conn, "SELECT count(*) = 80 FROM event_outbox WHERE available_at <= now()"
                ),
                10,
                "the delayed rows due",
                interval=0.2,
            )
            before = await _xact(conn)
            measured_from = time.monotonic()
            await asyncio.sleep(OUTAGE_SECONDS / 2)  # an observation window
            await _insert_outbox(conn, 40)
            await conn.execute(
                "INSERT INTO notification_schedule (game_id, reminder_minutes, "
                "notification_time) SELECT %s, 1000 + g, now() FROM generate_series(1, 10) g",
                (game,),
            )
            await asyncio.sleep(outage_started + OUTAGE_SECONDS - time.monotonic())
            after = await _xact(conn)
            rate = (after - before) / (time.monotonic() - measured_from)
            assert daemon.proc is not None and daemon.proc.poll() is None, daemon.stderr()
            assert rate < MAX_XACT_PER_SECOND, f"{rate:.1f} transactions/s during the outage"
            assert consumer.messages == []
            assert await fetch_one(conn, "SELECT count(*) FROM event_outbox WHERE published") == 0

            await proxy.restore()
            await consumer.wait_for(150, timeout=40)
            await wait_until(
                lambda: fetch_one(
                    conn,
                    "SELECT (SELECT count(*) FROM event_outbox WHERE published) = 120 "
                    "AND (SELECT count(*) FROM notification_schedule WHERE sent "
                    "AND skip_reason IS NULL) = 30",
                ),
                20,
                "every row marked done",
            )
            daemon.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(daemon.proc.wait, 10) == 0
            await flush(consumer, sched_settings)
            counts = Counter(consumer.ids())
            cur = await conn.execute(
                "SELECT id::text FROM event_outbox UNION ALL "
                "SELECT id::text FROM notification_schedule"
            )
            assert set(counts) == {r[0] for r in await cur.fetchall()}
            assert max(counts.values()) == 1, counts.most_common(3)
            print(f"xact/s during the outage: {rate:.2f}")

        records = _log_records(daemon.stderr())
        failing = [r for r in records if "failing" in r.get("msg", "")]
        recovered = [r for r in records if "recovered" in r.get("msg", "")]
        # one line when a kind starts failing and one when it recovers: not one per attempt
        assert 1 <= len(failing) <= 4, [r["msg"] for r in failing]
        assert len(recovered) >= 1, "\n".join(r["msg"] for r in records)
    finally:
        daemon.close()
        await proxy.close()
