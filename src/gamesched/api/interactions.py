"""Discord's signed HTTP interactions: PING, the Join/Leave buttons of an announcement, and the
slash commands with their autocomplete, modal and preview buttons (:mod:`gamesched.api.commands`).

The signature (Ed25519 over timestamp + body, with ``DISCORD_PUBLIC_KEY``) is the only
authentication; without a configured key every request is refused. A signed request is only
valid while its ``X-Signature-Timestamp`` is within :data:`MAX_SKEW_SECONDS` of our clock, so a
captured click cannot be replayed later. Button clicks go through the same use cases as the HTTP
API (:mod:`gamesched.service.roster`), in one transaction, scoped to the guild the click came
from, and every outcome (joined, full, already in, gone, wrong server) is an ephemeral reply:
Discord never sees a 4xx or 5xx for a click.

Discord waits 3 seconds for an answer. A command's work runs in a worker thread; if it is not
done within :data:`ANSWER_BUDGET_SECONDS`, the endpoint answers "deferred" (ephemeral) and the
worker, once done, edits that answer through Discord's webhook API (:mod:`gamesched.api.followup`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from concurrent import futures
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from gamesched import errors
from gamesched.api import commands, deps, followup, schemas
from gamesched.api.errors import error_response
from gamesched.events import schemas as event_schemas
from gamesched.service import roster, scope

log = logging.getLogger("gamesched.api.interactions")
router = APIRouter(tags=["discord"])

PING = 1
COMPONENT = 3
PONG = 1
CHANNEL_MESSAGE = 4
EPHEMERAL = 64

#: How long a command's work may take before the answer is deferred and sent as an edit later
#: (Discord gives up after 3 s; the rest is room for the network). ``app.state.answer_budget``
#: overrides it (0: always defer).
ANSWER_BUDGET_SECONDS = 2.0
WORKERS = 8

#: How far X-Signature-Timestamp may be from our clock, either way: Discord signs a request as
#: it sends it, so this is room for clock skew, and none for a replay a day later.
MAX_SKEW_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
#: The API's own snowflake check (ASCII digits only: ``str.isdigit`` accepts '²' and '٣').
_SNOWFLAKE = re.compile(schemas.SNOWFLAKE_PATTERN)


def fresh(timestamp: str, *, now: float) -> bool:
    """True if ``timestamp`` is whole seconds since the epoch within MAX_SKEW_SECONDS of now."""
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    return abs(now - int(timestamp)) <= MAX_SKEW_SECONDS


def snowflake(value: object) -> str | None:
    return value if isinstance(value, str) and _SNOWFLAKE.fullmatch(value) else None


def parse_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not one (including nesting too deep for the
    parser: ``json`` raises RecursionError there, which must not become a 500)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


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
    return snowflake(user.get("id") if isinstance(user, dict) else None)


def _click(
    session: orm.Session, action: str, game_id: uuid.UUID, user_id: str, discord_guild_id: str
) -> str:
    # The click is scoped to the guild it came from, like a guild token: a game of another
    # guild (or a guild we do not know) is simply not found, and nothing changes.
    guild = scope.get_guild(session, discord_guild_id=discord_guild_id, guild_scope=None)
    if action == "join":
        entry = roster.join(session, game_id=game_id, guild_scope=guild.id, discord_user_id=user_id)
        if entry.state == "confirmed":
            return "You're in! See you there."
        return f"The game is full: you're on the waitlist (#{entry.position} in line)."
    roster.leave(session, game_id=game_id, guild_scope=guild.id, discord_user_id=user_id)
    return "You've left the game."


def _refuse(request: Request, status: int, message: str) -> JSONResponse:
    return error_response(request, status, [{"field": None, "message": message}])


_SIGNATURE_HEADERS = [
    {
        "name": "X-Signature-Ed25519",
        "in": "header",
        "required": True,
        "description": "Discord's Ed25519 signature (hex) of the timestamp and the body",
        "schema": {"type": "string"},
    },
    {
        "name": "X-Signature-Timestamp",
        "in": "header",
        "required": True,
        "description": "seconds since the epoch when Discord signed it; refused 5 minutes away",
        "schema": {"type": "string"},
    },
]
_INTERACTION_BODY = {
    "description": "an interaction as Discord sends it, byte for byte (the signature covers it)",
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "description": "a Discord interaction object"},
            "examples": {
                "ping": {"summary": "Discord checks the endpoint", "value": {"type": PING}},
                "join": {
                    "summary": "a click on an announcement's Join button",
                    "value": {
                        "type": COMPONENT,
                        "guild_id": "111111111111111111",
                        "member": {"user": {"id": "444444444444444444"}},
                        "data": {"custom_id": "game:join:6f1c2a9e-8d3b-4c57-9a0e-2b7d5e4f1a38"},
                    },
                },
            },
        }
    },
}


@router.post(
    "/discord/interactions",
    summary="Discord interactions",
    response_description="Discord's answer: PONG, an ephemeral message, a modal, autocomplete "
    "choices, or a deferral",
    responses={
        400: {"model": schemas.ErrorOut, "description": "the body is not a JSON object"},
        401: {"model": schemas.ErrorOut, "description": "bad, missing or stale signature"},
        413: {"model": schemas.ErrorOut, "description": "the body is over 64 KiB"},
    },
    openapi_extra={"parameters": _SIGNATURE_HEADERS, "requestBody": _INTERACTION_BODY},
    include_in_schema=True,
)
def interactions(request: Request, body: deps.RawBody) -> JSONResponse:
    """Discord's interactions endpoint (signed with Ed25519): answers PING, Join/Leave clicks
    on a game's announcement, and the slash commands (`/game`, `/timezone`) with their
    autocomplete, form and preview buttons. Set its URL in the Discord application; it needs no
    token. Every signed interaction gets a 200: a message only that person sees, a form, a
    list of suggestions, or (for work over 2 s) a deferral whose answer follows as an edit."""
    timestamp = request.headers.get("x-signature-timestamp", "")
    # Checked first, before the signature and anything else: a stale request costs nothing.
    if not fresh(timestamp, now=time.time()):
        return _refuse(request, 401, "stale or missing X-Signature-Timestamp")
    ok = verify(
        request.app.state.settings.discord_public_key,
        signature=request.headers.get("x-signature-ed25519", ""),
        timestamp=timestamp,
        body=body,
    )
    if not ok:
        return _refuse(request, 401, "invalid request signature")
    payload = parse_object(body)
    if payload is None:
        return _refuse(request, 400, "the body is not a JSON object")
    if payload.get("type") == PING:
        return JSONResponse({"type": PONG})
    kind = payload.get("type")
    data = payload.get("data")
    parsed = event_schemas.parse_button_id(
        data.get("custom_id") if isinstance(data, dict) else None
    )
    if kind in (commands.APPLICATION_COMMAND, commands.AUTOCOMPLETE, commands.MODAL_SUBMIT) or (
        kind == COMPONENT and parsed is None
    ):
        return _command(request, int(kind), payload)
    if kind != COMPONENT:
        return _reply("Sorry, I don't know that command.")
    user_id = _user_id(payload)
    if parsed is None or user_id is None:
        return _reply("Sorry, I don't understand that button.")
    discord_guild_id = snowflake(payload.get("guild_id"))
    if discord_guild_id is None:
        return _reply("Game buttons only work in the server where the game was announced.")
    return _reply(_handle_click(request.app.state.sessionmaker, *parsed, user_id, discord_guild_id))


def _handle_click(
    factory: orm.sessionmaker[orm.Session],
    action: str,
    game_id: uuid.UUID,
    user_id: str,
    discord_guild_id: str,
) -> str:
    try:
        with factory.begin() as session:
            return _click(session, action, game_id, user_id, discord_guild_id)
    except errors.NotFound as exc:
        if exc.field in ("game_id", "discord_guild_id"):
            return "That game no longer exists, or it belongs to another server."
        return "You're not in that game."
    except errors.Conflict as exc:
        if action == "join" and exc.field == "discord_user_id":
            return "You've already joined this game."
        return f"Sorry, you can't do that now: {exc.message}."
    except (sa_exc.SQLAlchemyError, errors.DatabaseUnavailable):
        log.warning(
            "interaction failed: database",
            extra={
                "action": "api.interaction_db_error",
                "game_id": str(game_id),
                "discord_user_id": user_id,
            },
        )
        return "Sorry, something went wrong on our side. Please try again in a moment."


def _permissions(payload: dict[str, Any]) -> int:
    member = payload.get("member")
    value = member.get("permissions") if isinstance(member, dict) else None
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else 0


#: Discord's thread channel types (announcement, public and private thread).
THREAD_TYPES = (10, 11, 12)


def _channel_id(payload: dict[str, Any]) -> str | None:
    """The channel the interaction acts for. In a thread, ``channel_id`` is the thread's; the
    partial ``channel`` Discord sends along names its parent, which is the channel a game is
    registered in and announced to."""
    channel = payload.get("channel")
    if not isinstance(channel, dict):
        channel = {}
    kind = channel.get("type")
    if isinstance(kind, int) and kind in THREAD_TYPES:
        parent = snowflake(channel.get("parent_id"))
        if parent is not None:
            return parent
    return snowflake(payload.get("channel_id")) or snowflake(channel.get("id"))


def worker_pool() -> futures.ThreadPoolExecutor:
    """The workers of the commands, one pool per app (``app.state.interaction_pool``, made and
    shut down by its lifespan): a deferred answer's work outlives the request that started it,
    not the app. Its threads start on first use."""
    return futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="interaction")


def _command(request: Request, kind: int, payload: dict[str, Any]) -> JSONResponse:
    """A slash command, autocomplete, modal submit or one of the commands' buttons: answered
    inline when its work is done within the budget, else deferred and edited later."""
    user_id = _user_id(payload)
    data = payload.get("data")
    if user_id is None or not isinstance(data, dict):
        return _reply("Sorry, I don't understand that.")
    ctx = commands.Ctx(
        user_id=user_id,
        guild_id=snowflake(payload.get("guild_id")),
        channel_id=_channel_id(payload),
        permissions=_permissions(payload),
        data=data,
        now=datetime.now(UTC),
        factory=request.app.state.sessionmaker,
    )
    pool: futures.ThreadPoolExecutor = request.app.state.interaction_pool
    work = pool.submit(commands.handle, kind, ctx)
    budget = float(getattr(request.app.state, "answer_budget", ANSWER_BUDGET_SECONDS))
    if budget > 0:
        try:
            return JSONResponse(work.result(timeout=budget).body)
        except futures.TimeoutError:
            pass
    if kind == commands.AUTOCOMPLETE:  # suggestions are only worth something now
        return JSONResponse(commands.choices([]).body)
    settings = request.app.state.settings
    application_id = snowflake(payload.get("application_id"))
    token = payload.get("token")
    if application_id is not None and isinstance(token, str) and token:
        work.add_done_callback(
            lambda done: _follow_up(settings.discord_api_base, application_id, token, done)
        )
    log.info("interaction deferred", extra={"action": "api.interaction_deferred"})
    if kind == COMPONENT:  # the answer will edit the message the button is on
        return JSONResponse({"type": commands.DEFERRED_UPDATE_MESSAGE})
    return JSONResponse({"type": commands.DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}})


def _follow_up(
    api_base: str, application_id: str, token: str, done: futures.Future[commands.Answer]
) -> None:
    """Replace the deferred answer with the real one (runs in the worker that did the work)."""
    try:
        answer = done.result()
        data = answer.body.get("data") or {}
        if not answer.followable:
            data = {"content": "That took too long to open; please try again."}
        asyncio.run(
            followup.edit_original(
                api_base=api_base, application_id=application_id, token=token, data=data
            )
        )
    except Exception:
        log.exception(
            "could not send a deferred interaction answer",
            extra={"action": "api.interaction_followup_failed"},
        )
