"""Discord's signed HTTP interactions: PING, and the Join/Leave buttons of an announcement.

The signature (Ed25519 over timestamp + body, with ``DISCORD_PUBLIC_KEY``) is the only
authentication; without a configured key every request is refused. Button clicks go through
the same data-access functions as the HTTP API, in one transaction, and every outcome (joined,
full, already in, gone) is an ephemeral reply: Discord never sees a 4xx or 5xx for a click.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from gamesched import errors
from gamesched.api import deps
from gamesched.db import roster

log = logging.getLogger("gamesched.api.interactions")
router = APIRouter(tags=["discord"])

PING = 1
COMPONENT = 3
PONG = 1
CHANNEL_MESSAGE = 4
EPHEMERAL = 64


def verify(public_key_hex: str | None, *, signature: str, timestamp: str, body: bytes) -> bool:
    if not public_key_hex:
        return False
    try:
        VerifyKey(bytes.fromhex(public_key_hex)).verify(
            timestamp.encode() + body, bytes.fromhex(signature)
        )
    except (BadSignatureError, ValueError):
        return False
    return True


def _reply(content: str) -> JSONResponse:
    return JSONResponse({"type": CHANNEL_MESSAGE, "data": {"content": content, "flags": EPHEMERAL}})


def _user_id(payload: dict[str, Any]) -> str | None:
    member = payload.get("member")
    user = member.get("user") if isinstance(member, dict) else payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    return (
        user_id if isinstance(user_id, str) and user_id.isdigit() and len(user_id) <= 20 else None
    )


def parse_custom_id(custom_id: object) -> tuple[str, uuid.UUID] | None:
    """``game:join:<id>`` / ``game:leave:<id>`` -> (action, game id); anything else None."""
    if not isinstance(custom_id, str):
        return None
    parts = custom_id.split(":")
    if len(parts) != 3 or parts[0] != "game" or parts[1] not in ("join", "leave"):
        return None
    try:
        return parts[1], uuid.UUID(parts[2])
    except ValueError:
        return None


def _click(session: orm.Session, action: str, game_id: uuid.UUID, user_id: str) -> str:
    if action == "join":
        entry = roster.join(session, game_id=game_id, guild_scope=None, discord_user_id=user_id)
        if entry.state == "confirmed":
            return "You're in! See you there."
        return f"The game is full: you're on the waitlist (#{entry.position} in line)."
    roster.leave(session, game_id=game_id, guild_scope=None, discord_user_id=user_id)
    return "You've left the game."


@router.post(
    "/discord/interactions",
    responses={401: {"description": "bad or missing signature"}},
    include_in_schema=True,
)
def interactions(request: Request, body: deps.RawBody) -> JSONResponse:
    """Discord's interactions endpoint (signed with Ed25519)."""
    ok = verify(
        request.app.state.settings.discord_public_key,
        signature=request.headers.get("x-signature-ed25519", ""),
        timestamp=request.headers.get("x-signature-timestamp", ""),
        body=body,
    )
    if not ok:
        return JSONResponse({"detail": "invalid request signature"}, status_code=401)
    try:
        payload = json.loads(body)
    except ValueError:
        return JSONResponse({"detail": "body is not JSON"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"detail": "body is not a JSON object"}, status_code=400)
    if payload.get("type") == PING:
        return JSONResponse({"type": PONG})
    if payload.get("type") != COMPONENT:
        return _reply("Sorry, I don't know that command.")
    data = payload.get("data")
    parsed = parse_custom_id(data.get("custom_id") if isinstance(data, dict) else None)
    user_id = _user_id(payload)
    if parsed is None or user_id is None:
        return _reply("Sorry, I don't understand that button.")
    return _reply(_handle_click(request.app.state.sessionmaker, *parsed, user_id))


def _handle_click(
    factory: orm.sessionmaker[orm.Session], action: str, game_id: uuid.UUID, user_id: str
) -> str:
    try:
        with factory.begin() as session:
            return _click(session, action, game_id, user_id)
    except errors.NotFound:
        return "That game (or your place in it) no longer exists."
    except errors.Conflict as exc:
        if action == "join" and exc.field == "discord_user_id":
            return "You've already joined this game."
        return f"Sorry, you can't do that now: {exc.message}."
    except (sa_exc.SQLAlchemyError, errors.DatabaseUnavailable):
        log.warning("interaction failed: database", extra={"action": "api.interaction_db_error"})
        return "Sorry, something went wrong on our side. Please try again in a moment."
