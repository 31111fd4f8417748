"""Test harness: real PostgreSQL and RabbitMQ, isolated per run.

Two isolation tiers:
* ``db_session``: a SQLAlchemy session inside an outer transaction on the run's shared database,
  rolled back at teardown; for repository and API tests.
* ``fresh_settings``: a database of its own, cloned with ``CREATE DATABASE ... TEMPLATE`` from the
  run's template (migrated once); for NOTIFY, scheduler and concurrency tests, which need commits
  and several connections.

Every run has its own databases (``gst_<run id>_*``) and its own exchange name, so runs on one
machine cannot collide; all of them are dropped at the end of the run. Databases are named,
created and dropped with gamesched.db.engine's helpers, as the benchmarks' are.

``TEST_DATABASE_URL`` (a server URL; the database part is ignored) and ``TEST_RABBITMQ_URL``
point the tests elsewhere than the local defaults.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import hypothesis
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gamesched.db import engine as db_engine
from gamesched.db import migrate
from gamesched.settings import Settings
from gamesched.testing import broker

# The machine running the suite is shared with PostgreSQL, RabbitMQ and daemons under test:
# timing-based Hypothesis checks would flake there, and they test nothing of ours.
hypothesis.settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("shared-machine")

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
RUN_ID = uuid.uuid4().hex[:10]


def database_url(name: str) -> str:
    return db_engine.database_url_for(SERVER_URL, name)


def make_settings(db_name: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url(db_name),
        "rabbitmq_url": RABBITMQ_URL,
        "gamesched_exchange": f"gamesched.test.{RUN_ID}",
        "discord_token": None,
        "discord_api_base": "http://127.0.0.1:9/api/v10",
        "metrics_port": 0,
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
def exchange_name() -> Iterator[str]:
    """This run's exchange; it and the queues named from it are deleted at the end of the run."""
    name = f"gamesched.test.{RUN_ID}"
    yield name
    asyncio.run(delete_broker_objects(name))


async def delete_broker_objects(exchange: str) -> None:
    await broker.delete_namespace(RABBITMQ_URL, exchange)


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A database migrated to head once per run; never connected to after, so it can be cloned."""
    name = f"gst_{RUN_ID}_template"
    migrate.upgrade(make_settings(name))
    yield name
    db_engine.drop_database(SERVER_URL, name)


def clone_database(template: str, name: str) -> Settings:
    settings = make_settings(name)
    db_engine.create_database(settings, template=template)
    return settings


@pytest.fixture
def fresh_settings(template_db: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for a database of this test's own, cloned from the migrated template."""
    name = f"gst_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    settings = clone_database(template_db, name)
    yield settings
    db_engine.drop_database(SERVER_URL, name)


@pytest.fixture(scope="session")
def shared_settings(template_db: str) -> Iterator[Settings]:
    """The run's shared database for rollback-isolated tests."""
    name = f"gst_{RUN_ID}_shared"
    settings = clone_database(template_db, name)
    yield settings
    db_engine.drop_database(SERVER_URL, name)


@pytest.fixture(scope="session")
def shared_engine(shared_settings: Settings) -> Iterator[Engine]:
    engine = db_engine.make_engine(shared_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(shared_engine: Engine) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside one outer transaction, rolled back at
    teardown: tests see their own writes and leave nothing behind."""
    with shared_engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()
