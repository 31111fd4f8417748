"""Small SQL helpers for tests that work on raw psycopg connections."""

from __future__ import annotations

from typing import Any

import psycopg


def seed_game(conn: psycopg.Connection[Any], *, starts_in: str = "1 day") -> str:
    """Insert a guild, a channel and a game starting ``starts_in`` from now; return its id."""
    row = conn.execute(
        """
        WITH g AS (
            INSERT INTO guilds (discord_guild_id, name) VALUES ('1', 'guild') RETURNING id
        ), c AS (
            INSERT INTO channels (guild_id, discord_channel_id, name)
            SELECT id, '2', 'channel' FROM g RETURNING id, guild_id
        )
        INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, host_discord_id)
        SELECT guild_id, id, 'Game', now() + %s::interval, '3' FROM c
        RETURNING id
        """,
        (starts_in,),
    ).fetchone()
    assert row is not None
    return str(row[0])
