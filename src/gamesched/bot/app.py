"""The bot process put together: settings -> database engine -> transport source -> Discord
(hikari, or the dry run without ``DISCORD_TOKEN``) -> handler -> consuming service, with its
/metrics /healthz /readyz server.

``check`` fails fast with one line (exit 2 in the CLI) on what a person must fix: an unreachable
or unmigrated database, an unreachable broker, a token Discord refuses, a busy metrics port.
Faults after start-up are ridden out by the service. The CLI owns the signals: it calls
``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import sqlalchemy.exc
from sqlalchemy import Engine, orm

from gamesched import errors
from gamesched.bot import discord, handler, hikari_rest, service
from gamesched.db import engine as db_engine
from gamesched.db import migrate
from gamesched.events import transports
from gamesched.health import HealthServer
from gamesched.settings import Settings

log = logging.getLogger(__name__)

CONCURRENCY = 16  # deliveries in hand at once; the transport's prefetch matches it
QUERY_DEADLINE = 60.0  # a stalled database costs a delivery a retry, not a stuck slot
PROBE_INTERVAL = 5.0  # how often /readyz's database check is refreshed


class DatabaseProbe:
    """Is the database reachable with the schema at head? Checked every few seconds on a
    worker thread; ``/readyz`` reads the last answer (a probe must not wait on the database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.problem: str | None = "database not checked yet"

    def check(self) -> None:
        try:
            with self.engine.connect() as conn:
                behind = migrate.schema_behind(conn)
            self.problem = None if behind is None else f"database {behind}"
        except sqlalchemy.exc.SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            self.problem = f"database unreachable: {type(cause).__name__}"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.check)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_INTERVAL)


class Bot:
    def __init__(
        self, settings: Settings, *, metrics_port: int | None = None, concurrency: int = CONCURRENCY
    ) -> None:
        self.settings = settings
        self.metrics = service.BotMetrics()
        # a session may hold a game's row lock while its commit needs a second connection
        self.engine = db_engine.make_engine(
            settings,
            query_deadline=QUERY_DEADLINE,
            pool_size=2 * concurrency + 2,
            max_overflow=2,
        )
        self.probe = DatabaseProbe(self.engine)
        self.discord = self._discord()
        self.service = service.BotService(
            transports.source(settings, prefetch=concurrency),
            handler.Handler(orm.sessionmaker(self.engine), self.discord, concurrency=concurrency),
            metrics=self.metrics,
            concurrency=concurrency,
            ready=lambda: self.probe.problem is None,
        )
        self.health = HealthServer(
            host=settings.metrics_host,
            port=settings.metrics_port_for("bot") if metrics_port is None else metrics_port,
            registry=self.metrics.registry,
            ready=self.ready,
        )
        self._stop = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Bot {self.service!r}>"

    def _discord(self) -> discord.Discord:
        s = self.settings
        if s.discord_token is None:
            return discord.DryRun()
        return hikari_rest.HikariDiscord(
            s.discord_token, api_base=s.discord_api_base, requests=self.metrics.discord_requests
        )

    def describe_discord(self) -> str:
        if isinstance(self.discord, hikari_rest.HikariDiscord):
            return f"Discord at {self.discord.api_base}"
        return "Discord dry run (DISCORD_TOKEN unset: messages are logged, not sent)"

    def ready(self) -> tuple[bool, str]:
        ok, why = self.service.ready()
        if self.probe.problem is not None:
            return False, self.probe.problem if ok else f"{why}; {self.probe.problem}"
        return ok, why

    def stop(self) -> None:
        """Stop taking deliveries; idempotent, safe from a signal handler."""
        self._stop.set()
        self.service.stop()

    async def check(self) -> None:
        """One line (ConfigError) for what start-up cannot ride out."""
        await asyncio.to_thread(migrate.check_schema, self.settings)
        await asyncio.to_thread(self.probe.check)
        if self.settings.transport == "rabbitmq":
            await _check_broker(self.settings)
        if isinstance(self.discord, hikari_rest.HikariDiscord):
            await self.discord.start()
            await self.discord.check_token()

    async def run(self) -> int:
        """Check, serve, consume until stopped; return the exit code."""
        try:
            await self.check()
            port = await self.health.start()  # a busy port: ConfigError, one line
            log.info(
                "bot started: database %s, transport %s, %s; metrics on %s:%d",
                self.settings.masked(self.settings.url),
                transports.describe(self.settings),
                self.describe_discord(),
                self.health.host,
                port,
                extra={"action": "started", "port": port},
            )
            probing = asyncio.create_task(self.probe.run(self._stop), name="bot-db-probe")
            try:
                code = await self.service.run()  # returns once stop() drained the deliveries
            finally:
                self._stop.set()
                await probing
            log.info("bot stopped", extra={"action": "stopped", "exit_code": code})
            return code
        finally:
            with contextlib.suppress(Exception):
                await self.discord.close()
            await self.health.close()
            self.engine.dispose()


async def _check_broker(settings: Settings) -> None:
    """Connect to RabbitMQ once (declaring the topology), or ConfigError: one line."""
    from gamesched.events import publisher, topology

    pub = publisher.Publisher(settings.amqp_url, topology.Names(settings.gamesched_exchange))
    started = time.monotonic()
    try:
        await asyncio.wait_for(pub.connect(), 12)
    except TimeoutError as exc:
        raise errors.ConfigError(
            f"cannot connect to RabbitMQ at {settings.masked(settings.amqp_url)}: "
            f"timed out after {time.monotonic() - started:.0f} s"
        ) from exc
    except errors.BrokerUnavailable as exc:
        raise errors.ConfigError(exc.message) from exc
    finally:
        await pub.close()
