"""Games as use cases: each is one unit of work in the caller's session."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gamesched import errors, rules
from gamesched.db import models
from gamesched.events import schemas
from gamesched.service import games, scope
from tests.service.conftest import NOW, Place, new_game, outbox, register


def _schedule_rows(session: Session, game_id: uuid.UUID) -> tuple[int, int]:
    reminders = session.scalar(
        text("SELECT count(*) FROM notification_schedule WHERE game_id = :g"), {"g": game_id}
    )
    transitions = session.scalar(
        text("SELECT count(*) FROM game_status_schedule WHERE game_id = :g"), {"g": game_id}
    )
    return reminders or 0, transitions or 0


def test_create_writes_game_schedule_and_event_in_the_callers_transaction(
    db_session: Session, place: Place
) -> None:
    with db_session.begin_nested():
        row = new_game(db_session, place)
    game_id = row.game.id
    assert _schedule_rows(db_session, game_id) == (1, 2)  # the guild's 60-minute reminder
    assert outbox(db_session, game_id) == [(schemas.GAME_CREATED, {"game_id": str(game_id)})]

    # The caller owns the transaction: rolling it back takes everything with it.
    nested = db_session.begin_nested()
    other = new_game(db_session, place).game.id
    nested.rollback()
    assert (
        db_session.scalar(text("SELECT count(*) FROM game_sessions WHERE id = :g"), {"g": other})
        == 0
    )
    assert _schedule_rows(db_session, other) == (0, 0)
    assert outbox(db_session, other) == []


def test_a_game_of_another_guild_is_not_found(db_session: Session, place: Place) -> None:
    row = new_game(db_session, place)
    stranger = register(db_session)
    with pytest.raises(errors.NotFound) as found:
        scope.get_game(db_session, game_id=row.game.id, guild_scope=stranger.guild_id)
    assert found.value.field == "game_id"
    with pytest.raises(errors.NotFound):
        games.cancel_game(db_session, game_id=row.game.id, guild_scope=stranger.guild_id, now=NOW)
    assert scope.get_game(db_session, game_id=row.game.id, guild_scope=None).game.id == row.game.id


def test_a_game_in_another_guilds_channel_is_not_created(db_session: Session, place: Place) -> None:
    stranger = register(db_session)
    with pytest.raises(errors.NotFound) as found:
        new_game(
            db_session,
            Place(stranger.guild_id, stranger.discord_guild_id, place.discord_channel_id),
        )
    assert found.value.field == "discord_channel_id"


def test_change_refuses_nulls_unknown_fields_and_finished_games(
    db_session: Session, place: Place
) -> None:
    game_id = new_game(db_session, place).game.id

    def change(**changes: object) -> None:
        games.change_game(
            db_session, game_id=game_id, guild_scope=place.guild_id, now=NOW, **changes
        )

    for name in ("title", "scheduled_at", "host_discord_id"):
        with pytest.raises(errors.InvalidInput) as invalid:
            change(**{name: None})
        assert invalid.value.field == name
    with pytest.raises(errors.InvalidInput):
        change(status="COMPLETED")
    with pytest.raises(errors.InvalidInput):
        change(reminder_minutes=[rules.MAX_REMINDER_MINUTES + 1])
    with pytest.raises(errors.InvalidInput):
        change(scheduled_at=NOW - timedelta(minutes=1))

    change(description=None, title="renamed")
    games.cancel_game(db_session, game_id=game_id, guild_scope=place.guild_id, now=NOW)
    with pytest.raises(errors.Conflict):
        change(title="too late")
    with pytest.raises(errors.IllegalTransition):
        games.cancel_game(db_session, game_id=game_id, guild_scope=place.guild_id, now=NOW)
    keys = [key for key, _ in outbox(db_session, game_id)]
    assert sorted(keys) == [schemas.GAME_CANCELLED, schemas.GAME_CREATED, schemas.GAME_UPDATED]


def test_delete_event_names_the_announcement(db_session: Session, place: Place) -> None:
    game_id = new_game(db_session, place).game.id
    games.record_announcement(db_session, game_id=game_id, message_id="777")
    games.delete_game(db_session, game_id=game_id, guild_scope=place.guild_id)
    deleted = [body for key, body in outbox(db_session, game_id) if key == schemas.GAME_DELETED]
    assert deleted == [
        {
            "game_id": str(game_id),
            "discord_channel_id": place.discord_channel_id,
            "discord_message_id": "777",
        }
    ]
    with pytest.raises(errors.NotFound):
        scope.get_game(db_session, game_id=game_id, guild_scope=None)


def test_record_announcement_is_not_a_change_people_see(db_session: Session, place: Place) -> None:
    row = new_game(db_session, place)
    before = outbox(db_session, row.game.id)
    games.record_announcement(db_session, game_id=row.game.id, message_id="123")
    db_session.expire_all()
    game = scope.get_game(db_session, game_id=row.game.id, guild_scope=None).game
    assert game.discord_message_id == "123"
    assert game.updated_at == NOW
    assert outbox(db_session, row.game.id) == before
    games.record_announcement(db_session, game_id=row.game.id, message_id=None)
    db_session.expire_all()
    game = scope.get_game(db_session, game_id=row.game.id, guild_scope=None).game
    assert game.discord_message_id is None


def test_list_pages_by_key_within_the_callers_guild(db_session: Session, place: Place) -> None:
    ids = [
        new_game(db_session, place, scheduled_at=NOW + timedelta(hours=h)).game.id
        for h in (3, 1, 2)
    ]
    new_game(db_session, register(db_session))  # another guild's game is never listed

    def page(
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> tuple[list[models.GameSession], bool]:
        rows, more = games.list_games(
            db_session,
            guild_scope=place.guild_id,
            discord_guild_id=None,
            status=rules.GameStatus.SCHEDULED,
            start=None,
            end=None,
            after=after,
            limit=2,
        )
        return [r.game for r in rows], more

    first, more = page()
    assert [g.id for g in first] == [ids[1], ids[2]] and more
    last = first[-1]
    second, more = page((last.scheduled_at, last.id))
    assert [g.id for g in second] == [ids[0]] and not more
    with pytest.raises(errors.NotFound):
        games.list_games(
            db_session,
            guild_scope=place.guild_id,
            discord_guild_id=register(db_session).discord_guild_id,
            status=None,
            start=None,
            end=None,
            after=None,
            limit=2,
        )
