"""The list endpoint's page cursor: an opaque string to clients, the ``(scheduled_at, id)`` key
of the last game of the page to us. Its encoding is the API's business; the service pages by
the key itself."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from gamesched import errors, rules

Key = tuple[datetime, uuid.UUID]


def encode(key: Key) -> str:
    raw = json.dumps([key[0].isoformat(), str(key[1])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> Key:
    """The key, or InvalidInput (a 422 naming ``cursor``) for anything this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, game_id = json.loads(raw)
        return rules.require_aware(datetime.fromisoformat(when)), uuid.UUID(game_id)
    # OverflowError: a tampered time near year 1 or 9999 whose offset moves it out of range
    except (ValueError, TypeError, OverflowError, binascii.Error, errors.InvalidInput):
        raise errors.InvalidInput(
            "cursor: not a cursor this API returned", field="cursor"
        ) from None
