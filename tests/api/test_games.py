"""Games and their schedules: every change writes game, schedule rows and event together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.conftest import CHANNEL, GUILD, Api, in_future


def reminder_rows(db: Session, game_id: str) -> dict[int, dict[str, Any]]:
    rows = db.execute(
        text(
            "SELECT reminder_minutes, notification_time, sent, sent_at, skip_reason "
            "FROM notification_schedule WHERE game_id = :g"
        ),
        {"g": game_id},
    ).mappings()
    return {r["reminder_minutes"]: dict(r) for r in rows}


def transition_rows(db: Session, game_id: str) -> dict[str, dict[str, Any]]:
    rows = db.execute(
        text(
            "SELECT target_status, transition_time, executed FROM game_status_schedule "
            "WHERE game_id = :g"
        ),
        {"g": game_id},
    ).mappings()
    return {r["target_status"]: dict(r) for r in rows}


def events(db: Session, game_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = db.execute(
        text("SELECT routing_key, payload FROM event_outbox WHERE game_id = :g"),
        {"g": game_id},
    )
    return [(r[0], r[1]) for r in rows]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_create_writes_reminders_transitions_and_event(client: Api, db_session: Session) -> None:
    client.setup_guild()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    game = client.create_game(scheduled_at=start.isoformat(), expected_duration_minutes=90)

    assert game["status"] == "SCHEDULED"
    assert game["discord_guild_id"] == GUILD and game["discord_channel_id"] == CHANNEL
    assert game["participants"] == []
    assert [(r["reminder_minutes"], r["state"]) for r in game["reminders"]] == [
        (60, "skipped"),
        (15, "pending"),
    ]
    rows = reminder_rows(db_session, game["id"])
    assert list(rows) == [15]
    assert rows[15]["notification_time"] == start - timedelta(minutes=15)
    assert rows[15]["sent"] is False
    transitions = transition_rows(db_session, game["id"])
    assert transitions["IN_PROGRESS"]["transition_time"] == start
    assert transitions["COMPLETED"]["transition_time"] == start + timedelta(minutes=90)
    assert events(db_session, game["id"]) == [("game.created", {"game_id": game["id"]})]


def test_completion_uses_the_guild_default_duration(client: Api, db_session: Session) -> None:
    client.setup_guild(default_duration_minutes=45)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    game = client.create_game(scheduled_at=start.isoformat(), expected_duration_minutes=None)
    completed = transition_rows(db_session, game["id"])["COMPLETED"]
    assert completed["transition_time"] == start + timedelta(minutes=45)


def test_guild_duration_change_replans_completion_of_inheriting_games(
    client: Api, db_session: Session
) -> None:
    client.setup_guild(default_duration_minutes=120)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    inherits = client.create_game(scheduled_at=start.isoformat(), expected_duration_minutes=None)
    own = client.create_game(scheduled_at=start.isoformat(), expected_duration_minutes=90)
    started = client.create_game(scheduled_at=start.isoformat(), expected_duration_minutes=None)
    # As the scheduler leaves a game that has started: IN_PROGRESS, its start executed.
    db_session.execute(
        text("UPDATE game_sessions SET status = 'IN_PROGRESS' WHERE id = :g"), {"g": started["id"]}
    )
    db_session.execute(
        text(
            "UPDATE game_status_schedule SET executed = true, executed_at = now() "
            "WHERE game_id = :g AND target_status = 'IN_PROGRESS'"
        ),
        {"g": started["id"]},
    )

    resp = client.http.patch(f"/api/v1/guilds/{GUILD}", json={"default_duration_minutes": 45})
    assert resp.status_code == 200, resp.text

    for game in (inherits, started):
        rows = transition_rows(db_session, game["id"])
        assert rows["COMPLETED"]["transition_time"] == start + timedelta(minutes=45)
        assert rows["COMPLETED"]["executed"] is False
        assert rows["IN_PROGRESS"]["transition_time"] == start
    assert transition_rows(db_session, started["id"])["IN_PROGRESS"]["executed"] is True
    assert transition_rows(db_session, own["id"])["COMPLETED"]["transition_time"] == start + (
        timedelta(minutes=90)
    )
    # Changing something else does not touch the schedule.
    client.http.patch(f"/api/v1/guilds/{GUILD}", json={"name": "renamed"})
    rows = transition_rows(db_session, inherits["id"])
    assert rows["COMPLETED"]["transition_time"] == start + timedelta(minutes=45)


def test_reminder_inheritance_game_then_channel_then_guild(
    client: Api, db_session: Session
) -> None:
    client.setup_guild(reminder_minutes=[120, 30])
    inherits = client.create_game()
    assert set(reminder_rows(db_session, inherits["id"])) == {120, 30}

    own = client.create_game(reminder_minutes=[10])
    assert set(reminder_rows(db_session, own["id"])) == {10}
    none = client.create_game(reminder_minutes=[])
    assert reminder_rows(db_session, none["id"]) == {}

    client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"reminder_minutes": [45]})
    assert set(reminder_rows(db_session, inherits["id"])) == {45}
    assert set(reminder_rows(db_session, own["id"])) == {10}
    assert reminder_rows(db_session, none["id"]) == {}

    # The guild's setting no longer reaches games whose channel overrides it ...
    client.http.patch(f"/api/v1/guilds/{GUILD}", json={"reminder_minutes": [5]})
    assert set(reminder_rows(db_session, inherits["id"])) == {45}
    # ... until the channel inherits again.
    client.http.patch(f"/api/v1/channels/{CHANNEL}", json={"reminder_minutes": None})
    assert set(reminder_rows(db_session, inherits["id"])) == {5}
    body = client.http.get(f"/api/v1/games/{inherits['id']}").json()
    assert [r["reminder_minutes"] for r in body["reminders"]] == [5]


def test_inherited_change_keeps_sent_reminders(client: Api, db_session: Session) -> None:
    client.setup_guild(reminder_minutes=[60, 15])
    game = client.create_game()
    db_session.execute(
        text(
            "UPDATE notification_schedule SET sent = true, sent_at = now() WHERE game_id = :g "
            "AND reminder_minutes = 60"
        ),
        {"g": game["id"]},
    )
    client.http.patch(f"/api/v1/guilds/{GUILD}", json={"reminder_minutes": [30]})
    rows = reminder_rows(db_session, game["id"])
    assert set(rows) == {60, 30}
    assert rows[60]["sent"] is True and rows[30]["sent"] is False


def test_moving_later_makes_a_sent_reminder_pending_again(client: Api, db_session: Session) -> None:
    client.setup_guild()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    game = client.create_game(scheduled_at=start.isoformat(), reminder_minutes=[60, 15])
    db_session.execute(
        text("UPDATE notification_schedule SET sent = true, sent_at = now() WHERE game_id = :g"),
        {"g": game["id"]},
    )
    later = start + timedelta(days=1)
    resp = client.http.patch(
        f"/api/v1/games/{game['id']}", json={"scheduled_at": later.isoformat()}
    )
    assert resp.status_code == 200, resp.text
    rows = reminder_rows(db_session, game["id"])
    assert {m: (r["sent"], r["sent_at"], r["notification_time"]) for m, r in rows.items()} == {
        60: (False, None, later - timedelta(minutes=60)),
        15: (False, None, later - timedelta(minutes=15)),
    }
    assert transition_rows(db_session, game["id"])["IN_PROGRESS"]["transition_time"] == later
    assert [s["state"] for s in resp.json()["reminders"]] == ["pending", "pending"]
    assert ("game.updated", {"game_id": game["id"]}) in events(db_session, game["id"])


def test_reschedule_drops_unsent_unconfigured_and_keeps_sent_past(
    client: Api, db_session: Session
) -> None:
    client.setup_guild()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=70)
    game = client.create_game(scheduled_at=start.isoformat(), reminder_minutes=[60, 30, 15])
    db_session.execute(
        text(
            "UPDATE notification_schedule SET sent = true, sent_at = now() WHERE game_id = :g "
            "AND reminder_minutes = 60"
        ),
        {"g": game["id"]},
    )
    # Earlier by 20 minutes: 60 is sent and now past (kept as is), 30 is dropped from the list,
    # 15 moves, 75 is new but already past (skipped, no row).
    earlier = start - timedelta(minutes=20)
    resp = client.http.patch(
        f"/api/v1/games/{game['id']}",
        json={"scheduled_at": earlier.isoformat(), "reminder_minutes": [60, 15, 75]},
    )
    assert resp.status_code == 200, resp.text
    rows = reminder_rows(db_session, game["id"])
    assert set(rows) == {60, 15}
    assert rows[60]["sent"] is True and rows[60]["notification_time"] == start - timedelta(hours=1)
    assert rows[15]["notification_time"] == earlier - timedelta(minutes=15)
    states = {r["reminder_minutes"]: r["state"] for r in resp.json()["reminders"]}
    assert states == {75: "skipped", 60: "sent", 15: "pending"}


def test_duration_change_moves_completion_only(client: Api, db_session: Session) -> None:
    client.setup_guild()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    game = client.create_game(scheduled_at=start.isoformat(), expected_duration_minutes=60)
    client.http.patch(f"/api/v1/games/{game['id']}", json={"expected_duration_minutes": 180})
    transitions = transition_rows(db_session, game["id"])
    assert transitions["COMPLETED"]["transition_time"] == start + timedelta(minutes=180)
    assert transitions["IN_PROGRESS"]["transition_time"] == start


def test_other_fields_just_update(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game()
    before = reminder_rows(db_session, game["id"])
    resp = client.http.patch(
        f"/api/v1/games/{game['id']}", json={"title": "New", "description": None}
    )
    assert resp.status_code == 200
    assert resp.json()["title"] == "New" and resp.json()["description"] is None
    assert reminder_rows(db_session, game["id"]) == before


def test_cancel_removes_pending_and_twice_is_409(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game()
    resp = client.http.post(f"/api/v1/games/{game['id']}/cancel")
    assert resp.status_code == 200
    assert resp.json()["status"] == "CANCELLED"
    assert reminder_rows(db_session, game["id"]) == {}
    assert transition_rows(db_session, game["id"]) == {}
    schedule = client.http.get(f"/api/v1/games/{game['id']}/schedule").json()
    assert {r["skip_reason"] for r in schedule["reminders"]} == {"game_cancelled"}
    assert ("game.cancelled", {"game_id": game["id"]}) in events(db_session, game["id"])
    again = client.http.post(f"/api/v1/games/{game['id']}/cancel")
    assert again.status_code == 409
    assert client.http.patch(f"/api/v1/games/{game['id']}", json={"title": "x"}).status_code == 409


def test_cancelling_a_completed_game_is_409(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game()
    db_session.execute(
        text("UPDATE game_sessions SET status = 'COMPLETED' WHERE id = :g"), {"g": game["id"]}
    )
    assert client.http.post(f"/api/v1/games/{game['id']}/cancel").status_code == 409


def test_delete_cascades_and_event_names_the_announcement(client: Api, db_session: Session) -> None:
    client.setup_guild()
    game = client.create_game()
    client.http.post(f"/api/v1/games/{game['id']}/participants", json={"discord_user_id": "7"})
    db_session.execute(
        text("UPDATE game_sessions SET discord_message_id = '555' WHERE id = :g"), {"g": game["id"]}
    )
    assert client.http.delete(f"/api/v1/games/{game['id']}").status_code == 204
    assert client.http.get(f"/api/v1/games/{game['id']}").status_code == 404
    for table in ("notification_schedule", "game_status_schedule", "game_participants"):
        count = db_session.scalar(
            text(f"SELECT count(*) FROM {table} WHERE game_id = :g"), {"g": game["id"]}
        )
        assert count == 0, table
    deleted = {"game_id": game["id"], "discord_channel_id": CHANNEL, "discord_message_id": "555"}
    assert ("game.deleted", deleted) in events(db_session, game["id"])


def test_schedule_shows_reminders_and_transitions(client: Api) -> None:
    client.setup_guild()
    game = client.create_game(scheduled_at=in_future(minutes=30), reminder_minutes=[60, 15])
    body = client.http.get(f"/api/v1/games/{game['id']}/schedule").json()
    assert [(r["reminder_minutes"], r["state"]) for r in body["reminders"]] == [
        (60, "skipped"),
        (15, "pending"),
    ]
    assert body["reminders"][0]["id"] is None
    assert [(t["target_status"], t["state"]) for t in body["transitions"]] == [
        ("IN_PROGRESS", "pending"),
        ("COMPLETED", "pending"),
    ]


def test_bad_game_input_names_the_field(client: Api) -> None:
    client.setup_guild()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"scheduled_at": "2031-01-01T20:00:00"}, "scheduled_at"),
        ({"scheduled_at": 1900000000}, "scheduled_at"),
        ({"scheduled_at": past}, "scheduled_at"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 4001}, "description"),
        ({"max_players": 0}, "max_players"),
        ({"max_players": 1001}, "max_players"),
        ({"reminder_minutes": [5, 5]}, "reminder_minutes"),
        ({"expected_duration_minutes": 0}, "expected_duration_minutes"),
        ({"host_discord_id": "me"}, "host_discord_id"),
    ]
    for override, field in cases:
        resp = client.http.post("/api/v1/games", json=_body(override))
        assert resp.status_code == 422, (override, resp.text)
        assert resp.json()["detail"][0]["field"] == field, (override, resp.text)
        assert resp.json()["detail"][0]["message"]


def _body(override: dict[str, Any]) -> dict[str, Any]:
    from tests.api.conftest import game_body

    return game_body(**override)


def test_unknown_channel_is_404(client: Api) -> None:
    client.setup_guild()
    resp = client.http.post("/api/v1/games", json=_body({"discord_channel_id": "42"}))
    assert resp.status_code == 404
    assert resp.json()["detail"][0]["field"] == "discord_channel_id"


def test_bad_ids_in_paths_never_reach_the_database(client: Api) -> None:
    assert client.http.get("/api/v1/games/not-a-uuid").status_code == 422
    assert client.http.get(f"/api/v1/games/{'0' * 8}-0000-0000-0000-{'0' * 12}").status_code == 404


def test_list_filters_and_paginates_in_time_order(client: Api) -> None:
    client.setup_guild()
    client.setup_guild(guild="101", channel="201")
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    ids = [
        client.create_game(scheduled_at=(base + timedelta(hours=h)).isoformat())["id"]
        for h in (3, 1, 2, 0, 4)
    ]
    client.create_game(discord_channel_id="201", scheduled_at=base.isoformat())
    client.http.post(f"/api/v1/games/{ids[4]}/cancel")
    expected = [ids[3], ids[1], ids[2], ids[0], ids[4]]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"discord_guild_id": GUILD, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.http.get("/api/v1/games", params=params).json()
        seen += [g["id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    cancelled = client.http.get("/api/v1/games", params={"status": "CANCELLED"}).json()
    assert [g["id"] for g in cancelled["items"]] == [ids[4]]
    window = client.http.get(
        "/api/v1/games",
        params={
            "discord_guild_id": GUILD,
            "from": (base + timedelta(hours=1)).isoformat(),
            "to": (base + timedelta(hours=3)).isoformat(),
        },
    ).json()
    assert [g["id"] for g in window["items"]] == [ids[1], ids[2]]
    assert client.http.get("/api/v1/games", params={"cursor": "garbage"}).status_code == 422
    # the filter accepts exactly rules.GameStatus's values
    assert client.http.get("/api/v1/games", params={"status": "scheduled"}).status_code == 422
    assert client.http.get("/api/v1/games", params={"status": "DONE"}).status_code == 422
    assert client.http.get("/api/v1/games", params={"from": "2030-01-01"}).status_code == 422
