"""``gamesched demo``: a game to watch, for a newcomer without Discord.

It registers a demo guild and channel (once: running it again reuses them), creates a game
starting in 3 minutes with reminders 2 and 1 minutes before and a 1-minute duration, seats two
players and waitlists a third (``max_players`` 2), and creates an API token scoped to the demo
guild, all through the service layer in one transaction, as the API does. It prints the token
and the curl commands to look at the game, then (unless ``--no-follow``) follows the game: each
step as it happens, and the time left to the next one, until it is COMPLETED.

The token is a guild token, not an admin one: it is printed in a terminal (and may end up in a
shell history or a screenshot), and everything the curl commands show needs no more than the
demo guild. ``gamesched token create --name NAME`` gives an admin token.

A running ``gamesched run`` (or scheduler and bot) carries the game out; this command only
writes it and watches the database.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from gamesched.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEFAULT_START_IN = 180
REMINDER_MINUTES = (2, 1)
DURATION_MINUTES = 1
MAX_PLAYERS = 2

GUILD_ID = "900000000000000001"
CHANNEL_ID = "900000000000000002"
HOST_ID = "900000000000000010"
PLAYER_IDS = ("900000000000000011", "900000000000000012", "900000000000000013")


def start_in_seconds(text: str) -> int:
    """``--start-in``: whole seconds, 10 to a day."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not 10 <= value <= 86400:
        raise argparse.ArgumentTypeError("must be 10-86400 seconds")
    return value


@dataclass(frozen=True, slots=True)
class Created:
    game_id: uuid.UUID
    title: str
    scheduled_at: datetime
    token_name: str
    token: str
    guild_was_new: bool


def create(settings: Settings, *, start_in: int, now: datetime | None = None) -> Created:
    """Write the demo (guild and channel if missing, the game, its roster, a guild token) in
    one transaction."""
    from sqlalchemy import orm

    from gamesched.db import engine as db_engine
    from gamesched.db import guilds as db_guilds
    from gamesched.db import migrate, tokens
    from gamesched.service import games, guilds, roster

    migrate.check_schema(settings)  # unmigrated: one line saying to run `gamesched migrate`
    now = now or datetime.now(UTC)
    engine = db_engine.make_engine(settings)
    try:
        with orm.Session(engine) as session, session.begin():
            guild = db_guilds.find_guild(session, discord_guild_id=GUILD_ID)
            new = guild is None
            if guild is None:
                guild = guilds.register_guild(
                    session,
                    discord_guild_id=GUILD_ID,
                    name="gamesched demo",
                    reminder_minutes=list(REMINDER_MINUTES),
                    default_duration_minutes=DURATION_MINUTES,
                )
            if db_guilds.find_channel(session, discord_channel_id=CHANNEL_ID) is None:
                guilds.register_channel(
                    session,
                    discord_guild_id=GUILD_ID,
                    guild_scope=None,
                    discord_channel_id=CHANNEL_ID,
                    name="demo-games",
                    reminder_minutes=None,
                )
            scheduled_at = (now + timedelta(seconds=start_in)).replace(microsecond=0)
            title = f"Demo game night {scheduled_at:%H:%M:%S} UTC"
            row = games.create_game(
                session,
                guild_scope=guild.id,
                discord_channel_id=CHANNEL_ID,
                title=title,
                description="Created by `gamesched demo`.",
                scheduled_at=scheduled_at,
                expected_duration_minutes=DURATION_MINUTES,
                max_players=MAX_PLAYERS,
                reminder_minutes=list(REMINDER_MINUTES),
                host_discord_id=HOST_ID,
                now=now,
            )
            for player in PLAYER_IDS:
                roster.join(
                    session, game_id=row.game.id, guild_scope=guild.id, discord_user_id=player
                )
            name = f"demo-{secrets.token_hex(4)}"
            token = tokens.create_token(session, name=name, discord_guild_id=GUILD_ID)
            return Created(row.game.id, title, scheduled_at, name, token, new)
    except Exception as exc:
        from sqlalchemy import exc as sa_exc

        from gamesched import errors

        if isinstance(exc, sa_exc.OperationalError):
            raise errors.DatabaseUnavailable(
                db_engine.connect_error_message(settings.url, exc.orig or exc)
            ) from exc
        raise
    finally:
        engine.dispose()


def api_base(settings: Settings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def describe(settings: Settings, created: Created, *, out: TextIO) -> None:
    """The game, the token and the curl commands."""
    api = api_base(settings)
    reminders = " and ".join(str(m) for m in REMINDER_MINUTES)
    print(
        f"demo game {created.title!r} created (id {created.game_id}) in the demo guild "
        f"{GUILD_ID}{' (registered now)' if created.guild_was_new else ''}, channel "
        f"{CHANNEL_ID}:",
        file=out,
    )
    print(
        f"  starts {created.scheduled_at:%Y-%m-%d %H:%M:%S} UTC, reminders {reminders} min "
        f"before (those already past are skipped), lasts {DURATION_MINUTES} min",
        file=out,
    )
    print(
        f"  players {PLAYER_IDS[0]} and {PLAYER_IDS[1]} have the {MAX_PLAYERS} seats, "
        f"{PLAYER_IDS[2]} waits on the waitlist",
        file=out,
    )
    print(
        "`gamesched run` (in another terminal) posts the announcement, sends the reminders and "
        "moves the game to IN_PROGRESS and COMPLETED; without DISCORD_TOKEN each message is a "
        "`dry-run:` line in its log.",
        file=out,
    )
    game = f"{api}/api/v1/games/{created.game_id}"
    auth = '-H "Authorization: Bearer $TOKEN"'
    print("", file=out)
    print(
        "look at it (a token scoped to the demo guild; it is shown only once):",
        file=out,
    )
    print(f"  TOKEN={created.token}", file=out)
    print(f"  curl -s {game} {auth}            # the game, its players and reminders", file=out)
    print(f"  curl -s {game}/schedule {auth}   # reminders and status changes", file=out)
    print(
        f"  curl -s {game} {auth} | python3 -c "
        "'import json, sys; print(json.load(sys.stdin)[\"participants\"])'   # participants",
        file=out,
    )
    print("", file=out)


# -- following the game --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the game's schedule will do (or did)."""

    key: str
    what: str
    due: datetime
    state: str  # pending | sent | executed | skipped
    detail: str | None = None


def steps(engine: Engine, game_id: uuid.UUID) -> tuple[str, list[Step]]:
    """The game's status and its steps (reminders and status changes) in time order."""
    from sqlalchemy import orm

    from gamesched.db import schedule, views
    from gamesched.service import scope

    with orm.Session(engine) as session:
        row = scope.get_game(session, game_id=game_id, guild_scope=None)
        view = views.game_view(session, row=row)
        out = [
            Step(
                f"reminder-{r.reminder_minutes}",
                f"reminder {r.reminder_minutes} min before the start",
                r.notification_time,
                r.state,
                r.skip_reason,
            )
            for r in view.reminders
        ]
        out += [
            Step(
                f"status-{t.target_status}",
                f"the game becomes {t.target_status}",
                t.transition_time,
                t.state,
                t.skip_reason,
            )
            for t in schedule.transition_states(session, game_id=game_id)
        ]
        return row.game.status, sorted(out, key=lambda s: s.due)


def _left(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.999))
    return f"{seconds // 60}:{seconds % 60:02d}"


def follow(
    settings: Settings,
    game_id: uuid.UUID,
    *,
    out: TextIO,
    poll: float = 1.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Print each step as it happens and the time left to the next one, until the game is
    COMPLETED (or CANCELLED, or deleted): one line per step, and on a terminal a countdown
    line rewritten in place (elsewhere, one countdown line every 30 s)."""
    from gamesched import errors
    from gamesched.db import engine as db_engine

    tty = out.isatty()
    engine = db_engine.make_engine(settings, query_deadline=5)
    reported: set[str] = set()
    last_countdown = 0.0
    countdown_shown = False
    try:
        while True:
            try:
                status, all_steps = steps(engine, game_id)
            except errors.NotFound:
                print("the demo game was deleted", file=out)
                return 0
            except Exception as exc:  # the database went away (the run stopped it, say)
                from sqlalchemy import exc as sa_exc

                if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
                    raise
                raise errors.DatabaseUnavailable(
                    "lost the database while following the demo (did `gamesched run` stop?): "
                    + errors.first_line(exc.orig or exc)
                ) from exc
            for step in all_steps:
                if step.state == "pending" or step.key in reported:
                    continue
                reported.add(step.key)
                if countdown_shown and tty:
                    print("\r\033[K", end="", file=out)
                    countdown_shown = False
                done = "skipped" if step.state == "skipped" else "done"
                why = f" ({step.detail})" if step.detail else ""
                print(f"{done}: {step.what}{why}", file=out, flush=True)
            if status in ("COMPLETED", "CANCELLED"):
                print(f"the demo game is {status}: that is the whole demo", file=out, flush=True)
                return 0
            pending = [s for s in all_steps if s.state == "pending"]
            if pending:
                nxt = pending[0]
                left = (nxt.due - clock()).total_seconds()
                text = (
                    f"next: {nxt.what} in {_left(left)}"
                    if left > 0
                    else f"next: {nxt.what}, due now: waiting for the scheduler "
                    "(is `gamesched run` running?)"
                )
                if tty:
                    print(f"\r\033[K{text}", end="", file=out, flush=True)
                    countdown_shown = True
                elif time.monotonic() - last_countdown >= 30:
                    print(text, file=out, flush=True)
                    last_countdown = time.monotonic()
            time.sleep(poll)
    finally:
        if countdown_shown:
            print("", file=out)
        engine.dispose()


def run(settings: Settings, *, start_in: int, follow_game: bool = True) -> int:
    created = create(settings, start_in=start_in)
    describe(settings, created, out=sys.stdout)
    if not follow_game:
        return 0
    print("following the game (Ctrl-C stops following; the game goes on):", flush=True)
    try:
        return follow(settings, created.game_id, out=sys.stdout)
    except KeyboardInterrupt:
        print("\nstopped following; the game goes on", flush=True)
        return 0
