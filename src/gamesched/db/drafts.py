"""Queries over ``game_drafts``: the games typed into a modal and waiting for Confirm."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gamesched.db import models


def find_draft(
    session: Session,
    *,
    draft_id: str,
    discord_user_id: str,
    discord_guild_id: str,
    now: datetime,
    lock: bool = False,
) -> models.GameDraft | None:
    """The draft if it is this user's, in this guild, and not expired; else None."""
    stmt = select(models.GameDraft).where(
        models.GameDraft.id == draft_id,
        models.GameDraft.discord_user_id == discord_user_id,
        models.GameDraft.discord_guild_id == discord_guild_id,
        models.GameDraft.expires_at > now,
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def delete_draft(session: Session, *, draft: models.GameDraft) -> None:
    session.delete(draft)
    session.flush()


def delete_superseded(
    session: Session, *, discord_user_id: str, discord_guild_id: str, game_id: uuid.UUID | None
) -> None:
    """Remove this user's drafts in this guild for the same game (or for a new game)."""
    session.execute(
        delete(models.GameDraft).where(
            models.GameDraft.discord_user_id == discord_user_id,
            models.GameDraft.discord_guild_id == discord_guild_id,
            models.GameDraft.game_id.is_not_distinct_from(game_id),
        )
    )


def delete_expired(session: Session, *, now: datetime) -> int:
    """Remove the drafts that expired; how many (indexed on ``expires_at``)."""
    result = session.execute(delete(models.GameDraft).where(models.GameDraft.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
