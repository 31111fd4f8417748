"""Every event the API writes to the outbox parses as its routing key's model."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from gamesched.events import schemas
from tests.api.conftest import Api


def test_outbox_bodies_written_by_the_api_parse_as_their_models(client: Api, db_session: Session):
    client.setup_guild()
    game = client.create_game(max_players=1)
    for user in ("400000000000000001", "400000000000000002"):
        resp = client.http.post(
            f"/api/v1/games/{game['id']}/participants", json={"discord_user_id": user}
        )
        assert resp.status_code == 201, resp.text
    # the first leaves: ``left`` for them, ``promoted`` for the waiting one
    resp = client.http.delete(f"/api/v1/games/{game['id']}/participants/400000000000000001")
    assert resp.status_code in (200, 204), resp.text
    assert client.http.patch(f"/api/v1/games/{game['id']}", json={"title": "x"}).is_success
    other = client.create_game()
    assert client.http.post(f"/api/v1/games/{other['id']}/cancel").is_success
    assert client.http.delete(f"/api/v1/games/{other['id']}").status_code == 204

    rows = db_session.execute(
        text("SELECT routing_key, payload::text FROM event_outbox ORDER BY created_at, id")
    ).all()
    seen: set[str] = set()
    actions: list[str] = []
    for routing_key, payload in rows:
        event = schemas.parse(routing_key, payload)
        seen.add(routing_key)
        assert set(json.loads(payload)) <= set(type(event).model_fields)
        if isinstance(event, schemas.RosterChanged):
            actions.append(event.action)
    assert seen == set(schemas.ROUTING_KEYS) - {
        schemas.REMINDER_DUE,
        schemas.STATUS_TRANSITION_DUE,
    }
    assert sorted(actions) == ["joined", "left", "promoted", "waitlisted"]
