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


def test_0003_sets_aside_rows_with_infinite_times_then_refuses_them():
    name = f"gst_mig_{uuid.uuid4().hex[:8]}"
    settings = make_settings(name)
    try:
        migrate.upgrade(settings, "0002")
        with db_engine.connect(settings.libpq_url) as raw:
            raw.execute(
                "WITH g AS (INSERT INTO guilds (discord_guild_id) VALUES ('1') RETURNING id), "
                "c AS (INSERT INTO channels (guild_id, discord_channel_id) "
                "SELECT id, '2' FROM g RETURNING id, guild_id), "
                "s AS (INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, "
                "host_discord_id) SELECT guild_id, id, 't', now(), '3' FROM c RETURNING id) "
                "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
                "SELECT id, m, t FROM s, "
                "(VALUES (1, '-infinity'::timestamptz), (2, now())) v(m, t)"
            )
            raw.execute(
                "INSERT INTO event_outbox (routing_key, payload, available_at) "
                "VALUES ('game.created', '{}', 'infinity')"
            )
        migrate.upgrade(settings)
        with db_engine.connect(settings.libpq_url) as raw:
            rows = raw.execute(
                "SELECT reminder_minutes, sent, skip_reason, isfinite(notification_time) "
                "FROM notification_schedule ORDER BY 1"
            ).fetchall()
            assert rows == [(1, True, "invalid_time", True), (2, False, None, True)]
            outbox = raw.execute(
                "SELECT published, skip_reason, isfinite(available_at) FROM event_outbox"
            ).fetchall()
            assert outbox == [(True, "invalid_time", True)]
    finally:
        db_engine.drop_database(SERVER_URL, name)
