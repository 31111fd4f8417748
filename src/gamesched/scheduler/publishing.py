"""One publisher shared by a process's loops, (re)connected lazily under a lock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gamesched.events import publisher, schemas, topology


class PublisherHolder:
    def __init__(self, url: str, exchange: str, *, confirm_timeout: float = 30.0) -> None:
        self.publisher = publisher.Publisher(
            url, topology.Names(exchange), confirm_timeout=confirm_timeout
        )
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return repr(self.publisher)

    @property
    def connected(self) -> bool:
        return self.publisher.connected

    async def ensure(self) -> publisher.Publisher:
        if not self.publisher.connected:
            async with self._lock:
                if not self.publisher.connected:
                    await self.publisher.close()
                    await self.publisher.connect()
        return self.publisher

    async def publish_many(self, messages: Sequence[schemas.Outgoing]) -> list[bool]:
        if not messages:
            return []
        return await (await self.ensure()).publish_many(messages)

    async def reset(self) -> None:
        async with self._lock:
            await self.publisher.close()

    async def close(self) -> None:
        await self.publisher.close()
