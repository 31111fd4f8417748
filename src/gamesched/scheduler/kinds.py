"""The three schedule kinds: where their rows live and what each due row becomes.

A kind's ``plan`` is pure: from claimed rows to (message to publish | reason to skip). A kind may
also have an ``apply`` step run in the claiming transaction after its messages were confirmed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from gamesched import errors, rules
from gamesched.db import claims
from gamesched.events import schemas

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Planned:
    row_id: uuid.UUID
    message: schemas.Outgoing | None  # None: skipped, for ``skip_reason``
    skip_reason: str | None = None
    game_status: tuple[uuid.UUID, str] | None = None  # a status change to apply


ApplyFn = Callable[[AsyncConnection[Any], Sequence[Planned]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    table: claims.ScheduleTable
    plan: Callable[[Sequence[Row]], list[Planned]]
    apply: ApplyFn | None = None
    # True: if any message of a batch is not confirmed, nothing of the batch is marked done
    # (status changes depend on one another's order, so a partial batch could skip one).
    all_or_nothing: bool = False


# -- reminders ---------------------------------------------------------------------------------


def plan_reminders(rows: Sequence[Row]) -> list[Planned]:
    """Publish each due reminder, unless its game has started or ended (then skip it)."""
    out: list[Planned] = []
    for row in rows:
        now = row["db_now"]
        if row["game_status"] in (rules.GameStatus.CANCELLED, rules.GameStatus.COMPLETED):
            out.append(Planned(row["id"], None, f"game_{row['game_status'].lower()}"))
            continue
        if row["scheduled_at"] <= now:
            out.append(Planned(row["id"], None, "game_started"))
            continue
        left_ms = int((row["scheduled_at"] - now).total_seconds() * 1000)
        body = schemas.reminder_due(
            notification_id=str(row["id"]),
            game_id=str(row["game_id"]),
            reminder_minutes=row["reminder_minutes"],
            scheduled_at=row["scheduled_at"],
            notification_time=row["due"],
        )
        message = schemas.Outgoing(str(row["id"]), schemas.REMINDER_DUE, body, left_ms)
        out.append(Planned(row["id"], message))
    return out


# -- status transitions ------------------------------------------------------------------------


def plan_status(rows: Sequence[Row]) -> list[Planned]:
    """Walk each game's due transitions in due order from its current status: a legal one is
    published and applied, an illegal one (say, the game was cancelled) is done with no change."""
    current: dict[uuid.UUID, str] = {}
    out: list[Planned] = []
    for row in rows:  # already in due order
        game_id = row["game_id"]
        status = current.setdefault(game_id, row["game_status"])
        target = row["target_status"]
        if not rules.can_transition(status, target):
            out.append(Planned(row["id"], None, f"illegal_from_{status.lower()}"))
            continue
        current[game_id] = target
        body = schemas.status_transition_due(
            schedule_id=str(row["id"]),
            game_id=str(game_id),
            target_status=target,
            transition_time=row["due"],
        )
        message = schemas.Outgoing(str(row["id"]), schemas.STATUS_TRANSITION_DUE, body)
        out.append(Planned(row["id"], message, game_status=(game_id, target)))
    return out


async def apply_status(conn: AsyncConnection[Any], planned: Sequence[Planned]) -> None:
    final: dict[uuid.UUID, str] = {}
    for p in planned:
        if p.game_status is not None:
            final[p.game_status[0]] = p.game_status[1]
    await claims.set_game_statuses(conn, statuses=list(final.items()))


# -- outbox ------------------------------------------------------------------------------------


def plan_outbox(rows: Sequence[Row]) -> list[Planned]:
    """Publish the stored event as written by the API, under its own routing key."""
    return [
        Planned(row["id"], schemas.Outgoing(str(row["id"]), row["routing_key"], row["payload"]))
        for row in rows
    ]


REMINDERS = Kind("reminders", claims.REMINDERS, plan_reminders)
STATUS = Kind("status", claims.STATUS, plan_status, apply_status, all_or_nothing=True)
OUTBOX = Kind("outbox", claims.OUTBOX, plan_outbox)

ALL: dict[str, Kind] = {k.name: k for k in (REMINDERS, STATUS, OUTBOX)}


def parse_kinds(value: str | None) -> list[Kind]:
    """``"reminders,status"`` -> those kinds; None or empty -> all of them."""
    if not value:
        return list(ALL.values())
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise errors.ConfigError(
            f"--kinds: unknown kind(s) {', '.join(unknown)}; choose from {', '.join(ALL)}"
        )
    return [ALL[n] for n in dict.fromkeys(names)]
