"""Retention: prune N done rows while a claimer works the outbox, and what it costs the claims.

On a database of its own: ``--games`` completed games, each with 2 sent reminders (one delivery
each), 2 executed transitions, 2 published outbox events and their 2 processed ids, all done 40
days ago: 10 prunable rows per game (100,000 games = 1M rows). Meanwhile a producer inserts outbox
rows due now (``--rate`` per second) and a claimer runs the scheduler's own claim and mark-done
statements (``gamesched.db.claims``) on them, one transaction per batch, as the daemon does; a
sampler reads ``pg_locks`` every 10 ms for the longest lock wait in this database.

Phases: ``baseline`` (claims alone, ``--baseline`` seconds), ``prune`` (one retention pass,
``gamesched.scheduler.retention.prune``, batch ``--batch``), then, with the same number of rows
refilled as *recent* (nothing to prune), ``noop``: a pass that finds nothing, and the time of an
exact ``count(*)`` of each table against the estimate the gauges use. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks import _db, _stats
from benchmarks._machine import cpu_model
from gamesched.db import claims
from gamesched.scheduler import retention
from gamesched.settings import Settings

FILL = [
    "INSERT INTO guilds (id, discord_guild_id, name) "
    "VALUES ('00000000-0000-0000-0000-000000000001', '1', 'bench') ON CONFLICT DO NOTHING",
    "INSERT INTO channels (id, guild_id, discord_channel_id, name) "
    "VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', "
    "'2', 'bench') ON CONFLICT DO NOTHING",
    "CREATE TEMP TABLE new_games AS "
    "SELECT gen_random_uuid() AS id FROM generate_series(1, %(games)s)",
    "INSERT INTO game_sessions (id, guild_id, channel_id, title, scheduled_at, status, "
    "host_discord_id) SELECT id, '00000000-0000-0000-0000-000000000001', "
    "'00000000-0000-0000-0000-000000000002', 'bench', now() - interval '60 days', 'COMPLETED', "
    "'3' FROM new_games",
    "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time, sent, "
    "sent_at) SELECT g.id, m, now() - interval '60 days', true, now() - %(age)s::interval "
    "FROM new_games g, (VALUES (60), (15)) v(m)",
    "INSERT INTO reminder_deliveries (notification_id, discord_user_id, notification_time, "
    "delivered_at) SELECT n.id, '4', n.notification_time, now() - %(age)s::interval "
    "FROM notification_schedule n JOIN new_games g ON g.id = n.game_id",
    "INSERT INTO game_status_schedule (game_id, target_status, transition_time, executed, "
    "executed_at) SELECT g.id, s, now() - interval '60 days', true, now() - %(age)s::interval "
    "FROM new_games g, (VALUES ('IN_PROGRESS'), ('COMPLETED')) v(s)",
    "CREATE TEMP TABLE new_events AS SELECT gen_random_uuid() AS id, g.id AS game_id "
    "FROM new_games g, generate_series(1, 2)",
    "INSERT INTO event_outbox (id, routing_key, game_id, payload, available_at, published, "
    "published_at) SELECT e.id, 'game.updated', e.game_id, jsonb_build_object('game_id', "
    "e.game_id), now() - interval '60 days', true, now() - %(age)s::interval FROM new_events e",
    "INSERT INTO processed_events (message_id, routing_key, processed_at) "
    "SELECT id::text, 'game.updated', now() - %(age)s::interval FROM new_events",
    "DROP TABLE new_games",
    "DROP TABLE new_events",
]

LOCK_WAIT = (
    "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - waitstart)), 0)::float8 "
    "FROM pg_locks WHERE NOT granted AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


def fill(url: str, games: int, age: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for stmt in FILL:
            conn.execute(stmt, {"games": games, "age": age})
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


class Workload:
    """Producer, claimer and lock sampler, recording into the current phase's lists."""

    def __init__(self, url: str, rate: float) -> None:
        self.url = url
        self.rate = rate
        self.stop = asyncio.Event()
        self.claim_ms: list[float] = []  # claim statement
        self.txn_ms: list[float] = []  # claim + mark done + commit
        self.lateness_ms: list[float] = []  # due -> marked done (database clock)
        self.lock_wait_ms = 0.0

    def reset(self) -> None:
        self.claim_ms, self.txn_ms, self.lateness_ms = [], [], []
        self.lock_wait_ms = 0.0

    async def produce(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            interval = 1.0 / self.rate
            next_at = time.monotonic()
            while not self.stop.is_set():
                await conn.execute(
                    "INSERT INTO event_outbox (routing_key, payload) VALUES ('game.updated', '{}')"
                )
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def claim(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                rows = await claims.claim_due(conn, claims.OUTBOX, limit=500)
                t1 = time.perf_counter()
                late = await claims.mark_done(
                    conn, claims.OUTBOX, done=[(r.id, None) for r in rows]
                )
                await conn.commit()
                t2 = time.perf_counter()
                if rows:
                    self.claim_ms.append((t1 - t0) * 1000)
                    self.txn_ms.append((t2 - t0) * 1000)
                    self.lateness_ms += [x * 1000 for x in late]
                else:
                    await asyncio.sleep(0.005)

    async def sample_locks(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                cur = await conn.execute(LOCK_WAIT)
                row = await cur.fetchone()
                if row:
                    self.lock_wait_ms = max(self.lock_wait_ms, float(row[0]) * 1000)
                await asyncio.sleep(0.01)

    def summary(self, seconds: float) -> dict[str, Any]:
        def r(d: dict[str, float | int | None]) -> dict[str, float | int | None]:
            return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}

        return {
            "seconds": round(seconds, 2),
            "claimed": len(self.lateness_ms),
            "claim_statement_ms": r(_stats.summarize(self.claim_ms)),
            "claim_transaction_ms": r(_stats.summarize(self.txn_ms)),
            "lateness_ms": r(_stats.summarize(self.lateness_ms)),
            "max_lock_wait_ms": round(self.lock_wait_ms, 1),
        }


async def row_counts_timed(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with await retention.connect(url) as conn:
        t0 = time.perf_counter()
        estimates = await retention.row_counts(conn)
        out["gauge_refresh_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        out["estimates"] = estimates
        exact: dict[str, int] = {}
        t0 = time.perf_counter()
        for table in retention.TABLES:
            cur = await conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
            )
            row = await cur.fetchone()
            exact[table] = int(row[0]) if row else 0
        out["exact_count_all_tables_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        out["exact"] = exact
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    db_url, name = _db.create(args.database_url, prefix="gsbench_ret")
    url = Settings(database_url=db_url, rabbitmq_url=None).libpq_url
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": f"{os.cpu_count()} x {cpu_model()}",
        "load_average_before": os.getloadavg(),
        "games": args.games,
        "batch": args.batch,
        "claim_rate_per_s": args.rate,
    }
    try:
        result["fill_seconds"] = round(fill(url, args.games, "40 days"), 1)
        async with await retention.connect(url) as conn:
            result["rows_before"] = await retention.row_counts(conn)
        work = Workload(url, args.rate)
        tasks = [
            asyncio.create_task(work.produce()),
            asyncio.create_task(work.claim()),
            asyncio.create_task(work.sample_locks()),
        ]
        try:
            await asyncio.sleep(1.0)  # warm up
            work.reset()
            t0 = time.perf_counter()
            await asyncio.sleep(args.baseline)
            result["baseline"] = work.summary(time.perf_counter() - t0)
            work.reset()
            t0 = time.perf_counter()
            deleted: dict[str, int] = {}
            per_table: dict[str, float] = {}
            statements = 0
            async with await retention.connect(url) as conn:
                for table in retention.TABLES:  # the order of a pass, timed table by table
                    t1 = time.perf_counter()
                    pruned = await retention.prune(
                        conn, days=30, batch_size=args.batch, tables=[table]
                    )
                    assert pruned is not None
                    per_table[table] = round(time.perf_counter() - t1, 2)
                    deleted[table] = pruned.deleted[table]
                    statements += pruned.statements
            took = time.perf_counter() - t0
            result["prune"] = work.summary(took)
            result["prune"]["deleted"] = deleted
            result["prune"]["seconds_by_table"] = per_table
            result["prune"]["statements"] = statements
            result["prune"]["rows_per_s"] = round(sum(deleted.values()) / took)
        finally:
            work.stop.set()
            await asyncio.gather(*tasks)
        if not args.skip_noop:
            result["refill_seconds"] = round(fill(url, args.games, "5 days"), 1)
            async with await retention.connect(url) as conn:
                t0 = time.perf_counter()
                noop = await retention.prune(conn, days=30, batch_size=args.batch)
                assert noop is not None and noop.total == 0
                result["noop_pass_seconds"] = round(time.perf_counter() - t0, 2)
            result["counts"] = await row_counts_timed(url)
        result["load_average_after"] = os.getloadavg()
        return result
    finally:
        _db.drop(db_url, name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--games", type=int, default=100_000, help="10 prunable rows per game")
    p.add_argument("--batch", type=int, default=retention.DEFAULT_BATCH)
    p.add_argument("--rate", type=float, default=200.0, help="outbox rows due per second")
    p.add_argument("--baseline", type=float, default=10.0, help="seconds of claims alone")
    p.add_argument("--skip-noop", action="store_true")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    return p.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args())), indent=2))
