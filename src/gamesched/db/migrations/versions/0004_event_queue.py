"""event_queue: the PostgreSQL event transport's queue table

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Messages wait here between the scheduler and their consumer when GAMESCHED_TRANSPORT is
``postgres``. A partial index serves the consumer's claim (ready messages by availability), a
second one the dead-letter listing; both stay small because handled messages are deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_queue",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("queue", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("routing_key", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "available_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="ready", nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('ready', 'parked')", name=op.f("ck_event_queue_state")),
        sa.CheckConstraint(
            "isfinite(available_at)", name=op.f("ck_event_queue_available_at_finite")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_queue")),
    )
    op.create_index(
        "ix_event_queue_ready",
        "event_queue",
        ["queue", "available_at", "id"],
        unique=False,
        postgresql_where=sa.text("state = 'ready'"),
    )
    op.create_index(
        "ix_event_queue_parked",
        "event_queue",
        ["queue", "id"],
        unique=False,
        postgresql_where=sa.text("state = 'parked'"),
    )


def downgrade() -> None:
    op.drop_index("ix_event_queue_parked", table_name="event_queue")
    op.drop_index("ix_event_queue_ready", table_name="event_queue")
    op.drop_table("event_queue")
