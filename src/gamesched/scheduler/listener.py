"""LISTEN on its own autocommit connection. A notification only wakes a loop, never carries work.

On any connection failure it reconnects with capped backoff, LISTENs again, and then wakes every
loop: notifications sent while it was disconnected are gone, so the loops must re-query.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from gamesched._retry import Backoff, FailureState

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
APPLICATION_NAME = "gamesched-scheduler-listen"


class Listener:
    def __init__(self, url: str, wakes: dict[str, asyncio.Event]) -> None:
        self.url = url
        self.wakes = wakes
        self.listening = False
        self.received = 0
        self.connects = 0
        self._stopping = False
        self._conn: psycopg.AsyncConnection[Any] | None = None

    def __repr__(self) -> str:
        return (
            f"<Listener channels={sorted(self.wakes)} listening={self.listening} "
            f"received={self.received} connects={self.connects}>"
        )

    def wake_all(self) -> None:
        for event in self.wakes.values():
            event.set()

    async def stop(self) -> None:
        self._stopping = True
        conn = self._conn
        if conn is not None:
            await conn.close()

    async def run(self) -> None:
        backoff = Backoff()
        failures = FailureState(log, "LISTEN connection")
        while not self._stopping:
            try:
                await self._listen_once(backoff, failures)
            except (psycopg.Error, OSError) as exc:
                if self._stopping:
                    break
                self.listening = False
                failures.failed(exc, "listen_failed")
                await asyncio.sleep(backoff.next_delay())
            finally:
                self.listening = False
                if self._conn is not None:
                    await self._conn.close()
                    self._conn = None

    async def _listen_once(self, backoff: Backoff, failures: FailureState) -> None:
        self._conn = await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=True,
            connect_timeout=5,
            application_name=APPLICATION_NAME,  # tells it apart from the loops' connections
        )
        for channel in self.wakes:
            await self._conn.execute(f'LISTEN "{channel}"')
        if self.connects:
            log.info("listening again; re-querying", extra={"action": "listen_resumed"})
        self.connects += 1
        self.listening = True
        backoff.reset()
        failures.ok("listen_recovered")
        self.wake_all()  # anything that changed while we were not listening
        while not self._stopping:
            async for notify in self._conn.notifies(timeout=KEEPALIVE_SECONDS):
                self.received += 1
                event = self.wakes.get(notify.channel)
                if event is not None:
                    event.set()
            await self._conn.execute("SELECT 1")  # keepalive: notices a dead connection
