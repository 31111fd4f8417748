"""The bot's pure decisions, on plain values: what Discord should show or receive."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gamesched.bot import plan
from gamesched.events import schemas
from gamesched.rules import GameStatus

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
START = NOW + timedelta(hours=2)
GAME_ID = uuid.UUID("7c0a3f3e-1f7b-4e43-9a57-0d6f5bb1c3a1")
NOTIFICATION = uuid.UUID("2b8f9d4a-5e3c-4a61-8f0e-9c7d6b5a4e3f")


def game(**changes: object) -> plan.Game:
    base = plan.Game(
        id=GAME_ID,
        title="Catan",
        description="Bring snacks",
        scheduled_at=START,
        duration_minutes=90,
        max_players=2,
        status=GameStatus.SCHEDULED,
        host_id="1",
        guild_id="10",
        channel_id="20",
        message_id="30",
        confirmed=("2", "3"),
        waitlist=("4", "5"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def reminder(**changes: object) -> schemas.ReminderDue:
    fields: dict[str, object] = {
        "game_id": GAME_ID,
        "notification_id": NOTIFICATION,
        "reminder_minutes": 60,
        "scheduled_at": START,
        "notification_time": START - timedelta(hours=1),
    }
    fields.update(changes)
    return schemas.ReminderDue.model_validate(fields)


def decide(event: schemas.Event, state: plan.Game | None, now: datetime = NOW) -> plan.Plan:
    return plan.decide(event, state, now=now, message_id="msg-1")


# -- the announcement ----------------------------------------------------------------------------


def test_announcement_shows_time_for_every_reader_seats_roster_and_buttons():
    a = plan.announcement(game())
    fields = {f.name: f.value for f in a.fields}
    unix = int(START.timestamp())
    assert fields["When"] == f"<t:{unix}:F> (<t:{unix}:R>)"
    assert fields["Duration"] == "1 h 30 min"
    assert fields["Host"] == "<@1>"
    assert fields["Status"] == "Scheduled"
    assert fields["Players (2/2)"] == "<@2>, <@3>"
    assert fields["Waitlist (2)"] == "1. <@4>\n2. <@5>"
    assert [schemas.parse_button_id(b.custom_id) for b in a.buttons] == [
        ("join", GAME_ID),
        ("leave", GAME_ID),
    ]
    assert not any(b.disabled for b in a.buttons)
    assert a.title == "Catan"


def test_an_ended_game_shows_it_and_disables_the_buttons():
    for status in (GameStatus.CANCELLED, GameStatus.COMPLETED):
        a = plan.announcement(game(status=status))
        assert all(b.disabled for b in a.buttons)
        assert a.title.endswith(f"({plan.STATUS_TEXT[status].lower()})")
        assert a.colour == plan.COLOURS[status]


def test_no_limit_and_no_players():
    fields = {
        f.name: f.value
        for f in plan.announcement(game(max_players=None, confirmed=(), waitlist=())).fields
    }
    assert fields["Players (open)"] == "nobody yet"
    assert not any(name.startswith("Waitlist") for name in fields)


def test_everything_stays_within_discords_limits():
    crowd = tuple(str(10**17 + i) for i in range(500))
    a = plan.announcement(
        game(title="T" * 1000, description="D" * 10_000, confirmed=crowd, waitlist=crowd)
    )
    assert len(a.title) <= plan.MAX_TITLE
    assert len(a.description) <= plan.MAX_DESCRIPTION
    for f in a.fields:
        assert len(f.value) <= plan.MAX_FIELD_VALUE
    players = next(f for f in a.fields if f.name.startswith("Players"))
    assert players.value.endswith("more")


@pytest.mark.parametrize(
    ("minutes", "text"), [(30, "30 min"), (60, "1 h"), (61, "1 h 1 min"), (600, "10 h")]
)
def test_duration_text(minutes: int, text: str):
    assert plan.duration_text(minutes) == text


# -- deciding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        schemas.GameCreated(game_id=GAME_ID),
        schemas.GameUpdated(game_id=GAME_ID),
        schemas.RosterChanged(game_id=GAME_ID, discord_user_id="2", action="joined"),
        schemas.StatusTransitionDue(
            game_id=GAME_ID,
            schedule_id=NOTIFICATION,
            target_status=GameStatus.IN_PROGRESS,
            transition_time=START,
        ),
    ],
    ids=lambda e: e.routing_key,
)
def test_changes_show_the_current_state_whatever_the_event_says(event: schemas.Event):
    # a StatusTransitionDue to IN_PROGRESS arriving after the game was cancelled shows cancelled
    state = game(status=GameStatus.CANCELLED)
    (action,) = decide(event, state).actions
    assert action == plan.ShowAnnouncement(GAME_ID, "20", "30", plan.announcement(state))


def test_first_announcement_has_no_message_id_yet():
    (action,) = decide(schemas.GameCreated(game_id=GAME_ID), game(message_id=None)).actions
    assert isinstance(action, plan.ShowAnnouncement) and action.message_id is None


def test_events_of_a_game_that_is_gone_do_nothing():
    p = decide(schemas.GameUpdated(game_id=GAME_ID), None)
    assert (p.actions, p.skipped) == ((), "game_missing")


def test_deleted_game_removes_its_announcement_if_it_had_one():
    event = schemas.GameDeleted(game_id=GAME_ID, discord_channel_id="20", discord_message_id="30")
    assert decide(event, None).actions == (plan.DeleteAnnouncement("20", "30"),)
    never = schemas.GameDeleted(game_id=GAME_ID, discord_channel_id="20")
    assert decide(never, None).skipped == "never_announced"


def test_promotion_dms_the_promoted_player_if_still_in():
    event = schemas.RosterChanged(game_id=GAME_ID, discord_user_id="3", action="promoted")
    dms = decide(event, game()).dms
    assert [d.user_id for d in dms] == ["3"]
    assert "you're in" in dms[0].content and game().link in dms[0].content
    # left again before we got to it: no DM
    assert decide(event, game(confirmed=("2",))).dms == []


def test_cancellation_dms_host_and_every_player_once():
    dms = decide(schemas.GameCancelled(game_id=GAME_ID), game(confirmed=("1", "2"))).dms
    assert [d.user_id for d in dms] == ["1", "2", "4", "5"]
    assert all("cancelled" in d.content for d in dms)
    assert len({d.nonce for d in dms}) == 4


def test_reminder_dms_host_players_and_the_waitlist_with_their_place():
    dms = decide(reminder(), game()).dms
    assert [d.user_id for d in dms] == ["1", "2", "3", "4", "5"]
    by_user = {d.user_id: d.content for d in dms}
    assert "waitlist" not in by_user["2"]
    assert "#1 on the waitlist" in by_user["4"] and "#2 on the waitlist" in by_user["5"]
    assert f"<t:{int(START.timestamp())}:R>" in by_user["2"]
    assert game().link in by_user["2"]
    key = plan.ReminderKey(NOTIFICATION, START - timedelta(hours=1))
    assert all(d.reminder == key for d in dms)


@pytest.mark.parametrize(
    ("state", "now", "reason"),
    [
        (game(status=GameStatus.CANCELLED), NOW, "game_cancelled"),
        (game(status=GameStatus.IN_PROGRESS), NOW, "game_in_progress"),
        (game(), START, "game_started"),
        (game(scheduled_at=START + timedelta(days=1)), NOW, "game_moved"),
        (None, NOW, "game_missing"),
    ],
)
def test_reminders_that_must_not_go_out(state: plan.Game | None, now: datetime, reason: str):
    p = decide(reminder(), state, now)
    assert (p.actions, p.skipped) == ((), reason)


def test_reminder_nonces_are_stable_short_and_distinct():
    first = decide(reminder(), game()).dms
    again = decide(reminder(), game()).dms
    assert [d.nonce for d in first] == [d.nonce for d in again]  # a redelivery: same nonces
    assert all(len(d.nonce) <= 25 for d in first)
    assert len({d.nonce for d in first}) == len(first)
    rearmed = decide(reminder(notification_time=START - timedelta(minutes=30)), game()).dms
    assert not {d.nonce for d in rearmed} & {d.nonce for d in first}


def test_message_content_stays_within_discords_limit():
    (dm, *_) = decide(reminder(), game(title="x" * 5000)).dms
    assert len(dm.content) <= plan.MAX_CONTENT
