"""The ``gamesched`` command line: one entry point for every process.

Each command builds one Settings object and passes it down. Configuration errors (a bad variable,
an unreachable database or broker) end the command with exit status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from gamesched import errors, logsetup
from gamesched.settings import Settings, load_settings

log = logging.getLogger("gamesched")

EXIT_CONFIG = 2


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gamesched.db import migrate

    migrate.upgrade(settings)
    return 0


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    # Until the api, scheduler and bot commands land, `run` only migrates.
    return _cmd_migrate(settings, args)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "migrate": _cmd_migrate,
    "run": _cmd_run,
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
