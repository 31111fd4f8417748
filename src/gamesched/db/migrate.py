"""``gamesched migrate``: create the database if missing, then upgrade it to Alembic's head."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

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
