"""Games: create, list, read, change, cancel, delete, and their schedule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from gamesched import rules
from gamesched.api import cursor as page_cursor
from gamesched.api import deps, schemas
from gamesched.db import schedule, views
from gamesched.service import games, scope

router = APIRouter(prefix="/api/v1/games", tags=["games"])

StatusFilter = Annotated[rules.GameStatus | None, Query()]
TimeFilter = Annotated[schemas.Time | None, Query()]
_RFC3339 = "(RFC 3339 with an offset, e.g. 2030-06-01T00:00:00Z)"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a game",
    response_description="the game, with its id and reminders",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 404),
)
def create_game(
    body: schemas.GameInBody, session: deps.DbSession, caller: deps.Caller, now: deps.Now
) -> schemas.GameOut:
    """Create a game with its reminders and status changes; reminders already past are
    listed as skipped. 404 if the channel is not registered (or not the token's guild's)."""
    row = games.create_game(session, guild_scope=caller.guild_id, now=now, **body.model_dump())
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.get(
    "",
    summary="List games",
    response_description="a page of games",
    responses=schemas.errors(*schemas.API, 404),
)
def list_games(
    session: deps.DbSession,
    caller: deps.Caller,
    discord_guild_id: Annotated[
        str | None,
        Query(
            pattern=schemas.SNOWFLAKE_PATTERN,
            description="only this guild's games (404 if it is not the token's)",
        ),
    ] = None,
    game_status: Annotated[
        StatusFilter, Query(alias="status", description="only games with this status")
    ] = None,
    start: Annotated[
        TimeFilter, Query(alias="from", description=f"only scheduled_at >= from {_RFC3339}")
    ] = None,
    end: Annotated[
        TimeFilter, Query(alias="to", description=f"only scheduled_at < to {_RFC3339}")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="games per page (1-100)")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="the previous page's next_cursor")
    ] = None,
) -> schemas.GamePage:
    """Games in ``scheduled_at`` order, a page at a time: a guild token sees its guild's, an
    admin token every guild's."""
    rows, more = games.list_games(
        session,
        guild_scope=caller.guild_id,
        discord_guild_id=discord_guild_id,
        status=game_status,
        start=start,
        end=end,
        after=None if cursor is None else page_cursor.decode(cursor),
        limit=limit,
    )
    last = rows[-1].game if more else None
    next_cursor = None if last is None else page_cursor.encode((last.scheduled_at, last.id))
    items = [schemas.GameOut.of(v) for v in views.game_views(session, rows=rows)]
    return schemas.GamePage(items=items, next_cursor=next_cursor)


@router.get(
    "/{game_id}",
    summary="Read a game",
    response_description="the game",
    responses=schemas.errors(*schemas.API, 404),
)
def read_game(
    game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller
) -> schemas.GameOut:
    """The game with its roster and its reminders' states."""
    row = scope.get_game(session, game_id=game_id, guild_scope=caller.guild_id)
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.patch(
    "/{game_id}",
    summary="Change a game",
    response_description="the game as changed",
    responses=schemas.errors(*schemas.API, *schemas.BODY, 404, 409),
)
def change_game(
    game_id: deps.GameIdPath,
    body: schemas.GamePatchBody,
    session: deps.DbSession,
    caller: deps.Caller,
    now: deps.Now,
) -> schemas.GameOut:
    """Change the fields given. A new time, duration or reminder list re-plans the schedule:
    reminders still ahead are pending again, even if sent for the old time. 409 if the game is
    finished or cancelled, or has started and would move."""
    row = games.change_game(
        session,
        game_id=game_id,
        guild_scope=caller.guild_id,
        now=now,
        **body.model_dump(exclude_unset=True),
    )
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.post(
    "/{game_id}/cancel",
    summary="Cancel a game",
    response_description="the cancelled game",
    responses=schemas.errors(*schemas.API, 404, 409),
)
def cancel_game(
    game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller, now: deps.Now
) -> schemas.GameOut:
    """CANCELLED; pending reminders and status changes are removed. 409 if already finished."""
    row = games.cancel_game(session, game_id=game_id, guild_scope=caller.guild_id, now=now)
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.delete(
    "/{game_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a game",
    response_description="deleted",
    responses=schemas.errors(*schemas.API, 404),
)
def delete_game(game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller) -> None:
    """Delete the game with its schedule and roster; the bot removes its announcement."""
    games.delete_game(session, game_id=game_id, guild_scope=caller.guild_id)


@router.get(
    "/{game_id}/schedule",
    summary="Read a game's schedule",
    response_description="its reminders and status changes",
    responses=schemas.errors(*schemas.API, 404),
)
def read_schedule(
    game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller
) -> schemas.ScheduleOut:
    """What will happen and what has: reminders and status changes with due time and state."""
    row = scope.get_game(session, game_id=game_id, guild_scope=caller.guild_id)
    return schemas.ScheduleOut.of(
        views.game_view(session, row=row), schedule.transition_states(session, game_id=row.game.id)
    )
