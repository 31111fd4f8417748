"""The transport's sink, shared by a process's loops and (re)connected lazily under a lock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from gamesched.events import schemas, transport


class SharedSink:
    """One ``transport.Sink`` for every loop of the process. A sink that writes into the
    claiming transaction (PostgreSQL) has nothing to connect and nothing to check first."""

    def __init__(self, sink: transport.Sink) -> None:
        self.sink = sink
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return repr(self.sink)

    @property
    def in_transaction(self) -> bool:
        return self.sink.in_transaction

    @property
    def connected(self) -> bool:
        return self.sink.connected

    async def ensure(self) -> None:
        """Connect if not connected; raise ``errors.BrokerUnavailable`` if that fails."""
        if not self.sink.connected:
            async with self._lock:
                if not self.sink.connected:
                    await self.sink.reset()
                    await self.sink.connect()

    async def publish(
        self, conn: AsyncConnection[Any], messages: Sequence[schemas.Outgoing]
    ) -> list[bool]:
        """True for each message durably accepted; ``conn`` is the claiming transaction's."""
        if not messages:
            return []
        await self.ensure()
        return await self.sink.publish(conn, messages)

    async def reset(self) -> None:
        async with self._lock:
            await self.sink.reset()

    async def close(self) -> None:
        await self.sink.close()
