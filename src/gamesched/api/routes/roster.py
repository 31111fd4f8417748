"""Joining and leaving a game."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from gamesched.api import deps, schemas
from gamesched.service import roster

router = APIRouter(prefix="/api/v1/games", tags=["roster"], responses=schemas.API_ERRORS)


@router.post("/{game_id}/participants", status_code=status.HTTP_201_CREATED)
def join_game(
    game_id: deps.GameIdPath, body: schemas.JoinIn, session: deps.DbSession, caller: deps.Caller
) -> schemas.ParticipantOut:
    """Join: confirmed while seats remain, else waitlisted. 409 if already in, or if the game
    is cancelled or finished."""
    entry = roster.join(
        session,
        game_id=game_id,
        guild_scope=caller.guild_id,
        discord_user_id=body.discord_user_id,
    )
    return schemas.ParticipantOut.of(entry)


@router.delete(
    "/{game_id}/participants/{discord_user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def leave_game(
    game_id: deps.GameIdPath,
    discord_user_id: deps.UserIdPath,
    session: deps.DbSession,
    caller: deps.Caller,
) -> None:
    """Leave; the first waiting player, if any, takes the seat."""
    roster.leave(
        session, game_id=game_id, guild_scope=caller.guild_id, discord_user_id=discord_user_id
    )
