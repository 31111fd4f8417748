"""The database helpers the product (migrate), the tests and the benchmarks share."""

from __future__ import annotations

import uuid

import pytest

from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.conftest import RUN_ID, SERVER_URL, database_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/gamesched", "postgresql://u:p@db:5432/other"),
        ("postgresql+psycopg://u@db/gamesched", "postgresql+psycopg://u@db/other"),
        (
            "postgresql://u@db/gamesched?sslmode=require&application_name=x",
            "postgresql://u@db/other?sslmode=require&application_name=x",
        ),
    ],
)
def test_database_url_for_keeps_server_user_and_options(url: str, expected: str) -> None:
    assert db_engine.database_url_for(url, "other") == expected
    assert db_engine.maintenance_url(url) == expected.replace("/other", "/postgres")


def test_create_from_a_template_exists_then_drop(template_db: str) -> None:
    settings = Settings(database_url=database_url(f"gst_{RUN_ID}_{uuid.uuid4().hex[:8]}"))
    try:
        assert not db_engine.database_exists(settings)
        assert db_engine.create_database(settings, template=template_db) is True
        assert db_engine.database_exists(settings)
        assert db_engine.create_database(settings, template=template_db) is False  # already there
        with db_engine.connect(settings.libpq_url) as conn:  # the template's tables came along
            assert conn.execute("SELECT to_regclass('game_sessions')").fetchone() == (
                "game_sessions",
            )
    finally:
        db_engine.drop_database(SERVER_URL, settings.database_name)
    assert not db_engine.database_exists(settings)
    db_engine.drop_database(SERVER_URL, settings.database_name)  # dropping twice is fine
