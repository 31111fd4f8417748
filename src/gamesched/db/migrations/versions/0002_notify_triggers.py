"""NOTIFY triggers on the schedule tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

One statement-level trigger per table and operation, reading the statement's transition table,
so inserting 10,000 rows in one statement sends one NOTIFY, not 10,000 (every NOTIFY takes an
instance-wide lock at commit, so per-row notifications would serialise writers).

A notification is sent only when the statement touched not-done rows due within the horizon:
``gamesched.notify_horizon`` (a PostgreSQL setting, e.g. ``ALTER DATABASE ... SET
gamesched.notify_horizon = '15 minutes'``), default 10 minutes. Rows due later are found by the
daemon's periodic re-query, which the horizon must exceed (SCHEDULER_MAX_WAIT_SECONDS < horizon).
Our own "mark done" updates touch only done rows, so they never notify.

Payload: {"op", "count", "due_at"} plus "id" and "game_id" when exactly one row qualified.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (due-time column, done column)
SCHEDULE_TABLES = {
    "notification_schedule": ("notification_time", "sent"),
    "game_status_schedule": ("transition_time", "executed"),
    "event_outbox": ("available_at", "published"),
}

_FUNCTION = """
CREATE FUNCTION {table}_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    horizon interval := coalesce(
        nullif(current_setting('gamesched.notify_horizon', true), '')::interval,
        interval '10 minutes');
    limit_at timestamptz := now() + horizon;
    n bigint;
    due timestamptz;
    one record;
    payload jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT count(*), min({due}) INTO n, due
          FROM old_rows WHERE NOT {done} AND {due} <= limit_at;
    ELSE
        SELECT count(*), min({due}) INTO n, due
          FROM new_rows WHERE NOT {done} AND {due} <= limit_at;
    END IF;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    payload := jsonb_build_object('op', TG_OP, 'count', n, 'due_at', due);
    IF n = 1 THEN
        IF TG_OP = 'DELETE' THEN
            SELECT id, game_id INTO one FROM old_rows WHERE NOT {done} AND {due} <= limit_at;
        ELSE
            SELECT id, game_id INTO one FROM new_rows WHERE NOT {done} AND {due} <= limit_at;
        END IF;
        payload := payload || jsonb_build_object('id', one.id, 'game_id', one.game_id);
    END IF;
    PERFORM pg_notify('{table}_changed', payload::text);
    RETURN NULL;
END
$fn$;
"""

_TRIGGERS = """
CREATE TRIGGER {table}_notify_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_notify();
CREATE TRIGGER {table}_notify_update AFTER UPDATE ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_notify();
CREATE TRIGGER {table}_notify_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_notify();
"""


def upgrade() -> None:
    for table, (due, done) in SCHEDULE_TABLES.items():
        op.execute(_FUNCTION.format(table=table, due=due, done=done))
        for stmt in _TRIGGERS.format(table=table).split(";"):
            if stmt.strip():
                op.execute(stmt)


def downgrade() -> None:
    for table in SCHEDULE_TABLES:
        for kind in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_{kind} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_notify()")
