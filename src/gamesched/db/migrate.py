"""``gamesched migrate``: create the database if missing, then upgrade it to Alembic's head."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, NullPool, text
from sqlalchemy import exc as sa_exc

from gamesched import errors
from gamesched.db import engine
from gamesched.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats '%' specially; URL-encoded passwords contain it.
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    created = engine.create_database(settings)
    if created:
        log.info("created database %s", settings.database_name, extra={"action": "db_created"})
    command.upgrade(alembic_config(settings), revision)
    log.info("database at %s", revision, extra={"action": "migrated"})


def downgrade(settings: Settings, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings), revision)


@functools.cache
def _script() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def schema_behind(conn: Connection) -> str | None:
    """Why the database's schema is behind this code's migrations (None: it is not).

    A revision this code does not know is newer (a later release migrated first): not behind,
    so older replicas keep serving during a rolling upgrade.
    """
    script = _script()
    current: set[str] = set()
    if conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")):
        current = set(conn.scalars(text("SELECT version_num FROM alembic_version")))
    if not current:
        return "has no gamesched schema"
    known = {rev.revision for rev in script.walk_revisions()}
    heads = set(script.get_heads())
    if current <= known and current != heads:
        return f"is at revision {', '.join(sorted(current))}, behind {', '.join(sorted(heads))}"
    return None


def check_schema(settings: Settings) -> None:
    """ConfigError (one line) unless the database exists and its schema is up to date."""
    eng = engine.make_engine(settings, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            problem = schema_behind(conn)
    except sa_exc.OperationalError as exc:
        raise errors.ConfigError(
            engine.connect_error_message(settings.url, exc.orig or exc)
        ) from exc
    finally:
        eng.dispose()
    if problem:
        raise errors.ConfigError(
            f"database {settings.database_name} {problem}: run `gamesched migrate`"
        )
