"""The bot process: consume deliveries from the transport, handle each, stay up through faults.

Up to ``concurrency`` deliveries are handled at once (a semaphore; the transport's prefetch
matches it). Losing the transport or the database ends the current connection: the loop logs
one line per change of state, backs off (capped, jittered; only a stop shortens it), reconnects,
and goes on; deliveries that were not settled come back by themselves. ``stop()`` (SIGTERM)
stops taking deliveries, lets those in hand finish within ``SHUTDOWN_GRACE`` seconds, and returns
0; the CLI owns the signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from gamesched._retry import Backoff, FailureState
from gamesched.bot import handler
from gamesched.events.transport import Delivery, Source

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 6.0  # SIGTERM to exit in 10 s, with room for closing and teardown under load


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.handled = Counter(
            "gamesched_bot_deliveries_total",
            "Deliveries handled, by routing key and outcome",
            ["routing_key", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gamesched_bot_handler_seconds",
            "Time to handle one delivery, Discord calls included",
            ["routing_key"],
            registry=self.registry,
        )
        self.discord_requests = Counter(
            "gamesched_bot_discord_requests_total",
            "Requests to Discord by answer (2xx, 4xx codes, rate_limited, network)",
            ["status"],
            registry=self.registry,
        )


class BotService:
    def __init__(
        self,
        source: Source,
        handler_: handler.Handler,
        *,
        metrics: BotMetrics,
        concurrency: int = 16,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.source = source
        self.handler = handler_
        self.metrics = metrics
        self.concurrency = concurrency
        self.connected = False
        self.exit_code = 0
        self._ready = ready
        self._stop = asyncio.Event()
        self.draining = asyncio.Event()  # set once it stopped taking deliveries
        self._slots = asyncio.Semaphore(concurrency)
        self._in_hand: set[asyncio.Task[None]] = set()
        self._failures = FailureState(log, "bot transport")

    def __repr__(self) -> str:
        return (
            f"<BotService connected={self.connected} in_hand={len(self._in_hand)} {self.handler!r}>"
        )

    def ready(self) -> tuple[bool, str]:
        if not self.connected:
            return False, "transport not connected"
        return (True, "ready") if self._ready() else (False, "not ready")

    def stop(self) -> None:
        """Stop taking deliveries; idempotent, safe from a signal handler."""
        self._stop.set()

    async def run(self) -> int:
        backoff = Backoff()
        consuming: asyncio.Task[None] | None = None
        try:
            while not self._stop.is_set():
                consuming = asyncio.create_task(self._consume(backoff), name="bot-consume")
                stopping = asyncio.create_task(self._stop.wait(), name="bot-stop")
                await asyncio.wait({consuming, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if self._stop.is_set():
                    break
                exc = consuming.exception()
                self.connected = False
                if exc is not None:
                    self._failures.failed(exc, "transport_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff.next_delay())
        finally:
            await self._shutdown(consuming)
        return self.exit_code

    async def _consume(self, backoff: Backoff) -> None:
        await self.source.connect()
        self.connected = True
        backoff.reset()
        self._failures.ok("transport_recovered")
        log.info("bot consuming", extra={"action": "consuming"})
        async for delivery in self.source.deliveries():
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(delivery), name="bot-delivery")
            self._in_hand.add(task)
            task.add_done_callback(self._in_hand.discard)

    async def _handle(self, delivery: Delivery) -> None:
        started = time.perf_counter()
        try:
            outcome = await self.handler.handle(delivery)
        except Exception as exc:  # settling failed (the transport went away): it comes back
            outcome = "unsettled"
            log.warning(
                "could not settle %s: %s",
                delivery.message_id,
                exc,
                extra={
                    "action": "unsettled",
                    "message_id": delivery.message_id,
                    "routing_key": delivery.routing_key,
                },
            )
        finally:
            self._slots.release()
        self.metrics.handled.labels(delivery.routing_key, outcome).inc()
        self.metrics.latency.labels(delivery.routing_key).observe(time.perf_counter() - started)
        log.info(
            "%s %s: %s",
            delivery.routing_key,
            delivery.message_id,
            outcome,
            extra={
                "action": "handled",
                "message_id": delivery.message_id,
                "routing_key": delivery.routing_key,
                "outcome": outcome,
            },
        )

    async def _shutdown(self, consuming: asyncio.Task[None] | None) -> None:
        if consuming is not None and not consuming.done():
            consuming.cancel()
            with contextlib.suppress(BaseException):
                await consuming
        self.draining.set()
        if self._in_hand:
            _, pending = await asyncio.wait(set(self._in_hand), timeout=SHUTDOWN_GRACE)
            for task in pending:  # unsettled: the transport delivers it again later
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.source.close()
        self.handler.close()
        self.connected = False
