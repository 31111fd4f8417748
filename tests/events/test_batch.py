"""The batch path's hand-built frames are byte for byte what pamqp (hence aiormq) would send."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pamqp.frame
import pytest
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from gamesched.events import _batch
from gamesched.events.publisher import _properties
from gamesched.events.schemas import Outgoing

NOW = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
CHANNEL = 7
MAX_BODY = 4096


def pamqp_frames(exchange: str, message: Outgoing, body: bytes) -> bytes:
    frames: list[object] = [
        spec.Basic.Publish(exchange=exchange, routing_key=message.routing_key, mandatory=True),
        ContentHeader(body_size=len(body), properties=_properties(message, NOW)),
    ]
    frames += [ContentBody(body[i : i + MAX_BODY]) for i in range(0, len(body), MAX_BODY)]
    return b"".join(pamqp.frame.marshal(f, CHANNEL) for f in frames)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expiration_ms", "body"),
    [
        (60_000, b'{"a":1}'),
        (None, b'{"a":1}'),
        (-5, b"x" * 200),
        (0, b""),
        (1, b"y" * (3 * MAX_BODY + 17)),  # split over four body frames
        (2, b"z" * MAX_BODY),
    ],
)
def test_frames_match_pamqp(expiration_ms: int | None, body: bytes) -> None:
    channel = SimpleNamespace(number=CHANNEL, max_content_size=MAX_BODY)
    batch = _batch.BatchPublisher(channel, "gamesched.ex")
    message = Outgoing("4f1c-id", "game.reminder_due", {}, expiration_ms)
    encoded = batch.encode(
        message.routing_key, body, message.message_id, expiration_ms, _batch.timestamp_bytes(NOW)
    )
    assert encoded.message_id == "4f1c-id"
    assert encoded.frames == pamqp_frames("gamesched.ex", message, body)
    # the second use of a routing key comes from the cache and must not differ
    again = batch.encode(
        message.routing_key, body, message.message_id, expiration_ms, _batch.timestamp_bytes(NOW)
    )
    assert again.frames == encoded.frames


def test_overlong_short_string_is_refused() -> None:
    batch = _batch.BatchPublisher(SimpleNamespace(number=1, max_content_size=MAX_BODY), "ex")
    with pytest.raises(ValueError, match="255"):
        batch.encode("game." + "k" * 300, b"{}", "id", None, _batch.timestamp_bytes(NOW))
