from __future__ import annotations

import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gamesched.db import engine as db_engine
from gamesched.db import migrate
from gamesched.db.models import Base
from tests.conftest import SERVER_URL, make_settings

SCHEDULE_TABLES = ("notification_schedule", "game_status_schedule", "event_outbox")


def _triggers(conn) -> set[str]:
    rows = conn.execute(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%_notify_%'"
    ).fetchall()
    return {r[0] for r in rows}


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff():
    name = f"gst_mig_{uuid.uuid4().hex[:8]}"
    settings = make_settings(name)
    try:
        # upgrade from empty (the database does not even exist yet: migrate creates it)
        migrate.upgrade(settings)
        migrate.upgrade(settings)  # running it twice is harmless
        engine = db_engine.make_engine(settings)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
            assert diff == []
        with db_engine.connect(settings.libpq_url) as raw:
            assert len(_triggers(raw)) == 3 * len(SCHEDULE_TABLES)

        migrate.downgrade(settings, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
        with db_engine.connect(settings.libpq_url) as raw:
            assert _triggers(raw) == set()
            funcs = raw.execute(
                "SELECT count(*) FROM pg_proc WHERE proname = ANY(%s)",
                ([f"{t}_notify" for t in SCHEDULE_TABLES],),
            )
            assert funcs.fetchone() == (0,)

        command.upgrade(migrate.alembic_config(settings), "head")
        with engine.connect() as conn:
            assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())
        engine.dispose()
    finally:
        db_engine.drop_database(SERVER_URL, name)
