"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("routing_key", sa.String(length=100), nullable=False),
        sa.Column("game_id", sa.UUID(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "available_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
    )
    op.create_index(
        "ix_event_outbox_due",
        "event_outbox",
        ["available_at"],
        unique=False,
        postgresql_where=sa.text("NOT published"),
    )
    op.create_table(
        "guilds",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("discord_guild_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "reminder_minutes",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{60,15}'::integer[]"),
            nullable=False,
        ),
        sa.Column(
            "default_duration_minutes", sa.Integer(), server_default=sa.text("120"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "discord_guild_id ~ '^[0-9]{1,20}$'", name=op.f("ck_guilds_discord_guild_id_snowflake")
        ),
        sa.CheckConstraint(
            "default_duration_minutes > 0", name=op.f("ck_guilds_default_duration_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guilds")),
        sa.UniqueConstraint("discord_guild_id", name=op.f("uq_guilds_discord_guild_id")),
    )
    op.create_table(
        "processed_events",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("routing_key", sa.String(length=100), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("guild_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["guilds.id"],
            name=op.f("fk_api_tokens_guild_id_guilds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("guild_id", sa.UUID(), nullable=False),
        sa.Column("discord_channel_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("reminder_minutes", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "discord_channel_id ~ '^[0-9]{1,20}$'",
            name=op.f("ck_channels_discord_channel_id_snowflake"),
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["guilds.id"],
            name=op.f("fk_channels_guild_id_guilds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("discord_channel_id", name=op.f("uq_channels_discord_channel_id")),
    )
    op.create_index(op.f("ix_channels_guild_id"), "channels", ["guild_id"], unique=False)
    op.create_table(
        "game_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("guild_id", sa.UUID(), nullable=False),
        sa.Column("channel_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_duration_minutes", sa.Integer(), nullable=True),
        sa.Column("max_players", sa.Integer(), nullable=True),
        sa.Column("reminder_minutes", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="SCHEDULED", nullable=False),
        sa.Column("host_discord_id", sa.String(length=20), nullable=False),
        sa.Column("discord_message_id", sa.String(length=20), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "host_discord_id ~ '^[0-9]{1,20}$'",
            name=op.f("ck_game_sessions_host_discord_id_snowflake"),
        ),
        sa.CheckConstraint(
            "status IN ('SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')",
            name=op.f("ck_game_sessions_status"),
        ),
        sa.CheckConstraint(
            "expected_duration_minutes IS NULL OR expected_duration_minutes > 0",
            name=op.f("ck_game_sessions_duration_positive"),
        ),
        sa.CheckConstraint(
            "max_players IS NULL OR max_players > 0",
            name=op.f("ck_game_sessions_max_players_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_game_sessions_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"],
            ["guilds.id"],
            name=op.f("fk_game_sessions_guild_id_guilds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_sessions")),
    )
    op.create_index("ix_game_sessions_channel_id", "game_sessions", ["channel_id"], unique=False)
    op.create_index(
        "ix_game_sessions_guild_id_scheduled_at",
        "game_sessions",
        ["guild_id", "scheduled_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_game_sessions_scheduled_at", "game_sessions", ["scheduled_at", "id"], unique=False
    )
    op.create_table(
        "game_participants",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("game_id", sa.UUID(), nullable=False),
        sa.Column("discord_user_id", sa.String(length=20), nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "discord_user_id ~ '^[0-9]{1,20}$'",
            name=op.f("ck_game_participants_discord_user_id_snowflake"),
        ),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["game_sessions.id"],
            name=op.f("fk_game_participants_game_id_game_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_participants")),
        sa.UniqueConstraint(
            "game_id", "discord_user_id", name=op.f("uq_game_participants_game_id_discord_user_id")
        ),
    )
    op.create_table(
        "game_status_schedule",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("game_id", sa.UUID(), nullable=False),
        sa.Column("target_status", sa.String(length=16), nullable=False),
        sa.Column("transition_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("executed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "target_status IN ('SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')",
            name=op.f("ck_game_status_schedule_target_status"),
        ),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["game_sessions.id"],
            name=op.f("fk_game_status_schedule_game_id_game_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_status_schedule")),
        sa.UniqueConstraint(
            "game_id", "target_status", name=op.f("uq_game_status_schedule_game_id_target_status")
        ),
    )
    op.create_index(
        "ix_game_status_schedule_due",
        "game_status_schedule",
        ["transition_time"],
        unique=False,
        postgresql_where=sa.text("NOT executed"),
    )
    op.create_table(
        "notification_schedule",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("game_id", sa.UUID(), nullable=False),
        sa.Column("reminder_minutes", sa.Integer(), nullable=False),
        sa.Column("notification_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "reminder_minutes >= 0",
            name=op.f("ck_notification_schedule_reminder_minutes_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["game_sessions.id"],
            name=op.f("fk_notification_schedule_game_id_game_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_schedule")),
        sa.UniqueConstraint(
            "game_id",
            "reminder_minutes",
            name=op.f("uq_notification_schedule_game_id_reminder_minutes"),
        ),
    )
    op.create_index(
        "ix_notification_schedule_due",
        "notification_schedule",
        ["notification_time"],
        unique=False,
        postgresql_where=sa.text("NOT sent"),
    )
    op.create_table(
        "reminder_deliveries",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("discord_user_id", sa.String(length=20), nullable=False),
        sa.Column("notification_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="sent", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "delivered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "discord_user_id ~ '^[0-9]{1,20}$'",
            name=op.f("ck_reminder_deliveries_discord_user_id_snowflake"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification_schedule.id"],
            name=op.f("fk_reminder_deliveries_notification_id_notification_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_deliveries")),
        sa.UniqueConstraint(
            "notification_id",
            "discord_user_id",
            "notification_time",
            name="uq_reminder_deliveries_once",
        ),
    )


def downgrade() -> None:
    op.drop_table("reminder_deliveries")
    op.drop_index(
        "ix_notification_schedule_due",
        table_name="notification_schedule",
        postgresql_where=sa.text("NOT sent"),
    )
    op.drop_table("notification_schedule")
    op.drop_index(
        "ix_game_status_schedule_due",
        table_name="game_status_schedule",
        postgresql_where=sa.text("NOT executed"),
    )
    op.drop_table("game_status_schedule")
    op.drop_table("game_participants")
    op.drop_index("ix_game_sessions_scheduled_at", table_name="game_sessions")
    op.drop_index("ix_game_sessions_guild_id_scheduled_at", table_name="game_sessions")
    op.drop_index("ix_game_sessions_channel_id", table_name="game_sessions")
    op.drop_table("game_sessions")
    op.drop_index(op.f("ix_channels_guild_id"), table_name="channels")
    op.drop_table("channels")
    op.drop_table("api_tokens")
    op.drop_table("processed_events")
    op.drop_table("guilds")
    op.drop_index(
        "ix_event_outbox_due", table_name="event_outbox", postgresql_where=sa.text("NOT published")
    )
    op.drop_table("event_outbox")
