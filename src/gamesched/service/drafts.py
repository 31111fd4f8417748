"""Games typed into Discord's modal, held until the host confirms the preview.

A draft is the parsed game (an instant, never a wall time) plus what was typed, so Edit can
pre-fill the modal again. Confirm turns it into the game through :mod:`gamesched.service.games`
in the caller's transaction (the same rows and outbox event as the HTTP API), and deletes it.
A draft is only usable by the person who typed it, in the guild they typed it in, for
:data:`LIFETIME`; anything else is NotFound, the same as a draft that never existed.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gamesched import errors
from gamesched.db import drafts as db_drafts
from gamesched.db import games as db_games
from gamesched.db import models
from gamesched.service import games, hosting, scope

LIFETIME = timedelta(minutes=15)


def save_draft(
    session: Session,
    *,
    discord_user_id: str,
    discord_guild_id: str,
    discord_channel_id: str | None,
    game_id: uuid.UUID | None,
    title: str,
    description: str | None,
    scheduled_at: datetime,
    expected_duration_minutes: int | None,
    max_players: int | None,
    typed: dict[str, Any],
    now: datetime,
) -> models.GameDraft:
    """Store a new draft with a random id (the Confirm button carries it).

    The newest preview wins: this person's earlier drafts for the same game (or for a new game)
    in this guild are removed, so confirming an older preview cannot create a second game.
    Expired drafts are removed on the way: nothing else needs to clean up after people who never
    click."""
    db_drafts.delete_expired(session, now=now)
    db_drafts.delete_superseded(
        session, discord_user_id=discord_user_id, discord_guild_id=discord_guild_id, game_id=game_id
    )
    draft = models.GameDraft(
        id=secrets.token_urlsafe(18),
        discord_user_id=discord_user_id,
        discord_guild_id=discord_guild_id,
        discord_channel_id=discord_channel_id,
        game_id=game_id,
        title=title,
        description=description,
        scheduled_at=scheduled_at,
        expected_duration_minutes=expected_duration_minutes,
        max_players=max_players,
        typed=dict(typed),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(draft)
    session.flush()
    return draft


def get_draft(
    session: Session,
    *,
    draft_id: str,
    discord_user_id: str,
    discord_guild_id: str,
    now: datetime,
    lock: bool = False,
) -> models.GameDraft:
    draft = db_drafts.find_draft(
        session,
        draft_id=draft_id,
        discord_user_id=discord_user_id,
        discord_guild_id=discord_guild_id,
        now=now,
        lock=lock,
    )
    if draft is None:
        raise errors.NotFound("draft not found or expired", field="draft_id")
    return draft


def confirm_draft(
    session: Session,
    *,
    draft_id: str,
    discord_user_id: str,
    discord_guild_id: str,
    manager: bool,
    now: datetime,
) -> tuple[db_games.GameRow, bool]:
    """Create (or apply the edit of) the drafted game; the game and whether it is new.

    A new game is hosted by the person confirming, in the channel the modal was opened in
    (NotFound ``discord_channel_id`` if that channel is not registered for this guild). An edit
    checks again that this person may change the game. The time must still be in the future.
    """
    draft = get_draft(
        session,
        draft_id=draft_id,
        discord_user_id=discord_user_id,
        discord_guild_id=discord_guild_id,
        now=now,
        lock=True,
    )
    guild = scope.get_guild(session, discord_guild_id=discord_guild_id, guild_scope=None)
    if draft.game_id is None:
        if draft.discord_channel_id is None:
            raise scope.channel_not_found()
        row = games.create_game(
            session,
            guild_scope=guild.id,
            discord_channel_id=draft.discord_channel_id,
            title=draft.title,
            description=draft.description,
            scheduled_at=draft.scheduled_at,
            expected_duration_minutes=draft.expected_duration_minutes,
            max_players=draft.max_players,
            reminder_minutes=None,
            host_discord_id=discord_user_id,
            now=now,
        )
        created = True
    else:
        current = hosting.manageable_game(
            session,
            game_id=draft.game_id,
            guild_scope=guild.id,
            discord_user_id=discord_user_id,
            manager=manager,
            lock=True,
        )
        changes: dict[str, Any] = {
            "title": draft.title,
            "description": draft.description,
            "expected_duration_minutes": draft.expected_duration_minutes,
            "max_players": draft.max_players,
        }
        if draft.scheduled_at != current.game.scheduled_at:
            changes["scheduled_at"] = draft.scheduled_at
        row = games.change_game(
            session, game_id=draft.game_id, guild_scope=guild.id, now=now, **changes
        )
        created = False
    db_drafts.delete_draft(session, draft=draft)
    return row, created
