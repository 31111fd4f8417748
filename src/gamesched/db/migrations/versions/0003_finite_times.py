"""finite times only; event_outbox.skip_reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

A time column that drives the scheduler refuses ``infinity`` and ``-infinity``: a reminder due at
``-infinity`` was claimed, published, then failed to be marked done (``cannot subtract infinite
timestamps``) and was published again in a tight loop. Existing schedule rows with such a time
(they could never have been delivered) are first marked done with the reason ``invalid_time``
and their time set to when they were written; a game with such a time stops the upgrade, with
its id, for a person to decide about.

``event_outbox`` gains ``skip_reason`` like the other schedule tables, so an event the scheduler
gives up on (``poison``: its batch failed with it alone, again and again) is recorded as such.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (time column, done column, done-at column)
SCHEDULE_TABLES = {
    "notification_schedule": ("notification_time", "sent", "sent_at"),
    "game_status_schedule": ("transition_time", "executed", "executed_at"),
    "event_outbox": ("available_at", "published", "published_at"),
}

_NO_INFINITE_GAMES = """
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(id::text, ', ') INTO bad FROM game_sessions WHERE NOT isfinite(scheduled_at);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'games with an infinite scheduled_at: %; fix or delete them, then migrate',
            bad;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.add_column("event_outbox", sa.Column("skip_reason", sa.Text(), nullable=True))
    op.execute(_NO_INFINITE_GAMES)
    op.create_check_constraint(
        op.f("ck_game_sessions_scheduled_at_finite"), "game_sessions", "isfinite(scheduled_at)"
    )
    for table, (due, done, done_at) in SCHEDULE_TABLES.items():
        op.execute(
            f"UPDATE {table} SET {due} = created_at, {done} = true, "
            f"{done_at} = coalesce({done_at}, now()), skip_reason = 'invalid_time' "
            f"WHERE NOT isfinite({due})"
        )
        op.create_check_constraint(op.f(f"ck_{table}_{due}_finite"), table, f"isfinite({due})")


def downgrade() -> None:
    for table, (due, _, _) in SCHEDULE_TABLES.items():
        op.drop_constraint(op.f(f"ck_{table}_{due}_finite"), table, type_="check")
    op.drop_constraint(op.f("ck_game_sessions_scheduled_at_finite"), "game_sessions", type_="check")
    op.drop_column("event_outbox", "skip_reason")
