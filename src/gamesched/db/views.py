"""A game as callers see it: the row plus its roster and its reminders with their states.

Loaded in batches (one query per table for a whole page), never one query per game.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gamesched.db import games, roster, schedule


@dataclass(frozen=True, slots=True)
class GameView:
    row: games.GameRow
    participants: list[roster.RosterEntry]
    reminders: list[schedule.ReminderEntry]


def game_views(session: Session, *, rows: Sequence[games.GameRow]) -> list[GameView]:
    ids = [r.game.id for r in rows]
    players = roster.participants(session, game_ids=ids)
    reminder_rows = schedule.reminder_rows(session, game_ids=ids)
    return [
        GameView(
            row=r,
            participants=roster.roster_entries(players[r.game.id], r.game.max_players),
            reminders=schedule.reminder_states(
                scheduled_at=r.game.scheduled_at,
                minutes=schedule.effective_minutes(r.game, r.channel, r.guild),
                rows=reminder_rows.get(r.game.id, []),
                status=r.game.status,
            ),
        )
        for r in rows
    ]


def game_view(session: Session, *, row: games.GameRow) -> GameView:
    return game_views(session, rows=[row])[0]
