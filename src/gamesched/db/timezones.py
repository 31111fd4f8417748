"""Queries over ``user_settings`` and the guild's zone. No rules here: whether a zone exists is
decided in :mod:`gamesched.service.timezones` before anything is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched.db import models


def user_zone(session: Session, *, discord_user_id: str) -> str | None:
    return session.scalar(
        select(models.UserSettings.timezone).where(
            models.UserSettings.discord_user_id == discord_user_id
        )
    )


def set_user_zone(session: Session, *, discord_user_id: str, zone: str, now: datetime) -> None:
    """Insert or replace the user's zone (one statement: two first /timezone calls at once
    cannot both insert)."""
    stmt = insert(models.UserSettings).values(
        discord_user_id=discord_user_id, timezone=zone, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["discord_user_id"],
            set_={"timezone": stmt.excluded.timezone, "updated_at": stmt.excluded.updated_at},
        )
    )
