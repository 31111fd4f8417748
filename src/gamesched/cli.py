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


def _cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gamesched.api import app

    uvicorn.run(
        app.create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )
    return 0


def _cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import orm

    from gamesched.db import engine as db_engine
    from gamesched.db import tokens

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
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise errors.DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {settings.masked(settings.database_url)}: {detail}"
        ) from exc
    finally:
        engine.dispose()
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "migrate": _cmd_migrate,
    "run": _cmd_run,
    "api": _cmd_api,
    "token": _cmd_token,
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
    sub.add_parser("api", help="serve the HTTP API on API_HOST:API_PORT")
    token = sub.add_parser("token", help="create or revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="print a new token (only its hash is stored)")
    create.add_argument("--name", required=True, help="a unique name for the token")
    create.add_argument(
        "--guild", metavar="DISCORD_GUILD_ID", help="scope it to this registered guild"
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
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
