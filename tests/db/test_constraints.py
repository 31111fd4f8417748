from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import CheckConstraint, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from gamesched import rules
from gamesched.db import models as m


def make_game(session: Session, **overrides: object) -> m.GameSession:
    guild = m.Guild(discord_guild_id="100", name="g")
    session.add(guild)
    session.flush()
    channel = m.Channel(guild_id=guild.id, discord_channel_id="200", name="c")
    session.add(channel)
    session.flush()
    values: dict[str, object] = {
        "guild_id": guild.id,
        "channel_id": channel.id,
        "title": "Game",
        "scheduled_at": datetime.now(UTC) + timedelta(days=1),
        "host_discord_id": "300",
    }
    values.update(overrides)
    game = m.GameSession(**values)
    session.add(game)
    session.flush()
    return game


def test_column_defaults(db_session: Session):
    game = make_game(db_session)
    db_session.refresh(game)
    guild = db_session.get(m.Guild, game.guild_id)
    assert guild is not None
    assert guild.reminder_minutes == [60, 15]
    assert guild.default_duration_minutes == 120
    assert game.status == "SCHEDULED"
    assert game.scheduled_at.tzinfo is not None


def test_duplicate_reminder_minutes_rejected(db_session: Session):
    game = make_game(db_session)
    when = game.scheduled_at - timedelta(minutes=60)
    db_session.add(
        m.NotificationSchedule(game_id=game.id, reminder_minutes=60, notification_time=when)
    )
    db_session.flush()
    db_session.add(
        m.NotificationSchedule(game_id=game.id, reminder_minutes=60, notification_time=when)
    )
    with pytest.raises(IntegrityError, match="uq_notification_schedule_game_id_reminder_minutes"):
        db_session.flush()


def test_duplicate_status_target_rejected(db_session: Session):
    game = make_game(db_session)
    for _ in range(2):
        db_session.add(
            m.GameStatusSchedule(
                game_id=game.id, target_status="IN_PROGRESS", transition_time=game.scheduled_at
            )
        )
    with pytest.raises(IntegrityError, match="uq_game_status_schedule_game_id_target_status"):
        db_session.flush()


def test_deleting_a_game_removes_its_schedule_and_roster(db_session: Session):
    game = make_game(db_session)
    n = m.NotificationSchedule(
        game_id=game.id,
        reminder_minutes=15,
        notification_time=game.scheduled_at - timedelta(minutes=15),
    )
    db_session.add_all(
        [
            n,
            m.GameStatusSchedule(
                game_id=game.id, target_status="IN_PROGRESS", transition_time=game.scheduled_at
            ),
            m.GameParticipant(game_id=game.id, discord_user_id="42"),
        ]
    )
    db_session.flush()
    db_session.add(
        m.ReminderDelivery(
            notification_id=n.id, discord_user_id="42", notification_time=n.notification_time
        )
    )
    db_session.flush()
    db_session.delete(game)
    db_session.flush()
    db_session.expunge_all()
    for model in (
        m.NotificationSchedule,
        m.GameStatusSchedule,
        m.GameParticipant,
        m.ReminderDelivery,
    ):
        count = db_session.scalar(select(func.count()).select_from(model))
        assert count == 0, model.__tablename__


def test_naive_datetime_rejected_before_the_database(db_session: Session):
    game = make_game(db_session)
    db_session.add(
        m.NotificationSchedule(
            game_id=game.id, reminder_minutes=5, notification_time=datetime(2030, 1, 1, 12, 0)
        )
    )
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()


def test_snowflakes_must_be_digits(db_session: Session):
    db_session.add(m.Guild(discord_guild_id="not-a-number"))
    with pytest.raises(IntegrityError, match="snowflake"):
        db_session.flush()


def test_participant_unique_per_game(db_session: Session):
    game = make_game(db_session)
    db_session.add(m.GameParticipant(game_id=game.id, discord_user_id="7"))
    db_session.flush()
    db_session.add(m.GameParticipant(game_id=game.id, discord_user_id="7"))
    with pytest.raises(IntegrityError):
        db_session.flush()


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("game_sessions", "scheduled_at"),
        ("notification_schedule", "notification_time"),
        ("game_status_schedule", "transition_time"),
        ("event_outbox", "available_at"),
    ],
)
@pytest.mark.parametrize("value", ["infinity", "-infinity"])
def test_infinite_times_rejected(db_session: Session, table: str, column: str, value: str):
    """The scheduler computes with these times (lateness, expiry): an infinite one made a row
    fail after it was published, and it was published again and again (issue 7, finding 2)."""
    game = make_game(db_session)
    inserts = {
        "game_sessions": "UPDATE game_sessions SET scheduled_at = :v WHERE id = :g",
        "notification_schedule": "INSERT INTO notification_schedule "
        "(game_id, reminder_minutes, notification_time) VALUES (:g, 8888, :v)",
        "game_status_schedule": "INSERT INTO game_status_schedule "
        "(game_id, target_status, transition_time) VALUES (:g, 'IN_PROGRESS', :v)",
        "event_outbox": "INSERT INTO event_outbox (routing_key, game_id, payload, available_at) "
        "VALUES ('game.created', :g, '{}', :v)",
    }
    with pytest.raises(IntegrityError, match=f"ck_{table}_{column}_finite"):
        db_session.execute(text(inserts[table]), {"g": game.id, "v": value})


@pytest.mark.parametrize(
    ("table", "constraint"),
    [
        (m.GameSession, "ck_game_sessions_status"),
        (m.GameStatusSchedule, "ck_game_status_schedule_target_status"),
    ],
)
def test_status_checks_admit_exactly_the_game_statuses(
    db_session: Session, table: type[m.Base], constraint: str
):
    """rules.GameStatus is the one definition: the model's CHECK and the migrated database's
    both list exactly its values (a new status without a migration fails here)."""
    statuses = {s.value for s in rules.GameStatus}
    model_check = next(c for c in table.__table__.constraints if c.name == constraint)
    assert isinstance(model_check, CheckConstraint)
    assert set(re.findall(r"'([A-Z_]+)'", str(model_check.sqltext))) == statuses
    in_database = db_session.scalar(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
        {"n": constraint},
    )
    assert set(re.findall(r"'([A-Z_]+)'", in_database)) == statuses
