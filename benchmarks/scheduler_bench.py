#!/usr/bin/env python3
"""Benchmarks of the ``gamesched scheduler`` daemon, measured at a consumer on the exchange.

Run by hand from the repository root with the project's venv:

    .venv/bin/python -m benchmarks.scheduler_bench wake
    .venv/bin/python -m benchmarks.scheduler_bench accuracy
    .venv/bin/python -m benchmarks.scheduler_bench burst --rows 100000 --replicas 3
    .venv/bin/python -m benchmarks.scheduler_bench scale
    .venv/bin/python -m benchmarks.scheduler_bench all

(tests/benchmarks/test_smoke.py runs each scenario with tiny sizes and checks only that it
completes.)

Each scenario uses a fresh database and a fresh exchange ``bench.<uuid>``, starts the daemon(s)
and waits for /readyz before inserting rows, and removes the database, the exchange and the
daemon's queues afterwards. Results are printed and written to ``benchmarks/results/*.json``
(``--results-dir`` elsewhere).
See docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shlex
import sys
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

from benchmarks import _cpu, _db, _machine, _metrics, _pyspy, _results
from benchmarks._consumer import Consumer, delete_topology, rabbitmq_version
from benchmarks._daemon import Daemon, free_port
from benchmarks._report import print_result
from benchmarks._stats import summarize


@dataclass
class Options:
    database_url: str
    rabbitmq_url: str
    daemon_cmd: list[str]
    batch_size: int | None
    log_level: str
    kinds: str | None
    ready_timeout: float
    py_spy: bool
    run_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    transport: str = "rabbitmq"  # GAMESCHED_TRANSPORT of the daemons; the consumer follows it


class Environment:
    """One scenario's database, exchange, consumer and daemons; all removed on exit."""

    def __init__(self, opts: Options, label: str, db: tuple[str, str] | None = None) -> None:
        self.opts = opts
        self.label = label
        self.own_db = db is None
        self.db = db
        self.exchange = f"bench.{uuid.uuid4().hex[:12]}"
        self.consumer = Consumer(opts.rabbitmq_url, self.exchange)
        self.daemons: list[Daemon] = []

    async def __aenter__(self) -> Environment:
        if self.db is None:
            self.db = await asyncio.to_thread(_db.create, self.opts.database_url)
        if self.opts.transport == "postgres":  # the queue table of the database just created
            self.consumer = Consumer(self.url, self.exchange, receiver_name="pgqueue")
        try:
            await self.consumer.start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    @property
    def url(self) -> str:
        assert self.db is not None
        return self.db[0]

    def names(self) -> dict[str, str]:
        """Where this scenario ran (both removed afterwards), recorded with its result."""
        assert self.db is not None
        return {"database": self.db[1], "exchange": self.exchange}

    def start_daemons(self, replicas: int, max_wait: float) -> list[float]:
        """Start ``replicas`` daemons and wait for each /readyz; return the seconds each took."""
        env = {
            "DATABASE_URL": self.url,
            "GAMESCHED_TRANSPORT": self.opts.transport,
            "GAMESCHED_EXCHANGE": self.exchange,
            "SCHEDULER_MAX_WAIT_SECONDS": str(max_wait),
            "LOG_LEVEL": self.opts.log_level,
            **self.opts.extra_env,
        }
        if self.opts.transport == "rabbitmq":
            env["RABBITMQ_URL"] = self.opts.rabbitmq_url
        if self.opts.batch_size is not None:
            env["SCHEDULER_BATCH_SIZE"] = str(self.opts.batch_size)
        cmd = list(self.opts.daemon_cmd)
        if self.opts.kinds:
            cmd += ["--kinds", self.opts.kinds]
        for i in range(replicas):
            log = self.opts.run_dir / f"{self.label}-daemon{i}.log"
            daemon = Daemon(cmd, env, log, free_port())
            self.daemons.append(daemon)
            daemon.start()
        return [round(d.wait_ready(self.opts.ready_timeout), 3) for d in self.daemons]

    def stop_daemons(self) -> list[dict[str, Any]]:
        return [d.stop() for d in self.daemons]

    async def __aexit__(self, *exc: object) -> None:
        for d in self.daemons:
            with suppress(Exception):
                d.stop()
        with suppress(Exception):
            await self.consumer.close()
        try:
            if self.opts.transport == "rabbitmq":
                await delete_topology(self.opts.rabbitmq_url, self.exchange)
        except Exception as err:
            print(f"    warning: could not delete exchange {self.exchange}: {err}")
        if self.own_db and self.db is not None:
            await asyncio.to_thread(_db.drop, *self.db)


def _epoch(ts: datetime | None) -> float | None:
    return None if ts is None else ts.timestamp()


def _done_stats(rows: list[_db.ScheduleRow]) -> dict[str, Any]:
    """The daemon's own record: sent_at - notification_time, skipped and pending counts."""
    sent_at = [(r, r.sent_at.timestamp()) for r in rows if r.sent_at is not None]
    return {
        "sent_at_lateness": summarize(
            t - r.notification_time.timestamp() for r, t in sent_at if r.sent
        ),
        "skipped": sum(1 for r in rows if r.sent and r.skip_reason is not None),
        "not_done": sum(1 for r in rows if not r.sent),
        "max_sent_at": max((t for _, t in sent_at), default=None),
    }


async def _sample_memory(daemons: list[Daemon], peaks: dict[int, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for d in daemons:
            mem = d.memory()
            peaks[d.pid] = max(peaks.get(d.pid, 0), mem.get("VmHWM", 0), mem.get("VmRSS", 0))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _daemon_view(daemons: list[Daemon]) -> list[dict[str, Any]]:
    texts = [d.metrics() for d in daemons]
    return _metrics.merge([_metrics.lateness_histograms(t) for t in texts if t])


# -- scenarios ------------------------------------------------------------------------------


async def wake(
    opts: Options, trials: int = 200, db: tuple[str, str] | None = None, label: str = "wake"
) -> dict[str, Any]:
    """Commit of one row due now -> its arrival at the consumer, ``trials`` times, one daemon."""
    print(f"== {label}: {trials} trials, 1 daemon idle with SCHEDULER_MAX_WAIT_SECONDS=300")
    load = _machine.load_average()
    async with Environment(opts, label, db) as env:
        ready = await asyncio.to_thread(env.start_daemons, 1, 300)
        tag = f"{label}-{uuid.uuid4().hex[:8]}"
        with _db.connect(env.url) as conn:
            _db.create_games(conn, tag, 1, "30 days")
            game_id = _db.scalar(conn, "SELECT id FROM game_sessions WHERE title = %s", (tag,))
        rng = random.Random(1)
        latencies: list[float] = []
        lateness: list[float] = []
        lost = 0
        aconn = await _db.aconnect(env.url, autocommit=True)
        try:
            await asyncio.sleep(1.0)
            for i in range(trials):
                async with aconn.transaction():
                    cur = await aconn.execute(
                        "INSERT INTO notification_schedule "
                        "(game_id, reminder_minutes, notification_time) "
                        "VALUES (%s, %s, now()) RETURNING id::text, notification_time",
                        (game_id, _db.MINUTES_BASE + i),
                    )
                    row = await cur.fetchone()
                committed = time.perf_counter()
                assert row is not None
                arrival = await env.consumer.wait_for(row[0], limit=10.0)
                if arrival is None:
                    lost += 1
                else:
                    latencies.append(arrival.perf - committed)
                    lateness.append(arrival.wall - row[1].timestamp())
                await asyncio.sleep(0.05 + rng.random() * 0.1)
        finally:
            await aconn.close()
        await asyncio.sleep(0.5)
        daemon_view = _daemon_view(env.daemons)
        stops = env.stop_daemons()
        with _db.connect(env.url) as conn:
            done = _done_stats(_db.rows_of(conn, tag))
    return {
        "scenario": label,
        **env.names(),
        "load_average_at_start": load,
        "trials": trials,
        "ready_seconds": ready,
        "commit_to_arrival": summarize(latencies),
        "due_to_arrival": summarize(lateness),
        "not_arrived_within_10s": lost,
        "duplicates": env.consumer.duplicates,
        "daemon_sent_at": done,
        "daemon_metrics": daemon_view,
        "daemon_stop": stops,
    }


async def _timed_rows(
    opts: Options,
    label: str,
    rows: int,
    replicas: int,
    due_sql: LiteralString,
    lead: float,
    span: float,
    db: tuple[str, str] | None,
    batch: int | None = None,
) -> dict[str, Any]:
    """Insert ``rows`` rows (one statement) due ``lead`` s ahead and spread over ``span`` s;
    wait for all of them at the consumer; lateness, drain rate, daemon view and memory."""
    load = _machine.load_average()
    async with Environment(opts, label, db) as env:
        ready = await asyncio.to_thread(env.start_daemons, replicas, 300)
        tag = f"{label}-{uuid.uuid4().hex[:8]}"
        conn = await asyncio.to_thread(_db.connect, env.url)
        try:
            await asyncio.to_thread(
                _db.create_games, conn, tag, -(-rows // _db.PER_GAME), "30 days"
            )
            due = datetime.now(UTC) + timedelta(seconds=lead)
            params = {"due": due, "span": span}
            insert_start = time.time()
            committed = await asyncio.to_thread(
                _db.insert_rows_only, conn, tag, rows, due_sql, **params
            )
            expected = await asyncio.to_thread(_db.rows_of, conn, tag)
        finally:
            conn.close()
        due_epoch = due.timestamp()
        print(
            f"    inserted {rows} rows in {committed - insert_start:.2f} s; "
            f"commit {committed - due_epoch:+.2f} s relative to the first due time"
        )
        due_of = {r.id: r.notification_time.timestamp() for r in expected}
        peaks: dict[int, int] = {}
        stop_sampling = asyncio.Event()
        sampler = asyncio.create_task(_sample_memory(env.daemons, peaks, stop_sampling))
        spy = None
        spy_started = spy_seconds = 0.0
        spy_out = opts.run_dir / f"{label}-pyspy.raw"
        if opts.py_spy:
            await asyncio.sleep(max(0.0, due_epoch - time.time() - 0.2))
            spy = _pyspy.start(env.daemons[0].pid, 600, spy_out)
            spy_started = time.time()
        deadline = time.monotonic() + max(0.0, due_epoch - time.time()) + span + 60 + rows / 200
        # CPU is counted from the first due time, so the wait before it does not dilute "busy".
        await asyncio.sleep(max(0.0, due_epoch - time.time()))
        cpu_start = _cpu.snapshot([d.pid for d in env.daemons])
        missing = await env.consumer.wait_all(set(due_of), deadline)
        cpu_end = _cpu.snapshot([d.pid for d in env.daemons])
        await asyncio.sleep(1.0)  # let late duplicates show up
        stop_sampling.set()
        await sampler
        daemon_view = _daemon_view(env.daemons)
        memory = {d.pid: d.memory() for d in env.daemons}
        profile_err = ""
        if spy is not None:
            spy_seconds = time.time() - spy_started
            profile_err = _pyspy.stop(spy)
        stops = env.stop_daemons()
        with _db.connect(env.url) as conn2:
            done = _done_stats(_db.rows_of(conn2, tag))
        arrivals = env.consumer.arrivals
        lateness = [arrivals[i].wall - t for i, t in due_of.items() if i in arrivals]
        got = [arrivals[i].wall for i in due_of if i in arrivals]
        last = max(got, default=None)
        first = min(got, default=None)
        result: dict[str, Any] = {
            "scenario": label,
            **env.names(),
            "load_average_at_start": load,
            "rows": rows,
            "replicas": replicas,
            "batch_size": batch or opts.batch_size,
            "ready_seconds": ready,
            "insert_seconds": round(committed - insert_start, 3),
            "commit_minus_due_seconds": round(committed - due_epoch, 3),
            "arrived": len(got),
            "missing": len(missing),
            "duplicates": env.consumer.duplicates,
            "lateness": summarize(lateness),
            "first_arrival_after_due": None if first is None else first - due_epoch,
            "last_arrival_after_due": None if last is None else last - due_epoch,
            "daemon_sent_at": done,
            "daemon_metrics": daemon_view,
            "peak_rss_bytes": {
                str(pid): max(peaks.get(pid, 0), mem.get("VmHWM", 0)) for pid, mem in memory.items()
            },
            "daemon_stop": stops,
            "cpu": _cpu.delta(cpu_start, cpu_end, len(got)),
            "sample_body": {
                k: v.decode(errors="replace") for k, v in list(env.consumer.bodies.items())[:1]
            },
        }
        if span == 0 and last is not None and last > due_epoch:
            result["drain_events_per_s"] = len(got) / (last - due_epoch)
            if done["max_sent_at"]:
                result["drain_confirmed_per_s"] = len(got) / (done["max_sent_at"] - due_epoch)
        if opts.py_spy:
            result["py_spy"] = _pyspy.summarize(spy_out)
            result["py_spy_seconds"] = round(spy_seconds, 1)
            result["py_spy_on_cpu_fraction"] = round(
                result["py_spy"]["samples"] / (spy_seconds * _pyspy.RATE), 3
            )
            result["py_spy_stderr"] = profile_err
        return result


async def accuracy(
    opts: Options, rows: int = 20000, span: float = 60.0, lead: float = 5.0
) -> dict[str, Any]:
    print(f"== accuracy: {rows} rows due evenly over {span:.0f} s, 1 daemon")
    return await _timed_rows(opts, "accuracy", rows, 1, _db.DUE_SPREAD, lead, span, None)


async def burst(
    opts: Options,
    rows: int,
    replicas: int,
    db: tuple[str, str] | None = None,
    label: str | None = None,
    lead: float | None = None,
) -> dict[str, Any]:
    label = label or f"burst-{rows}-r{replicas}"
    print(f"== {label}: {rows} rows due at the same instant, {replicas} daemon(s)")
    if lead is None:  # time for the insert to commit before the rows are due
        lead = 3.0 + rows / 10000
    return await _timed_rows(opts, label, rows, replicas, _db.DUE_AT, lead, 0.0, db)


def _change(base: float | None, new: float | None, higher_is_worse: bool = True) -> float | None:
    """Relative change, positive = worse."""
    if not base or new is None:
        return None
    return (new - base) / base if higher_is_worse else (base - new) / base


async def scale(
    opts: Options,
    prefill: int = 1_000_000,
    rows: int = 10000,
    trials: int = 200,
    lead: float | None = None,
) -> dict[str, Any]:
    """Wake and burst, first on an empty table, then with ``prefill`` rows due months ahead."""
    base_wake = await wake(opts, trials, label="scale-baseline-wake")
    base_burst = await burst(opts, rows, 1, label=f"scale-baseline-burst-{rows}", lead=lead)
    print(f"== scale: pre-filling {prefill} not-done rows due 60-180 days ahead")
    db = await asyncio.to_thread(_db.create, opts.database_url)
    try:
        t0 = time.time()
        with _db.connect(db[0]) as conn:
            _db.insert_rows(conn, "prefill", prefill, _db.DUE_MONTHS_AHEAD, starts_in="200 days")
            conn.autocommit = True
            # Steady state, as a table that grew over months would be: vacuumed and analysed,
            # and the bulk load checkpointed, so neither autovacuum nor the checkpoint of a
            # fresh 190 MB write lands in the middle of the measurement.
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
            size = _db.scalar(
                conn, "SELECT pg_size_pretty(pg_total_relation_size('notification_schedule'))"
            )
        fill_seconds = time.time() - t0
        print(f"    pre-filled in {fill_seconds:.1f} s; table with indexes {size}")
        big_wake = await wake(opts, trials, db=db, label="scale-1m-wake")
        big_burst = await burst(opts, rows, 1, db=db, label=f"scale-1m-burst-{rows}", lead=lead)
    finally:
        await asyncio.to_thread(_db.drop, *db)
    w0, w1 = base_wake["commit_to_arrival"], big_wake["commit_to_arrival"]
    b0, b1 = base_burst["lateness"], big_burst["lateness"]
    changes = {
        "wake_p50": _change(w0["p50"], w1["p50"]),
        "wake_p99": _change(w0["p99"], w1["p99"]),
        "burst_drain": _change(
            base_burst.get("drain_events_per_s"),
            big_burst.get("drain_events_per_s"),
            higher_is_worse=False,
        ),
        "burst_lateness_p50": _change(b0["p50"], b1["p50"]),
        "burst_lateness_p99": _change(b0["p99"], b1["p99"]),
        "burst_lateness_max": _change(b0["max"], b1["max"]),
    }
    return {
        "scenario": "scale",
        "prefill_rows": prefill,
        "prefill_seconds": round(fill_seconds, 1),
        "table_size": size,
        "baseline": {"wake": base_wake, "burst": base_burst},
        "prefilled": {"wake": big_wake, "burst": big_burst},
        "change_positive_is_worse": changes,
        "within_20_percent": all(c is None or c <= 0.20 for c in changes.values()),
    }


# -- command line ---------------------------------------------------------------------------


def _save(
    results_dir: Path,
    name: str,
    machine: dict[str, Any],
    results: list[dict[str, Any]],
    opts: Options,
) -> Path:
    payload = {
        "machine": machine,
        "load_average_at_end": _machine.load_average(),
        "daemon_cmd": opts.daemon_cmd,
        "options": {
            "batch_size": opts.batch_size,
            "log_level": opts.log_level,
            "kinds": opts.kinds,
            "transport": opts.transport,
        },
        "results": results,
    }
    return _results.save(results_dir, name, payload)


def default_daemon_cmd() -> list[str]:
    """``gamesched scheduler`` from the environment running this harness (.venv or CI's)."""
    return [str(Path(sys.executable).parent / "gamesched"), "scheduler"]


async def _main(args: argparse.Namespace) -> int:
    results_dir: Path = args.results_dir
    run_dir = results_dir / f"logs-{args.command}-{_results.stamp()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = shlex.split(args.daemon_cmd) if args.daemon_cmd else default_daemon_cmd()
    opts = Options(
        database_url=args.database_url,
        rabbitmq_url=args.rabbitmq_url,
        daemon_cmd=cmd,
        batch_size=args.batch_size,
        log_level=args.log_level,
        kinds=args.kinds,
        ready_timeout=args.ready_timeout,
        py_spy=getattr(args, "py_spy", False),
        run_dir=run_dir,
        transport=args.transport,
    )
    machine = _machine.describe(
        _db.server_version(opts.database_url),
        # not asked of a broker the run does not use
        await rabbitmq_version(opts.rabbitmq_url) if opts.transport == "rabbitmq" else "-",
    )
    print(
        f"machine: {machine['nproc']} x {machine['cpu_model']}, PostgreSQL "
        f"{machine['postgresql']}, RabbitMQ {machine['rabbitmq']}, "
        f"transport {opts.transport}, load "
        f"{machine['load_average_at_start']}, commit {machine['git_commit'][:10]}"
    )
    results: list[dict[str, Any]] = []
    try:
        if args.command == "wake":
            results.append(await wake(opts, args.trials))
        elif args.command == "accuracy":
            results.append(await accuracy(opts, args.rows, args.span, args.lead))
        elif args.command == "burst":
            results.append(await burst(opts, args.rows, args.replicas, lead=args.lead))
        elif args.command == "scale":
            results.append(await scale(opts, args.prefill, args.rows, args.trials, args.lead))
        elif args.command == "all":
            results.append(await wake(opts))
            results.append(await accuracy(opts))
            for rows in (10000, 100000):
                for replicas in (1, 3):
                    results.append(await burst(opts, rows, replicas))
            results.append(await scale(opts))
        for result in results:
            print_result(result)
    finally:
        if results:
            path = _save(results_dir, args.command, machine, results, opts)
            print(f"results written to {path}; daemon logs in {run_dir}")
    return 0


def _add_lead(parser: argparse.ArgumentParser, default: float | None) -> None:
    parser.add_argument(
        "--lead",
        type=float,
        default=default,
        help="seconds from the insert to the first due time (default: "
        f"{'3 + rows / 10,000' if default is None else default}; small for a smoke run)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="server to create benchmark databases on (its db name is replaced)",
    )
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument(
        "--transport",
        choices=("rabbitmq", "postgres"),
        default="rabbitmq",
        help="GAMESCHED_TRANSPORT of the daemons; on postgres the consumer reads event_queue",
    )
    parser.add_argument(
        "--daemon-cmd",
        default=None,
        help="command to start one daemon (default: gamesched scheduler next to this Python)",
    )
    parser.add_argument("--kinds", default=None, help="passed as --kinds to the daemon")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="SCHEDULER_BATCH_SIZE (default: the daemon's own default)",
    )
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the daemons")
    parser.add_argument("--ready-timeout", type=float, default=30.0)
    _results.add_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("wake", help="commit -> arrival of single rows due now")
    p.add_argument("--trials", type=int, default=200)
    p = sub.add_parser("accuracy", help="rows due evenly over a minute")
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--span", type=float, default=60.0)
    _add_lead(p, 5.0)
    p = sub.add_parser("burst", help="rows due at the same instant")
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--replicas", type=int, default=1)
    _add_lead(p, None)
    p.add_argument("--py-spy", action="store_true", help="profile the first daemon (py-spy)")
    p = sub.add_parser("scale", help="wake and burst with 1M rows due months ahead")
    p.add_argument("--prefill", type=int, default=1_000_000)
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--trials", type=int, default=200)
    _add_lead(p, None)
    sub.add_parser("all", help="every scenario of the issue, in order")
    return parser


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_main(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
