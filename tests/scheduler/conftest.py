from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings
from tests.conftest import delete_broker_objects
from tests.scheduler._helpers import wait_until


@pytest.fixture
def sched_settings(fresh_settings: Settings) -> Iterator[Settings]:
    """A database and an exchange of this test's own (deleted afterwards)."""
    exchange = f"{fresh_settings.gamesched_exchange}.{uuid.uuid4().hex[:8]}"
    settings = fresh_settings.model_copy(update={"gamesched_exchange": exchange})
    yield settings
    asyncio.run(delete_broker_objects(exchange))


@pytest.fixture
async def service(sched_settings: Settings) -> AsyncIterator[SchedulerService]:
    """A running in-process scheduler with a 300 s longest sleep (so only NOTIFY wakes it)."""
    svc = SchedulerService(sched_settings, metrics_host="127.0.0.1")
    task = asyncio.create_task(svc.run())
    await wait_until(lambda: svc.ready()[0] or task.done(), 20, "scheduler ready")
    if task.done():
        task.result()
    yield svc
    svc.stop()
    assert await asyncio.wait_for(task, 10) == 0
