"""A game, its schedule rows and its outbox event are one transaction: a failure anywhere after
the game row is written, up to and including the commit, leaves none of them.

Faults are test-only triggers on the test's own database (real PostgreSQL, real commits). The
deferred one fires at COMMIT, after every row is written, so it also catches an outbox row (or a
game row) committed on its own, in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.api.conftest import Api, game_body

TABLES = ("game_sessions", "notification_schedule", "game_status_schedule", "event_outbox")

FAIL_FUNCTION = """
CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'test fault on % of %', TG_OP, TG_TABLE_NAME; END $$
"""

FAULTS = {
    "the outbox insert fails": (
        "CREATE TRIGGER test_fault BEFORE INSERT ON event_outbox "
        "FOR EACH ROW EXECUTE FUNCTION test_fail()"
    ),
    "a schedule insert fails": (
        "CREATE TRIGGER test_fault BEFORE INSERT ON game_status_schedule "
        "FOR EACH ROW EXECUTE FUNCTION test_fail()"
    ),
    "the commit fails after every row is written": (
        "CREATE CONSTRAINT TRIGGER test_fault AFTER INSERT ON game_sessions "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail()"
    ),
}
DROP = {
    "the outbox insert fails": "DROP TRIGGER test_fault ON event_outbox",
    "a schedule insert fails": "DROP TRIGGER test_fault ON game_status_schedule",
    "the commit fails after every row is written": "DROP TRIGGER test_fault ON game_sessions",
}


@pytest.fixture
def engine(fresh_settings: Settings) -> Iterator[Engine]:
    engine = db_engine.make_engine(fresh_settings)
    yield engine
    engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0 for t in TABLES}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_create_failing_after_the_game_row_leaves_neither_game_nor_event(
    live: Api, engine: Engine, fault: str
) -> None:
    live.setup_guild()
    with engine.begin() as conn:
        conn.execute(text(FAIL_FUNCTION))
        conn.execute(text(FAULTS[fault]))

    resp = live.http.post("/api/v1/games", json=game_body())
    assert resp.status_code == 503, resp.text
    assert counts(engine) == dict.fromkeys(TABLES, 0)

    # The fault gone, the same request goes through whole: the failure left nothing behind.
    with engine.begin() as conn:
        conn.execute(text(DROP[fault]))
    created = live.http.post("/api/v1/games", json=game_body())
    assert created.status_code == 201, created.text
    after = counts(engine)
    assert after["game_sessions"] == 1 and after["event_outbox"] == 1
    assert after["game_status_schedule"] == 2
