"""Property-based run of the app's own OpenAPI schema (schemathesis), bounded for CI.

Checks chosen deliberately: no 5xx, documented status codes and content types, and responses
that match their schema. ``negative_data_rejection``/``positive_data_acceptance`` are left out:
generated ids almost never name a registered guild, channel or game, so valid-by-schema
requests legitimately answer 404/409 and the acceptance checks would only be noise.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from sqlalchemy import orm

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from tests.api.conftest import CHANNEL, GUILD, auth

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def admin_headers(fresh_settings: Settings) -> dict[str, str]:
    engine = db_engine.make_engine(fresh_settings)
    with orm.Session(engine) as session, session.begin():
        token = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    return auth(token)


GENERATION_MODES = [
    schemathesis.GenerationMode.POSITIVE,
    schemathesis.GenerationMode.NEGATIVE,
]


def test_api_conforms_to_its_schema(
    fresh_settings: Settings, admin_headers: dict[str, str]
) -> None:
    app = api_app.create_app(fresh_settings)
    with TestClient(app, headers=dict(admin_headers)) as http:  # runs the lifespan: engine, pool
        http.post("/api/v1/guilds", json={"discord_guild_id": GUILD, "name": "g"})
        http.post(f"/api/v1/guilds/{GUILD}/channels", json={"discord_channel_id": CHANNEL})
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        for operation in operations:
            for mode in GENERATION_MODES:
                _exercise(operation, mode, admin_headers)


def _exercise(operation: Any, mode: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, e.g. /healthz): only positive data exists.
        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
