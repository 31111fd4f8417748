"""Games: create, list, read, change, cancel, delete, and their schedule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from gamesched import rules
from gamesched.api import cursor as page_cursor
from gamesched.api import deps, schemas
from gamesched.db import schedule, views
from gamesched.service import games, scope

router = APIRouter(prefix="/api/v1/games", tags=["games"], responses=schemas.API_ERRORS)

StatusFilter = Annotated[rules.GameStatus | None, Query()]
TimeFilter = Annotated[schemas.Time | None, Query(description="RFC 3339 with an offset")]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_game(
    body: schemas.GameIn, session: deps.DbSession, caller: deps.Caller, now: deps.Now
) -> schemas.GameOut:
    """Create a game with its reminders and status changes; reminders already past are
    listed as skipped."""
    row = games.create_game(session, guild_scope=caller.guild_id, now=now, **body.model_dump())
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.get("")
def list_games(
    session: deps.DbSession,
    caller: deps.Caller,
    discord_guild_id: Annotated[
        str | None, Query(pattern=schemas.SNOWFLAKE_PATTERN, description="only this guild")
    ] = None,
    game_status: Annotated[StatusFilter, Query(alias="status")] = None,
    start: Annotated[TimeFilter, Query(alias="from", description="scheduled_at >= from")] = None,
    end: Annotated[TimeFilter, Query(alias="to", description="scheduled_at < to")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.GamePage:
    """Games in ``scheduled_at`` order, a page at a time."""
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


@router.get("/{game_id}")
def read_game(
    game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller
) -> schemas.GameOut:
    row = scope.get_game(session, game_id=game_id, guild_scope=caller.guild_id)
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.patch("/{game_id}")
def change_game(
    game_id: deps.GameIdPath,
    body: schemas.GamePatch,
    session: deps.DbSession,
    caller: deps.Caller,
    now: deps.Now,
) -> schemas.GameOut:
    """Change the fields given. A new time, duration or reminder list re-plans the schedule:
    reminders still ahead are pending again, even if sent for the old time."""
    row = games.change_game(
        session,
        game_id=game_id,
        guild_scope=caller.guild_id,
        now=now,
        **body.model_dump(exclude_unset=True),
    )
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.post("/{game_id}/cancel")
def cancel_game(
    game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller, now: deps.Now
) -> schemas.GameOut:
    """CANCELLED; pending reminders and status changes are removed. 409 if already finished."""
    row = games.cancel_game(session, game_id=game_id, guild_scope=caller.guild_id, now=now)
    return schemas.GameOut.of(views.game_view(session, row=row))


@router.delete("/{game_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_game(game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller) -> None:
    """Delete the game with its schedule and roster."""
    games.delete_game(session, game_id=game_id, guild_scope=caller.guild_id)


@router.get("/{game_id}/schedule")
def read_schedule(
    game_id: deps.GameIdPath, session: deps.DbSession, caller: deps.Caller
) -> schemas.ScheduleOut:
    """What will happen and what has: reminders and status changes with due time and state."""
    row = scope.get_game(session, game_id=game_id, guild_scope=caller.guild_id)
    return schemas.ScheduleOut.of(
        views.game_view(session, row=row), schedule.transition_states(session, game_id=row.game.id)
    )
