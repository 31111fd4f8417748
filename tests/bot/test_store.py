"""The bot's reads and records on the real database (rolled back after each test)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gamesched.bot import plan, store
from gamesched.rules import GameStatus


def seed(
    session: Session, *, duration: int | None = None, max_players: int | None = 2
) -> uuid.UUID:
    guild = session.execute(
        text(
            "INSERT INTO guilds (discord_guild_id, name, default_duration_minutes) "
            "VALUES ('10', 'g', 45) RETURNING id"
        )
    ).scalar_one()
    channel = session.execute(
        text(
            "INSERT INTO channels (guild_id, discord_channel_id, name) "
            "VALUES (:g, '20', 'c') RETURNING id"
        ),
        {"g": guild},
    ).scalar_one()
    game: uuid.UUID = session.execute(
        text(
            "INSERT INTO game_sessions (guild_id, channel_id, title, scheduled_at, "
            "host_discord_id, max_players, expected_duration_minutes) "
            "VALUES (:g, :c, 'Catan', now() + interval '1 day', '1', :m, :d) RETURNING id"
        ),
        {"g": guild, "c": channel, "m": max_players, "d": duration},
    ).scalar_one()
    for user in ("2", "3", "4"):
        session.execute(
            text(
                "INSERT INTO game_participants (game_id, discord_user_id, joined_at) "
                "VALUES (:g, :u, clock_timestamp())"
            ),
            {"g": game, "u": user},
        )
    return game


def test_load_game_reads_the_roster_in_join_order_and_inherits_the_duration(
    db_session: Session,
):
    game_id = seed(db_session)
    game = store.load_game(db_session, game_id=game_id, lock=True)
    assert game is not None
    assert (game.title, game.status, game.host_id) == ("Catan", GameStatus.SCHEDULED, "1")
    assert (game.guild_id, game.channel_id, game.message_id) == ("10", "20", None)
    assert game.confirmed == ("2", "3") and game.waitlist == ("4",)
    assert game.duration_minutes == 45  # the guild's default
    assert game.scheduled_at.tzinfo is not None


def test_load_game_own_duration_and_missing_game(db_session: Session):
    game_id = seed(db_session, duration=90, max_players=None)
    game = store.load_game(db_session, game_id=game_id)
    assert game is not None and game.duration_minutes == 90
    assert game.confirmed == ("2", "3", "4") and game.waitlist == ()
    assert store.load_game(db_session, game_id=uuid.uuid4()) is None


def test_set_message_id(db_session: Session):
    game_id = seed(db_session)
    store.set_message_id(db_session, game_id=game_id, message_id="555")
    game = store.load_game(db_session, game_id=game_id)
    assert game is not None and game.message_id == "555"
    assert game.link == "https://discord.com/channels/10/20/555"


def test_a_message_id_is_claimed_once(db_session: Session):
    assert store.claim_message(db_session, message_id="m1", routing_key="game.updated")
    assert not store.claim_message(db_session, message_id="m1", routing_key="game.updated")
    assert store.claim_message(db_session, message_id="m2", routing_key="game.updated")


def test_reminder_deliveries_are_recorded_once_per_user_and_time(db_session: Session):
    game_id = seed(db_session)
    when = datetime.now(UTC) + timedelta(hours=23)
    notification = db_session.execute(
        text(
            "INSERT INTO notification_schedule (game_id, reminder_minutes, notification_time) "
            "VALUES (:g, 60, :t) RETURNING id"
        ),
        {"g": game_id, "t": when},
    ).scalar_one()
    key = plan.ReminderKey(notification, when)
    assert store.delivered(db_session, key=key, users=["1", "2"]) == set()
    assert store.record_delivery(db_session, key=key, user_id="1", status="sent")
    assert not store.record_delivery(db_session, key=key, user_id="1", status="sent")
    assert store.record_delivery(
        db_session, key=key, user_id="2", status="undeliverable", error="50007"
    )
    assert store.delivered(db_session, key=key, users=["1", "2", "3"]) == {"1", "2"}
    # the same reminder re-armed for a new time is a new delivery
    later = plan.ReminderKey(notification, when + timedelta(minutes=30))
    assert store.delivered(db_session, key=later, users=["1"]) == set()
    assert store.record_delivery(db_session, key=later, user_id="1", status="sent")
