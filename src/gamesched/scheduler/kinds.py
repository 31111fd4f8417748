"""The three schedule kinds: where their rows live and what each due row becomes.

A kind's ``plan`` is pure: from claimed rows (the typed rows of ``db.claims``) to (message to
publish | reason to skip). A kind may also have an ``apply`` step run in the claiming
transaction after its messages were accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from psycopg import AsyncConnection

from gamesched import errors, rules
from gamesched.db import claims
from gamesched.events import schemas

R = TypeVar("R", claims.ReminderRow, claims.StatusRow, claims.OutboxRow)

# A due row whose game does not exist (possible only with the foreign key bypassed: a restore, a
# manual fix): done with this reason, and logged, instead of claimed and lost again and again.
GAME_MISSING = "game_missing"
# A row whose batch kept failing with it alone (kinds.py's callers: scheduler.loop)
POISON = "poison"
# Skip reasons that mean something is wrong with the data: logged (with the row's id) as well as
# counted.
ANOMALIES = frozenset({GAME_MISSING, POISON})


@dataclass(frozen=True, slots=True)
class Planned:
    row_id: str
    message: schemas.Outgoing | None  # None: skipped, for ``skip_reason``
    skip_reason: str | None = None
    game_status: tuple[str, str] | None = None  # (game id, status) to apply


ApplyFn = Callable[[AsyncConnection[Any], Sequence[Planned]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Kind(Generic[R]):
    name: str
    table: claims.ScheduleTable[R]
    plan: Callable[[Sequence[R]], list[Planned]]
    apply: ApplyFn | None = None
    # True: if any message of a batch is not confirmed, nothing of the batch is marked done
    # (status changes depend on one another's order, so a partial batch could skip one).
    all_or_nothing: bool = False


# -- reminders ---------------------------------------------------------------------------------

_ENDED = (rules.GameStatus.CANCELLED, rules.GameStatus.COMPLETED)


def plan_reminders(rows: Sequence[claims.ReminderRow]) -> list[Planned]:
    """Publish each due reminder, unless its game has started or ended (then skip it).

    A published reminder expires when its game starts, so a broker that holds it too long
    drops it instead of reminding people of a game already under way."""
    out: list[Planned] = []
    for row in rows:
        if row.game_status is None:
            out.append(Planned(row.id, None, GAME_MISSING))
        elif row.game_status in _ENDED:
            out.append(Planned(row.id, None, f"game_{row.game_status.lower()}"))
        elif row.game_started:
            out.append(Planned(row.id, None, "game_started"))
        else:
            message = schemas.Outgoing(row.id, schemas.REMINDER_DUE, row.body, row.ms_to_start)
            out.append(Planned(row.id, message))
    return out


# -- status transitions ------------------------------------------------------------------------


def plan_status(rows: Sequence[claims.StatusRow]) -> list[Planned]:
    """Walk each game's due transitions in due order from its current status: a legal one is
    published and applied, an illegal one (say, the game was cancelled) is done with no change."""
    current: dict[str, str] = {}
    out: list[Planned] = []
    for row in rows:  # already in due order
        game_id = row.game_id
        if row.game_status is None:
            out.append(Planned(row.id, None, GAME_MISSING))
            continue
        status = current.setdefault(game_id, row.game_status)
        target = row.target_status
        if not rules.can_transition(status, target):
            out.append(Planned(row.id, None, f"illegal_from_{status.lower()}"))
            continue
        current[game_id] = target
        message = schemas.Outgoing(row.id, schemas.STATUS_TRANSITION_DUE, row.body)
        out.append(Planned(row.id, message, game_status=(game_id, target)))
    return out


async def apply_status(conn: AsyncConnection[Any], planned: Sequence[Planned]) -> None:
    final: dict[str, str] = {}
    for p in planned:
        if p.game_status is not None:
            final[p.game_status[0]] = p.game_status[1]
    await claims.set_game_statuses(conn, statuses=list(final.items()))


# -- outbox ------------------------------------------------------------------------------------


def plan_outbox(rows: Sequence[claims.OutboxRow]) -> list[Planned]:
    """Publish the stored event as written by the API, under its own routing key."""
    return [Planned(row.id, schemas.Outgoing(row.id, row.routing_key, row.body)) for row in rows]


REMINDERS = Kind("reminders", claims.REMINDERS, plan_reminders)
STATUS = Kind("status", claims.STATUS, plan_status, apply_status, all_or_nothing=True)
OUTBOX = Kind("outbox", claims.OUTBOX, plan_outbox)

ALL: dict[str, Kind[Any]] = {k.name: k for k in (REMINDERS, STATUS, OUTBOX)}


def parse_kinds(value: str | None) -> list[Kind[Any]]:
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
