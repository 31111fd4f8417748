"""The scheduler process: its kinds' loops, the LISTEN connection, health and metrics, and a
monitor that stops the process loudly if any of them dies or stalls (so a supervisor restarts
it instead of leaving a silent zombie).

Shutdown is two-stage: ``stop()`` stops claiming and lets each batch in flight finish within
``SHUTDOWN_GRACE`` seconds; after that the loops are cancelled, which rolls their transactions back
(unmarked rows stay pending and are published again later). The CLI owns the signals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from gamesched import errors
from gamesched.db import claims
from gamesched.db import engine as db_engine
from gamesched.events import transports
from gamesched.health import HealthServer
from gamesched.scheduler import kinds as kinds_mod
from gamesched.scheduler.listener import Listener
from gamesched.scheduler.loop import KindLoop
from gamesched.scheduler.metrics import SchedulerMetrics
from gamesched.scheduler.publishing import SharedSink
from gamesched.scheduler.retention import RetentionTask
from gamesched.settings import Settings, mask_url

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 3.5
MONITOR_INTERVAL = 1.0
STALL_MARGIN = 120.0  # a loop silent for max_wait + this is stuck


class SchedulerService:
    def __init__(
        self,
        settings: Settings,
        kinds: Sequence[kinds_mod.Kind[Any]] | None = None,
        *,
        metrics_host: str | None = None,
    ) -> None:
        self.settings = settings
        self.kinds = list(kinds or kinds_mod.ALL.values())
        self.metrics = SchedulerMetrics()
        self.sink = SharedSink(transports.sink(settings))
        self.wakes = {k.table.channel: asyncio.Event() for k in self.kinds}
        self.listener = Listener(settings.libpq_url, self.wakes)
        self.loops = [
            KindLoop(
                k,
                database_url=settings.libpq_url,
                sink=self.sink,
                wake=self.wakes[k.table.channel],
                metrics=self.metrics,
                batch_size=settings.scheduler_batch_size,
                max_wait=settings.scheduler_max_wait_seconds,
                concurrency=settings.scheduler_concurrency,
            )
            for k in self.kinds
        ]
        self.retention = RetentionTask(
            settings.libpq_url, days=settings.gamesched_retention_days, metrics=self.metrics
        )
        self.health = HealthServer(
            host=metrics_host or settings.metrics_host,
            port=settings.metrics_port_for("scheduler"),
            registry=self.metrics.registry,
            ready=self.ready,
        )
        self.exit_code = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"<SchedulerService kinds={[k.name for k in self.kinds]} loops={self.loops}>"

    def ready(self) -> tuple[bool, str]:
        problems = []
        if not all(loop.connected for loop in self.loops):
            problems.append("database not connected")
        if not self.sink.connected:  # always connected on PostgreSQL: there is no broker
            problems.append("broker not connected")
        if not self.listener.listening:
            problems.append("not listening")
        return (not problems, "; ".join(problems) or "ready")

    def stop(self) -> None:
        """Stop claiming and shut down; idempotent, safe from a signal handler."""
        self._stop.set()
        self.retention.stop()
        for loop in self.loops:
            loop.stop()

    async def check(self) -> None:
        """Fail fast, with one clear line, on an unreachable or unmigrated database, a bad
        horizon, or an unreachable broker (RabbitMQ only: the PostgreSQL transport writes into
        the database just checked)."""
        s = self.settings
        try:
            conn = await psycopg.AsyncConnection.connect(
                s.libpq_url, autocommit=True, connect_timeout=5
            )
        except psycopg.OperationalError as exc:
            raise errors.ConfigError(db_engine.connect_error_message(s.libpq_url, exc)) from exc
        async with conn:
            if not await claims.schema_ready(conn):
                raise errors.ConfigError(
                    f"database {s.database_name} has no gamesched schema: run `gamesched migrate`"
                )
            horizon = await claims.notify_horizon_seconds(conn)
        if s.scheduler_max_wait_seconds >= horizon:
            raise errors.ConfigError(
                f"SCHEDULER_MAX_WAIT_SECONDS ({s.scheduler_max_wait_seconds:g}) must be below "
                f"the NOTIFY horizon ({horizon:g} s, gamesched.notify_horizon)"
            )
        if self.sink.in_transaction:
            return
        try:
            await asyncio.wait_for(self.sink.ensure(), 12)
        except TimeoutError as exc:
            raise errors.ConfigError(
                f"cannot connect to RabbitMQ at {mask_url(s.amqp_url)}: timed out"
            ) from exc
        except errors.BrokerUnavailable as exc:
            raise errors.ConfigError(exc.message) from exc

    async def run(self) -> int:
        """Run until stopped; return the exit code (0 clean, 1 if a part died or stalled)."""
        await self.check()
        port = await self.health.start()  # a busy port: ConfigError, one line
        log.info(
            "scheduler: database %s; events via %s",
            mask_url(self.settings.libpq_url),
            transports.describe(self.settings),
            extra={"action": "transport", "transport": self.settings.transport},
        )
        log.info(
            "scheduler started: kinds %s, metrics on %s:%d",
            ",".join(k.name for k in self.kinds),
            self.health.host,
            port,
            extra={"action": "started", "port": port},
        )
        self._tasks = [asyncio.create_task(self.listener.run(), name="listener")]
        self._tasks += [
            asyncio.create_task(loop.run(), name=f"loop-{loop.kind.name}") for loop in self.loops
        ]
        self._tasks.append(asyncio.create_task(self.retention.run(), name="retention"))
        monitor = asyncio.create_task(self._monitor(), name="monitor")
        try:
            await self._stop.wait()
        finally:
            monitor.cancel()
            await self._shutdown()
        log.info("scheduler stopped", extra={"action": "stopped", "exit_code": self.exit_code})
        return self.exit_code

    async def _shutdown(self) -> None:
        self.retention.stop()
        for loop in self.loops:
            loop.stop()
        loop_tasks = [t for t in self._tasks if t.get_name() != "listener"]
        pending: set[asyncio.Task[None]] = set()
        if loop_tasks:
            _, pending = await asyncio.wait(loop_tasks, timeout=SHUTDOWN_GRACE)
        for task in pending:
            log.warning(
                "batch still in flight at shutdown: cancelling (it will be retried)",
                extra={"action": "shutdown_cancel", "task": task.get_name()},
            )
            task.cancel()
        await self.listener.stop()
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sink.close()
        await self.health.close()

    async def _monitor(self) -> None:
        limit = self.settings.scheduler_max_wait_seconds + STALL_MARGIN
        while not self._stop.is_set():
            await asyncio.sleep(MONITOR_INTERVAL)
            for task in self._tasks:
                if task.done():
                    self._die(f"background task {task.get_name()} ended unexpectedly", task)
                    return
            now = time.monotonic()
            for loop in self.loops:
                if now - loop.heartbeat > limit:
                    self._die(f"loop {loop.kind.name} stalled for {now - loop.heartbeat:.0f} s")
                    return

    def _die(self, why: str, task: asyncio.Task[Any] | None = None) -> None:
        exc = task.exception() if task is not None and not task.cancelled() else None
        log.critical(
            "%s; stopping so a supervisor restarts the process",
            why,
            exc_info=exc,
            extra={"action": "fatal"},
        )
        self.exit_code = 1
        self.stop()
