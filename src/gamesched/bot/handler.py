"""One delivery, start to finish: parse, decide, carry out on Discord, record, settle.

* A malformed message is parked at once (retrying cannot fix it).
* A message id already handled (``processed_events``) is acked and dropped.
* Announcement events lock the game's row while the announcement is posted or edited, so two
  deliveries of one game (even on two bot replicas) never post it twice; the new message id,
  the handled id and the outcome commit together, and only then is the delivery acked.
* Reminder DMs are recorded one by one in ``reminder_deliveries`` and sent with a stable nonce
  (Discord drops a resend within its nonce window), so a crash between Discord's answer and our
  commit does not DM anyone twice; a user with closed DMs is recorded as undeliverable.
* A transient failure (Discord 5xx or a long rate limit, database or network errors) is retried
  later by the transport; everything else unexpected is parked with its reason.

The database is reached through the sync ORM in worker threads, as the API does: one data layer
for both. The threads are the handler's own, at least two per delivery in hand: a session holds
a game's row lock while Discord answers, and its commit must always find a free thread (with
asyncio's shared default pool, sessions waiting for that lock could take every thread and the
commit that would release it could never run).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import sqlalchemy.exc
from sqlalchemy.orm import Session, sessionmaker

from gamesched import errors, logsetup
from gamesched.bot import discord, plan, store
from gamesched.events import schemas
from gamesched.events.transport import Delivery

log = logging.getLogger(__name__)

T = TypeVar("T")

# failures worth retrying: the transport delivers the message again after a delay
TRANSIENT: tuple[type[BaseException], ...] = (
    discord.Transient,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    psycopg.OperationalError,
    OSError,
    TimeoutError,
)


class Handler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        discord_api: discord.Discord,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        concurrency: int = 16,
    ) -> None:
        self.sessions = sessions
        self.discord = discord_api
        self.clock = clock
        self.outcomes: dict[str, int] = {}
        self._threads = ThreadPoolExecutor(2 * concurrency + 2, thread_name_prefix="bot-db")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a database call on the handler's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(fn, *args, **kwargs))

    def __repr__(self) -> str:
        return f"<Handler outcomes={self.outcomes} discord={self.discord!r}>"

    async def handle(self, delivery: Delivery) -> str:
        """Handle and settle ``delivery``; return the outcome (for logs and metrics)."""
        outcome = await self._outcome(delivery)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome

    async def _outcome(self, delivery: Delivery) -> str:
        try:
            event = schemas.parse(delivery.routing_key, delivery.body)
        except schemas.MalformedEvent as exc:
            await delivery.park(exc.message)
            return "parked"
        logsetup.bind(game_id=event.game_id, message_id=delivery.message_id)  # this task's lines
        try:
            if isinstance(event, schemas.ReminderDue):
                outcome = await self._reminder(event, delivery.message_id)
            else:
                outcome = await self._change(event, delivery.message_id, delivery.routing_key)
        except TRANSIENT as exc:
            log.warning(
                "%s %s failed, will retry: %s",
                delivery.routing_key,
                delivery.message_id,
                errors.first_line(exc),
                extra={
                    "action": "retry",
                    "message_id": delivery.message_id,
                    "game_id": str(event.game_id),
                },
            )
            await delivery.retry(errors.first_line(exc))
            return "retried"
        except Exception as exc:  # a bug or a refusal retrying cannot fix: keep it for a person
            log.exception(
                "%s %s failed: parking it",
                delivery.routing_key,
                delivery.message_id,
                extra={
                    "action": "park",
                    "message_id": delivery.message_id,
                    "game_id": str(event.game_id),
                },
            )
            await delivery.park(f"{type(exc).__name__}: {errors.first_line(exc)}")
            return "parked"
        await delivery.ack()
        return outcome

    # -- announcement events -----------------------------------------------------------------

    async def _change(self, event: schemas.Event, message_id: str, routing_key: str) -> str:
        session = self.sessions()
        try:
            first, game = await self._db(
                self._begin_change, session, event, message_id, routing_key
            )
            if not first:
                await self._db(session.commit)
                return "duplicate"
            decided = plan.decide(event, game, now=self.clock(), message_id=message_id)
            for action in decided.actions:
                await self._carry_out(session, action)
            await self._db(session.commit)
            return decided.skipped or "done"
        finally:
            await self._db(session.close)  # rolls back anything not committed

    @staticmethod
    def _begin_change(
        session: Session, event: schemas.Event, message_id: str, routing_key: str
    ) -> tuple[bool, plan.Game | None]:
        if not store.claim_message(session, message_id=message_id, routing_key=routing_key):
            return False, None
        return True, store.load_game(session, game_id=event.game_id, lock=True)

    async def _carry_out(self, session: Session, action: plan.Action) -> None:
        if isinstance(action, plan.ShowAnnouncement):
            new_id = await self._show(action)
            if new_id != action.message_id:
                await self._db(
                    store.set_message_id, session, game_id=action.game_id, message_id=new_id
                )
        elif isinstance(action, plan.DeleteAnnouncement):
            await self.discord.delete(action.channel_id, action.message_id)
        else:
            try:
                await self.discord.dm(action.user_id, action.content, action.nonce)
            except discord.DmClosed:
                log.info(
                    "user %s does not accept DMs",
                    action.user_id,
                    extra={"action": "dm_closed", "discord_user_id": action.user_id},
                )

    async def _show(self, action: plan.ShowAnnouncement) -> str:
        """Edit the announcement, or post it if it has none or it was deleted on Discord."""
        if action.message_id is not None:
            try:
                await self.discord.edit(action.channel_id, action.message_id, action.announcement)
                return action.message_id
            except discord.MessageGone:
                log.info(
                    "announcement %s was deleted on Discord: posting it again",
                    action.message_id,
                    extra={
                        "action": "reposted",
                        "game_id": str(action.game_id),
                        "discord_message_id": action.message_id,
                    },
                )
        return await self.discord.post(action.channel_id, action.announcement)

    # -- reminders ---------------------------------------------------------------------------

    async def _reminder(self, event: schemas.ReminderDue, message_id: str) -> str:
        # A reminder re-armed for a new time (the game moved) comes with the same message id
        # (its row's): the time is part of what was handled.
        handled_id = f"{message_id}@{event.notification_time.isoformat()}"
        read = await self._db(self._read_reminder, event, handled_id)
        if read is None:
            return "duplicate"
        game, done = read
        decided = plan.decide(event, game, now=self.clock(), message_id=message_id)
        for dm in decided.dms:
            if dm.user_id in done or dm.reminder is None:
                continue
            try:
                await self.discord.dm(dm.user_id, dm.content, dm.nonce)
                status, error = "sent", None
            except discord.DmClosed as exc:
                status, error = "undeliverable", errors.first_line(exc)
            await self._db(self._record, dm.reminder, dm.user_id, status, error)
        await self._db(self._finish_reminder, handled_id)
        return decided.skipped or "done"

    def _read_reminder(
        self, event: schemas.ReminderDue, handled_id: str
    ) -> tuple[plan.Game | None, set[str]] | None:
        """The game and who already got this reminder; None if it was handled already."""
        with self.sessions() as session:
            if store.was_handled(session, message_id=handled_id):
                return None
            game = store.load_game(session, game_id=event.game_id)
            key = plan.ReminderKey(event.notification_id, event.notification_time)
            users = [] if game is None else [game.host_id, *game.confirmed, *game.waitlist]
            return game, store.delivered(session, key=key, users=users)

    def _record(self, key: plan.ReminderKey, user_id: str, status: str, error: Any) -> None:
        with self.sessions.begin() as session:
            store.record_delivery(session, key=key, user_id=user_id, status=status, error=error)

    def _finish_reminder(self, message_id: str) -> None:
        with self.sessions.begin() as session:
            store.claim_message(session, message_id=message_id, routing_key=schemas.REMINDER_DUE)
