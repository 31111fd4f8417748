"""Joining and leaving a game."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from gamesched.api import deps, schemas
from gamesched.service import roster

router = APIRouter(prefix="/api/v1/games", tags=["roster"])


@router.post(
    "/{game_id}/participants",
    status_code=status.HTTP_201_CREATED,
    summary="Join a game",
    response_description="the player's place on the roster",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 404, 409),
)
def join_game(
    game_id: deps.GameIdPath,
    body: schemas.JoinInBody,
    session: deps.DbSession,
    caller: deps.Caller,
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
    summary="Leave a game",
    response_description="left",
    responses=schemas.errors(*schemas.API, 404, 409),
)
def leave_game(
    game_id: deps.GameIdPath,
    discord_user_id: deps.UserIdPath,
    session: deps.DbSession,
    caller: deps.Caller,
) -> None:
    """Leave; the first waiting player, if any, takes the seat. 404 if the player is not in
    the game, 409 if the game is cancelled or finished."""
    roster.leave(
        session, game_id=game_id, guild_scope=caller.guild_id, discord_user_id=discord_user_id
    )
