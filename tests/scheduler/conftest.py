from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from gamesched.events import topology
from gamesched.events.transport import RETRY_DELAYS
from gamesched.scheduler.service import SchedulerService
from gamesched.settings import Settings
from tests.conftest import RABBITMQ_URL, delete_broker_objects
from tests.scheduler._helpers import wait_until

TRANSPORTS = ("rabbitmq", "postgres")


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """The event transport the scheduler publishes through; every test that uses
    ``sched_settings`` runs on both unless it narrows this with
    ``@pytest.mark.parametrize("transport", ["rabbitmq"], indirect=True)``."""
    return str(request.param)


@pytest.fixture
def sched_settings(fresh_settings: Settings, transport: str) -> Iterator[Settings]:
    """A database and an exchange (queue namespace) of this test's own (deleted afterwards).
    On the PostgreSQL transport there is no RabbitMQ URL at all: nothing may reach a broker."""
    exchange = f"{fresh_settings.gamesched_exchange}.{uuid.uuid4().hex[:8]}"
    update: dict[str, object] = {"gamesched_exchange": exchange, "gamesched_transport": transport}
    if transport == "postgres":
        update["rabbitmq_url"] = None
    settings = fresh_settings.model_copy(update=update)
    assert settings.transport == transport
    yield settings
    if transport == "rabbitmq":
        asyncio.run(_delete_retry_queues(exchange))
        asyncio.run(delete_broker_objects(exchange))


async def _delete_retry_queues(exchange: str) -> None:
    """The test consumer (a ``RabbitSource``) declares ``<exchange>.retry.<n>`` quorum queues,
    which ``delete_broker_objects`` does not know of: left behind, hundreds of them made the
    shared broker stop answering."""
    import aio_pika

    try:
        conn = await aio_pika.connect(RABBITMQ_URL, timeout=5)
    except Exception:  # broker down at teardown: nothing we can clean
        return
    async with conn:
        names = topology.Names(exchange)
        for n in range(1, len(RETRY_DELAYS) + 1):
            channel = await conn.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(names.retry_queue(n))


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
