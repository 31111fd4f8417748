"""The ``gamesched`` command line: one entry point for every process.

Each command builds one Settings object and passes it down. Configuration errors (a bad variable,
an unreachable database or broker) end the command with exit status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from gamesched import _shutdown, errors, logsetup
from gamesched.settings import Settings, load_settings

log = logging.getLogger("gamesched")

EXIT_CONFIG = 2


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import migrate

    migrate.upgrade(settings)
    return 0


def _cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import engine as db_engine
    from gamesched.scheduler import kinds, service

    db_engine.connect(settings.libpq_url).close()  # a missing database: says what creates it
    svc = service.SchedulerService(settings, kinds.parse_kinds(args.kinds))
    return _asyncio_run(_serve(svc.run(), svc.stop))


def _asyncio_run(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop where installed: it cuts the daemons' per-message CPU by about a quarter."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _serve(main: Coroutine[Any, Any, int], stop: Callable[[], None]) -> int:
    """Run ``main`` with two-stage signal handling: the first SIGINT/SIGTERM asks it to stop
    cleanly (and the process is gone within ``_shutdown.EXIT_DEADLINE`` seconds whatever hangs
    in teardown), a second one exits at once."""
    loop = asyncio.get_running_loop()
    signals_seen = 0
    deadline = _shutdown.ExitDeadline()

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            log.info("%s: stopping", signal.Signals(signum).name, extra={"action": "signal"})
            deadline.arm()
            stop()
        else:
            log.warning("second signal: exiting now", extra={"action": "force_exit"})
            os._exit(1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        code = await main
        deadline.finished(code)
        return code
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _cmd_bot(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.bot import app

    bot = app.Bot(settings)
    return _asyncio_run(_serve(bot.run(), bot.stop))


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Check the broker, migrate, then the API, the scheduler and the bot in one process and one
    event loop. A bad broker URL fails first, before anything is created or served."""
    _asyncio_run(_check_broker(settings))
    _cmd_migrate(settings, args)
    from gamesched.bot import app
    from gamesched.scheduler import service

    svc = service.SchedulerService(settings)
    # the scheduler takes METRICS_PORT when it is set; the bot the next one (0: both any free)
    port = settings.metrics_port
    bot = app.Bot(settings, metrics_port=port + 1 if port else port)
    server = _api_server(settings)

    def stop() -> None:
        svc.stop()
        bot.stop()
        server.should_exit = True

    async def main() -> int:
        log.info(
            "running api on %s:%d, the scheduler and the bot",
            settings.api_host,
            settings.api_port,
            extra={"action": "run"},
        )
        api = asyncio.create_task(server.serve(), name="api")
        bot_task = asyncio.create_task(bot.run(), name="bot")
        sched_task = asyncio.create_task(svc.run(), name="scheduler")
        try:
            # one part ending (a start-up error, a fatal fault) stops the others
            await asyncio.wait({api, bot_task, sched_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop()
            await asyncio.wait({api, bot_task, sched_task})
        for task in (sched_task, bot_task):
            task.result()  # a ConfigError of either part: one line, exit 2
        return max(sched_task.result(), bot_task.result())

    return _asyncio_run(_serve(main(), stop))


def _cmd_prune(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.scheduler import retention

    return _asyncio_run(retention.prune_command(settings))


def _cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    return _asyncio_run(_dlq(settings, args))


async def _dlq(settings: Settings, args: argparse.Namespace) -> int:
    """List or replay the parked messages of either transport."""
    import psycopg

    from gamesched.db import migrate
    from gamesched.events import transports

    if settings.transport == "postgres":  # the queue table is part of the schema
        await asyncio.to_thread(migrate.check_schema, settings)
    dead = transports.dead_letters(settings)
    try:
        if args.dlq_command == "list":
            parked = await dead.list(limit=args.limit)
            if not parked:
                print(f"nothing is parked ({transports.describe(settings)})")
            for p in parked:
                when = p.parked_at.isoformat(timespec="seconds") if p.parked_at else "-"
                print(
                    f"{p.id}  {p.routing_key}  message {p.message_id}  attempts {p.attempts}  "
                    f"parked {when}  reason: {p.reason}"
                )
            return 0
        if not args.ids and not args.all:
            raise errors.ConfigError("name the parked messages to replay (IDs) or use --all")
        count = await dead.replay(None if args.all else args.ids)
    except (OSError, psycopg.OperationalError) as exc:  # the queue's server went away
        raise errors.ConfigError(f"{transports.describe(settings)}: {exc}") from exc
    print(f"replayed {count} parked message{'s' if count != 1 else ''}")
    return 0


async def _check_broker(settings: Settings) -> int:
    """Connect to RabbitMQ once (declaring the topology), or ConfigError: one line. Nothing to
    check on the PostgreSQL transport."""
    from gamesched.events import publisher, topology

    if settings.transport != "rabbitmq":
        return 0
    pub = publisher.Publisher(settings.amqp_url, topology.Names(settings.gamesched_exchange))
    try:
        await pub.connect()
    except errors.BrokerUnavailable as exc:
        raise errors.ConfigError(exc.message) from exc
    finally:
        await pub.close()
    return 0


def _api_server(settings: Settings) -> Any:
    """A uvicorn server that leaves signal handling to us (``gamesched run`` owns the signals)."""
    import uvicorn

    from gamesched.api import app
    from gamesched.health import QuietServer

    config = uvicorn.Config(
        app.create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )
    return QuietServer(config)


def _cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gamesched.api import app
    from gamesched.db import migrate

    migrate.check_schema(settings)  # unreachable, missing or unmigrated database: one line

    uvicorn.run(
        app.create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )
    return 0


def _cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import orm

    from gamesched.db import engine as db_engine
    from gamesched.db import migrate, tokens

    migrate.check_schema(settings)  # unmigrated: one line saying to run `gamesched migrate`
    engine = db_engine.make_engine(settings)
    try:
        with orm.Session(engine) as session, session.begin():
            if args.token_command == "create":
                token = tokens.create_token(session, name=args.name, discord_guild_id=args.guild)
                scope = f"guild {args.guild}" if args.guild else "admin"
                print(f"token {args.name!r} ({scope}) created; it is shown only once:")
                print(token)
            else:
                tokens.revoke_token(session, name=args.name)
                print(f"token {args.name!r} revoked")
    except sa_exc.OperationalError as exc:
        raise errors.DatabaseUnavailable(
            db_engine.connect_error_message(settings.database_url, exc.orig or exc)
        ) from exc
    finally:
        engine.dispose()
    return 0


def _cmd_discord(settings: Settings, args: argparse.Namespace) -> int:
    """``discord register-commands [--guild ID]``: bulk-overwrite the application commands."""
    from gamesched import discord_commands

    if settings.discord_token is None:
        raise errors.ConfigError("DISCORD_TOKEN is not set: the commands belong to its application")
    if args.guild is not None and not (args.guild.isdigit() and len(args.guild) <= 20):
        raise errors.ConfigError(f"--guild {args.guild!r} is not a Discord id (1-20 digits)")
    changes = asyncio.run(
        discord_commands.register(
            api_base=settings.discord_api_base,
            token=settings.discord_token,
            guild_id=args.guild,
            wanted=[] if args.remove else None,
        )
    )
    print(f"registered {'in guild ' + args.guild if args.guild else 'globally'}:")
    for line in changes.lines():
        print(f"  {line}")
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "migrate": _cmd_migrate,
    "run": _cmd_run,
    "scheduler": _cmd_scheduler,
    "api": _cmd_api,
    "token": _cmd_token,
    "bot": _cmd_bot,
    "dlq": _cmd_dlq,
    "discord": _cmd_discord,
    "prune": _cmd_prune,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gamesched",
        description="Self-hosted Discord game-night scheduler. Configured by environment "
        "variables (DATABASE_URL, RABBITMQ_URL, ...; see the README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("migrate", help="create the database if missing and migrate it to head")
    sub.add_parser("run", help="migrate, then run api + scheduler + bot in the foreground")
    sched = sub.add_parser(
        "scheduler", help="run the scheduler daemon (reminders, status transitions, outbox)"
    )
    sched.add_argument(
        "--kinds",
        metavar="KINDS",
        help="comma-separated subset of reminders,status,outbox (default: all)",
    )
    sub.add_parser("api", help="serve the HTTP API on API_HOST:API_PORT")
    sub.add_parser(
        "bot", help="run the Discord bot (dry run, logging what it would send, without a token)"
    )
    dlq = sub.add_parser("dlq", help="list or re-send parked (dead-lettered) event messages")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_sub.add_parser("list", help="show parked messages and why they were parked")
    dlq_list.add_argument("--limit", type=int, default=100, metavar="N", help="at most N")
    replay = dlq_sub.add_parser("replay", help="send parked messages back to the bot's queue")
    replay.add_argument("ids", nargs="*", metavar="ID", help="ids as `dlq list` shows them")
    replay.add_argument("--all", action="store_true", help="replay every parked message")
    sub.add_parser("prune", help="one retention pass now (GAMESCHED_RETENTION_DAYS); print counts")
    token = sub.add_parser("token", help="create or revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="print a new token (only its hash is stored)")
    create.add_argument("--name", required=True, help="a unique name for the token")
    create.add_argument(
        "--guild", metavar="DISCORD_GUILD_ID", help="scope it to this registered guild"
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    discord = sub.add_parser("discord", help="Discord set-up: register the slash commands")
    discord_sub = discord.add_subparsers(dest="discord_command", required=True, metavar="ACTION")
    register = discord_sub.add_parser(
        "register-commands", help="bulk-overwrite /game and /timezone and print what changed"
    )
    register.add_argument(
        "--guild", metavar="ID", help="in this guild only (at once; for testing); default: global"
    )
    register.add_argument(
        "--remove", action="store_true", help="remove every command in that scope instead"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logsetup.configure(settings.log_level, settings.log_format, component=args.command)
        return COMMANDS[args.command](settings, args)
    except errors.GameschedError as exc:
        print(f"gamesched {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
