"""API tokens. Only the SHA-256 of a token is stored; the plaintext is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamesched import errors
from gamesched.db import models


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an admin (``guild_id`` None) or a token scoped to one guild."""

    name: str
    guild_id: uuid.UUID | None

    @property
    def is_admin(self) -> bool:
        return self.guild_id is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, *, name: str, discord_guild_id: str | None) -> str:
    """Store a new token's hash and return the plaintext token (the only time it is known)."""
    if not 1 <= len(name) <= 100:
        raise errors.InvalidInput("name: must be 1-100 characters", field="name")
    guild_id = None
    if discord_guild_id is not None:
        guild_id = session.scalar(
            select(models.Guild.id).where(models.Guild.discord_guild_id == discord_guild_id)
        )
        if guild_id is None:
            raise errors.NotFound(
                f"guild {discord_guild_id} is not registered", field="discord_guild_id"
            )
    token = secrets.token_urlsafe(32)
    inserted = session.scalar(
        insert(models.ApiToken)
        .values(name=name, token_hash=hash_token(token), guild_id=guild_id)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(models.ApiToken.id)
    )
    if inserted is None:
        raise errors.Conflict(f"a token named {name!r} already exists", field="name")
    return token


def revoke_token(session: Session, *, name: str, now: datetime | None = None) -> None:
    """Revoke the token called ``name``; revoking twice is harmless, an unknown name is not."""
    found = session.scalar(
        update(models.ApiToken)
        .where(models.ApiToken.name == name, models.ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
        .returning(models.ApiToken.id)
    )
    if (
        found is None
        and session.scalar(select(models.ApiToken.id).where(models.ApiToken.name == name)) is None
    ):
        raise errors.NotFound(f"no token named {name!r}", field="name")


def authenticate(session: Session, *, token: str) -> Principal:
    """The principal behind a bearer token, or Unauthorized (unknown or revoked)."""
    row = session.execute(
        select(models.ApiToken.name, models.ApiToken.guild_id).where(
            models.ApiToken.token_hash == hash_token(token),
            models.ApiToken.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        raise errors.Unauthorized("the bearer token is unknown or revoked")
    return Principal(name=row.name, guild_id=row.guild_id)
