"""time zones and Discord drafts: user_settings, guilds.timezone, game_drafts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Slash commands read the times people type in their own zone: ``user_settings`` holds a person's
IANA zone, ``guilds.timezone`` the guild's default (UTC unless an admin sets it). A ``/game
create`` or ``/game edit`` is held in ``game_drafts`` between the modal's submit and the Confirm
click; a draft belongs to one user in one guild and expires (``expires_at``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.add_column(
        "guilds",
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.create_table(
        "user_settings",
        sa.Column("discord_user_id", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(
            "discord_user_id ~ '^[0-9]{1,20}$'",
            name=op.f("ck_user_settings_discord_user_id_snowflake"),
        ),
        sa.PrimaryKeyConstraint("discord_user_id", name=op.f("pk_user_settings")),
    )
    op.create_table(
        "game_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("discord_user_id", sa.String(length=20), nullable=False),
        sa.Column("discord_guild_id", sa.String(length=20), nullable=False),
        sa.Column("discord_channel_id", sa.String(length=20), nullable=True),
        sa.Column("game_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_duration_minutes", sa.Integer(), nullable=True),
        sa.Column("max_players", sa.Integer(), nullable=True),
        sa.Column("typed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "isfinite(scheduled_at)", name=op.f("ck_game_drafts_scheduled_at_finite")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_drafts")),
    )
    op.create_index("ix_game_drafts_expires_at", "game_drafts", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_game_drafts_expires_at", table_name="game_drafts")
    op.drop_table("game_drafts")
    op.drop_table("user_settings")
    op.drop_column("guilds", "timezone")
