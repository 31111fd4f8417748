"""Joining and leaving as use cases, the way the API and a button click call them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from gamesched import errors
from gamesched.events import schemas
from gamesched.service import games, roster
from tests.service.conftest import NOW, Place, new_game, outbox, register


def _actions(session: Session, game_id: uuid.UUID) -> list[tuple[str, str]]:
    return sorted(
        (body["discord_user_id"], body["action"])
        for key, body in outbox(session, game_id)
        if key == schemas.ROSTER_CHANGED
    )


def test_seats_then_waitlist_and_a_leave_promotes_the_first_waiting(
    db_session: Session, place: Place
) -> None:
    game_id = new_game(db_session, place, max_players=1).game.id

    def join(user: str) -> tuple[str, int]:
        entry = roster.join(
            db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id=user
        )
        return entry.state, entry.position

    assert join("11") == ("confirmed", 1)
    assert join("12") == ("waitlisted", 2)
    assert join("13") == ("waitlisted", 3)
    with pytest.raises(errors.Conflict) as again:
        join("11")
    assert again.value.field == "discord_user_id"

    promoted = roster.leave(
        db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id="11"
    )
    assert [(e.discord_user_id, e.state, e.position) for e in promoted] == [("12", "confirmed", 1)]
    assert _actions(db_session, game_id) == [
        ("11", "joined"), ("11", "left"), ("12", "promoted"), ("12", "waitlisted"),
        ("13", "waitlisted"),
    ]  # fmt: skip
    with pytest.raises(errors.NotFound) as missing:
        roster.leave(db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id="11")
    assert missing.value.field == "discord_user_id"


def test_more_seats_promote_waiting_players(db_session: Session, place: Place) -> None:
    game_id = new_game(db_session, place, max_players=1).game.id
    for user in ("21", "22", "23"):
        roster.join(db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id=user)
    games.change_game(
        db_session, game_id=game_id, guild_scope=place.guild_id, now=NOW, max_players=2
    )
    assert ("22", "promoted") in _actions(db_session, game_id)
    assert ("23", "promoted") not in _actions(db_session, game_id)


def test_a_cancelled_game_cannot_be_joined_or_left(db_session: Session, place: Place) -> None:
    game_id = new_game(db_session, place).game.id
    roster.join(db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id="31")
    games.cancel_game(db_session, game_id=game_id, guild_scope=place.guild_id, now=NOW)
    with pytest.raises(errors.Conflict):
        roster.join(db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id="32")
    with pytest.raises(errors.Conflict):
        roster.leave(db_session, game_id=game_id, guild_scope=place.guild_id, discord_user_id="31")


def test_a_click_from_another_guild_changes_nothing(db_session: Session, place: Place) -> None:
    game_id = new_game(db_session, place).game.id
    stranger = register(db_session)
    with pytest.raises(errors.NotFound) as found:
        roster.join(
            db_session, game_id=game_id, guild_scope=stranger.guild_id, discord_user_id="41"
        )
    assert found.value.field == "game_id"
    assert _actions(db_session, game_id) == []
