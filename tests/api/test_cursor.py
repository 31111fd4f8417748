"""The list endpoint's cursor: the API's encoding of the service's page key."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from gamesched import errors
from gamesched.api import cursor


def _raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_decodes_to_the_key_it_encodes() -> None:
    key = (datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), uuid.uuid4())
    token = cursor.encode(key)
    assert "=" not in token
    assert cursor.decode(token) == key


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 !",
        _raw({"a": 1}),
        _raw(["2030-01-01T00:00:00", str(uuid.uuid4())]),  # naive time
        _raw(["2030-01-01T00:00:00+00:00", "not-a-uuid"]),
        _raw(["0001-01-01T00:00:00+01:00", str(uuid.uuid4())]),  # overflows in UTC
        _raw(["9999-12-31T23:59:59-01:00", str(uuid.uuid4())]),
    ],
)
def test_anything_this_api_did_not_issue_is_invalid_cursor(token: str) -> None:
    with pytest.raises(errors.InvalidInput) as invalid:
        cursor.decode(token)
    assert invalid.value.field == "cursor"
