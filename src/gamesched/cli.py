"""The ``gamesched`` command line: one entry point for every process.

Each command builds one Settings object and passes it down. Configuration errors (a bad variable,
an unreachable database or broker, a busy port) end the command with exit status 2 and one line
on stderr.

With ``DATABASE_URL`` unset, every command that needs the database first starts the embedded
PostgreSQL (``gamesched.embedded``) on ``GAMESCHED_DATA_DIR``, or joins the one already running
there, and stops it at exit only if it started it.

Each subcommand is one ``_add_<name>(sub)`` function: its parser, its help (arguments and the
variables it reads) and its handler (``set_defaults(handler=..., database=...)``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

from gamesched import _shutdown, errors, logsetup
from gamesched.settings import Settings, load_settings

log = logging.getLogger("gamesched")

EXIT_CONFIG = 2


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import migrate

    migrate.upgrade(settings)
    log.info("%s", _database_line(settings, args), extra={"action": "database"})
    return 0


def _cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import migrate
    from gamesched.scheduler import kinds, service

    # unreachable, missing or behind this release: one line (a newer revision is fine, for a
    # rolling upgrade, as in the API and the bot)
    migrate.check_schema(settings)
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
    from gamesched.db import migrate
    from gamesched.health import bind

    _asyncio_run(_check_broker(settings))
    # the scheduler takes METRICS_PORT when it is set; the bot the next one (0: both any free)
    port = settings.metrics_port
    bot_port = port + 1 if port else port
    api_socket = bind(settings.api_host, settings.api_port, "API_HOST:API_PORT")
    try:
        # a busy metrics port: one line now, before anything is migrated or served (the parts
        # bind their own sockets when they start)
        bot_metrics = settings.metrics_port_for("bot") if bot_port is None else bot_port
        for metrics in (settings.metrics_port_for("scheduler"), bot_metrics):
            if metrics:
                bind(settings.metrics_host, metrics, "METRICS_HOST:METRICS_PORT").close()
        migrate.upgrade(settings)
    except BaseException:
        api_socket.close()
        raise
    from gamesched.bot import app
    from gamesched.scheduler import service

    svc = service.SchedulerService(settings)
    bot = app.Bot(settings, metrics_port=bot_port)
    server = _api_server(settings, on_started=lambda: _where_next(settings))

    def stop() -> None:
        svc.stop()
        bot.stop()
        server.should_exit = True

    async def main() -> int:
        log.info(
            "running api on %s:%d, the scheduler and the bot; %s",
            settings.api_host,
            settings.api_port,
            _database_line(settings, args),
            extra={"action": "run"},
        )
        api = asyncio.create_task(server.serve(sockets=[api_socket]), name="api")
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


def _where_next(settings: Settings) -> None:
    """What a newcomer does next, once the API answers."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    api = f"http://{host}:{settings.api_port}"
    log.info(
        "ready: API at %s (interactive docs at %s/docs); in another terminal, "
        "`gamesched demo` schedules a game you can watch here, "
        "`gamesched token create --name NAME` prints an API token; Ctrl-C stops everything",
        api,
        api,
        extra={"action": "ready"},
    )


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


def _api_server(settings: Settings, *, on_started: Callable[[], None] | None = None) -> Any:
    """A uvicorn server for the API that leaves the signals to us (``_serve`` owns them: left to
    uvicorn, it re-raises SIGTERM once stopped and the process dies of it); ``on_started`` is
    called once it listens. ``server.should_exit = True`` stops it cleanly: it stops accepting,
    finishes the requests in flight, then runs the app's lifespan shutdown."""
    import uvicorn

    from gamesched.api import app
    from gamesched.health import QuietServer

    class Server(QuietServer):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()

    config = uvicorn.Config(
        app.create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )
    return Server(config)


def _cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import migrate
    from gamesched.health import bind

    migrate.check_schema(settings)  # unreachable, missing or unmigrated database: one line
    sock = bind(settings.api_host, settings.api_port, "API_HOST:API_PORT")  # busy: one line
    log.info("%s", _database_line(settings, args), extra={"action": "database"})
    server = _api_server(settings)

    def stop() -> None:
        server.should_exit = True

    async def main() -> int:
        await server.serve(sockets=[sock])
        return 0 if server.started else 1  # the app's start-up failed (uvicorn logged why)

    try:
        return _asyncio_run(_serve(main(), stop))
    finally:
        sock.close()


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
            db_engine.connect_error_message(settings.url, exc.orig or exc)
        ) from exc
    finally:
        engine.dispose()
    return 0


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched import demo

    return demo.run(settings, start_in=args.start_in, follow_game=args.follow)


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


# -- the database a command runs on ------------------------------------------------------------


def _database_line(settings: Settings, args: argparse.Namespace) -> str:
    """One line naming the database and the event transport (``args.database_line``, set by
    ``_database``), logged once a command's checks have passed: a command that fails at start
    says only its one error line."""
    from gamesched.events import transports

    where = getattr(args, "database_line", None) or f"database {settings.masked(settings.url)}"
    return f"{where}; events via {transports.describe(settings)}"


@contextlib.contextmanager
def _database(settings: Settings, args: argparse.Namespace) -> Iterator[Settings]:
    """The settings a command runs with. DATABASE_URL unset: the embedded PostgreSQL, started
    here (and stopped when the command ends) unless another command already runs it on the same
    data folder, which then keeps running. ``args.database`` "attach": only join a running one
    (the demo means nothing without a running `gamesched run`, and must not own its server)."""
    if not settings.embedded:
        yield settings
        return
    from gamesched import embedded

    server = embedded.EmbeddedPostgres(settings.gamesched_data_dir)
    if args.database == "attach" and embedded.running_port(server.pgdata) is None:
        raise errors.ConfigError(
            f"no embedded PostgreSQL is running in {server.data_dir}: start `gamesched run` "
            "first (in another terminal), or set DATABASE_URL"
        )
    server.start()
    try:
        args.database_line = (
            f"database: embedded PostgreSQL in {server.data_dir} (127.0.0.1:{server.port}, "
            + ("started by this command" if server.owner else "run by another gamesched command")
            + ")"
        )
        yield settings.with_database(server.url())
    finally:
        server.stop()


# -- the parser: one function per subcommand ---------------------------------------------------

_ENV = {
    "database": (
        "DATABASE_URL        PostgreSQL, postgresql://user:password@host:port/dbname; unset: "
        "the embedded\n                    PostgreSQL, started (or joined) by the command\n"
        "GAMESCHED_DATA_DIR  the embedded PostgreSQL's data folder (default: "
        "/var/lib/gamesched as root,\n                    else $XDG_DATA_HOME/gamesched: "
        "~/.local/share/gamesched)"
    ),
    "transport": (
        "RABBITMQ_URL        RabbitMQ, amqp://user:password@host:5672/vhost; unset: events "
        "travel through\n                    PostgreSQL\n"
        "GAMESCHED_TRANSPORT rabbitmq or postgres (default: rabbitmq if RABBITMQ_URL is set)\n"
        "GAMESCHED_EXCHANGE  exchange and queue name prefix (default gamesched)"
    ),
    "discord": (
        "DISCORD_TOKEN       the bot's token; unset: dry run, one `dry-run:` log line per "
        "message\n"
        "DISCORD_API_BASE    Discord's REST base URL (default https://discord.com/api/v10)"
    ),
    "interactions": (
        "DISCORD_PUBLIC_KEY  the application's Ed25519 public key (64 hex characters), to "
        "verify\n                    /discord/interactions"
    ),
    "api": "API_HOST, API_PORT  where the HTTP API listens (default 127.0.0.1:8000)",
    "scheduler": (
        "SCHEDULER_MAX_WAIT_SECONDS, SCHEDULER_BATCH_SIZE, SCHEDULER_CONCURRENCY  the "
        "scheduler's\n                    longest sleep, rows per claim, batches in flight"
    ),
    "metrics": (
        "METRICS_HOST, METRICS_PORT  where the daemons serve /metrics, /healthz, /readyz\n"
        "                    (default 127.0.0.1, 9101 scheduler, 9102 bot; 0: any free port)"
    ),
    "retention": (
        "GAMESCHED_RETENTION_DAYS  done rows older than this many days are pruned (default 30; "
        "0 keeps\n                    everything)"
    ),
    "logs": "LOG_LEVEL, LOG_FORMAT  INFO..., text or json (one object per line)",
}


#: What ``run`` and the top-level help list: every group but the logs (every list ends with those).
_EVERY_ENV = (
    "database",
    "transport",
    "discord",
    "interactions",
    "api",
    "scheduler",
    "retention",
    "metrics",
)


def _epilog(*groups: str) -> str:
    lines = [_ENV[g] for g in (*groups, "logs")]
    return "environment variables it reads:\n" + "\n".join(lines)


def _add(
    sub: Any,
    name: str,
    handler: Callable[[Settings, argparse.Namespace], int],
    *,
    help: str,
    description: str,
    env: Sequence[str],
    database: str = "start",
) -> argparse.ArgumentParser:
    """A subcommand: its one-line ``help`` in the list, ``description`` and the variables it
    reads in its own --help; ``database``: "start" (it needs the database; the embedded one
    is started when DATABASE_URL is unset), "attach" (only an embedded one already running),
    "" (no database)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 92),
        epilog=_epilog(*env) if env else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, database=database)
    return parser


def _add_migrate(sub: Any) -> None:
    _add(
        sub,
        "migrate",
        _cmd_migrate,
        help="create the database if missing and migrate it to the newest schema",
        description="Create the database if it is missing, then run the Alembic migrations to "
        "head. Safe to repeat; run it once per release before the other processes.",
        env=("database",),
    )


def _add_run(sub: Any) -> None:
    _add(
        sub,
        "run",
        _cmd_run,
        help="migrate, then run api + scheduler + bot in the foreground (the quick start)",
        description="Check the broker (if any), migrate, then serve the HTTP API and run the "
        "scheduler and the Discord bot in one process until Ctrl-C or SIGTERM, which stops all "
        "three cleanly (exit 0). The scheduler's metrics are on METRICS_PORT (default 9101), "
        "the bot's on the next port (9102).",
        env=_EVERY_ENV,
    )


def _add_scheduler(sub: Any) -> None:
    parser = _add(
        sub,
        "scheduler",
        _cmd_scheduler,
        help="run the scheduler daemon (reminders, status transitions, outbox)",
        description="The scheduler daemon: publishes reminders, status changes and outbox "
        "events when they are due. Run as many replicas as you like.",
        env=("database", "transport", "scheduler", "retention", "metrics"),
    )
    parser.add_argument(
        "--kinds",
        metavar="KINDS",
        help="comma-separated subset of reminders,status,outbox (default: all)",
    )


def _add_api(sub: Any) -> None:
    _add(
        sub,
        "api",
        _cmd_api,
        help="serve the HTTP API on API_HOST:API_PORT",
        description="Serve the HTTP API (JSON under /api/v1, OpenAPI docs at /docs, "
        "/healthz, /readyz, /metrics, /discord/interactions). The database must be migrated.",
        env=("database", "discord", "interactions", "api"),
    )


def _add_bot(sub: Any) -> None:
    _add(
        sub,
        "bot",
        _cmd_bot,
        help="run the Discord bot (dry run, logging what it would send, without a token)",
        description="The Discord bot: consumes the events, keeps each game's announcement "
        "current and sends the reminder DMs. Without DISCORD_TOKEN it runs dry: each message "
        "it would send is one `dry-run:` log line. SIGTERM finishes the deliveries in hand.",
        env=("database", "transport", "discord", "metrics"),
    )


def _add_dlq(sub: Any) -> None:
    dlq = _add(
        sub,
        "dlq",
        _cmd_dlq,
        help="list or re-send parked (dead-lettered) event messages",
        description="The event messages the bot parked (dead-lettered), on either transport.",
        env=("database", "transport"),
    )
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_sub.add_parser("list", help="show parked messages and why they were parked")
    dlq_list.add_argument("--limit", type=int, default=100, metavar="N", help="at most N")
    replay = dlq_sub.add_parser("replay", help="send parked messages back to the bot's queue")
    replay.add_argument("ids", nargs="*", metavar="ID", help="ids as `dlq list` shows them")
    replay.add_argument("--all", action="store_true", help="replay every parked message")


def _add_token(sub: Any) -> None:
    token = _add(
        sub,
        "token",
        _cmd_token,
        help="create or revoke API tokens",
        description="API tokens for `Authorization: Bearer <token>`. Only their SHA-256 is "
        "stored: a new token is shown once, alone on the last line of the output.",
        env=("database",),
    )
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser(
        "create",
        help="print a new token (only its hash is stored)",
        description="Print a new token alone on the last line: admin (may register guilds), "
        "or with --guild scoped to one registered guild.",
    )
    create.add_argument("--name", required=True, help="a unique name for the token")
    create.add_argument(
        "--guild", metavar="DISCORD_GUILD_ID", help="scope it to this registered guild"
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name", help="the name given at `token create`")


def _add_demo(sub: Any) -> None:
    from gamesched import demo

    parser = _add(
        sub,
        "demo",
        _cmd_demo,
        help="schedule a demo game to watch with `gamesched run` (no Discord needed)",
        description="Register a demo guild and channel (once), create a game starting in "
        "3 minutes with reminders 2 and 1 minutes before and a 1-minute duration, two players "
        "and a third on the waitlist, and print a token scoped to the demo guild with curl "
        "commands to look at the game. Then follow the game: the next step and the time "
        "left, until it is COMPLETED (Ctrl-C stops following, not the game). `gamesched run` "
        "in another terminal carries the game out; its dry-run bot logs each message.",
        env=("database", "api"),
        database="attach",
    )
    parser.add_argument(
        "--start-in",
        type=demo.start_in_seconds,
        default=demo.DEFAULT_START_IN,
        metavar="SECONDS",
        help=f"start the game this many seconds from now (default {demo.DEFAULT_START_IN}; "
        "reminders that would be past are skipped)",
    )
    parser.add_argument(
        "--no-follow",
        dest="follow",
        action="store_false",
        help="print the game, the token and the curl commands, then exit",
    )


def _add_discord(sub: Any) -> None:
    discord = _add(
        sub,
        "discord",
        _cmd_discord,
        help="Discord set-up: register the slash commands",
        description="Discord set-up: register (bulk-overwrite) the application's slash "
        "commands, /game and /timezone, globally or in one guild.",
        env=("discord",),
        database="",
    )
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


def _add_prune(sub: Any) -> None:
    _add(
        sub,
        "prune",
        _cmd_prune,
        help="one retention pass now (GAMESCHED_RETENTION_DAYS); print counts",
        description="One retention pass now: delete the done rows older than "
        "GAMESCHED_RETENTION_DAYS (never a pending row, nor a row of a game still scheduled or "
        "in progress) and print how many went from each table. The scheduler does this by "
        "itself every 10 minutes.",
        env=("database", "retention"),
    )


#: Every subcommand, in the order --help lists them.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_run,
    _add_demo,
    _add_migrate,
    _add_api,
    _add_scheduler,
    _add_bot,
    _add_token,
    _add_dlq,
    _add_prune,
    _add_discord,
]


#: what to do about a server that cannot be reached, by the start of the error line
_FIXES = {
    "cannot connect to PostgreSQL": "check that it runs and DATABASE_URL, or unset DATABASE_URL "
    "to use the embedded PostgreSQL",
    "cannot connect to RabbitMQ": "check that it runs and RABBITMQ_URL, or unset RABBITMQ_URL "
    "to carry the events through PostgreSQL",
}


def _how_to_fix(message: str) -> str:
    for start, fix in _FIXES.items():
        if message.startswith(start) and "`gamesched migrate`" not in message:
            return f" ({fix})"
    return ""


def version() -> str:
    try:
        return importlib.metadata.version("gamesched")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gamesched",
        description=textwrap.fill(
            "Self-hosted Discord game-night scheduler: an HTTP API, a scheduler daemon "
            "and a Discord bot. Configured by environment variables (each command's --help lists "
            "those it reads; the README's Configuration section has them all). Start with "
            "`gamesched run`, then `gamesched demo` in another terminal.",
            92,
        ),
        epilog=_epilog(*_EVERY_ENV),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gamesched {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _handlers() -> dict[str, Callable[[Settings, argparse.Namespace], int]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: p.get_default("handler") for name, p in sub.choices.items()}


#: Each subcommand's handler by name (what the parser dispatches to, for tests and tools).
COMMANDS = _handlers()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        settings = load_settings()
        logsetup.configure(settings.log_level, settings.log_format, component=args.command)
        if not args.database:
            return handler(settings, args)
        with _database(settings, args) as resolved:
            return handler(resolved, args)
    except errors.GameschedError as exc:
        print(f"gamesched {args.command}: {exc.message}{_how_to_fix(exc.message)}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
