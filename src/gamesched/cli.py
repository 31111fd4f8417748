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

from gamesched import errors, logsetup
from gamesched.settings import Settings, load_settings

log = logging.getLogger("gamesched")

EXIT_CONFIG = 2


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import migrate

    migrate.upgrade(settings)
    return 0


def _cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.scheduler import kinds, service

    svc = service.SchedulerService(settings, kinds.parse_kinds(args.kinds))
    return asyncio.run(_serve(svc.run(), svc.stop))


async def _serve(main: Coroutine[Any, Any, int], stop: Callable[[], None]) -> int:
    """Run ``main`` with two-stage signal handling: the first SIGINT/SIGTERM asks it to stop
    cleanly, a second one exits at once."""
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            log.info("%s: stopping", signal.Signals(signum).name, extra={"action": "signal"})
            stop()
        else:
            log.warning("second signal: exiting now", extra={"action": "force_exit"})
            os._exit(1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await main
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    # Until the api, scheduler and bot commands land, `run` only migrates.
    return _cmd_migrate(settings, args)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "migrate": _cmd_migrate,
    "run": _cmd_run,
    "scheduler": _cmd_scheduler,
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logsetup.configure(settings.log_level, settings.log_format)
        return COMMANDS[args.command](settings, args)
    except errors.GameschedError as exc:
        print(f"gamesched {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
