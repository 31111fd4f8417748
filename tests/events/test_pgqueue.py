"""The PostgreSQL transport on a real database: publish in the caller's transaction, lease,
ack, retry with delays, park, replay, lost leases and expiry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from gamesched.events import pgqueue, transport
from gamesched.events.schemas import Outgoing
from gamesched.settings import Settings
from tests.scheduler._helpers import aconnect, fetch_one, wait_until

DEADLINE = 10.0  # seconds: generous for a noisy machine; the happy path takes milliseconds


def messages(n: int, *, prefix: str = "m", ttl_ms: int | None = None) -> list[Outgoing]:
    return [
        Outgoing(f"{prefix}{i}", "game.updated", {"game_id": str(uuid.uuid4())}, ttl_ms)
        for i in range(n)
    ]


async def publish(settings: Settings, queue: str, batch: list[Outgoing]) -> None:
    async with await aconnect(settings) as conn, conn.transaction():
        assert await pgqueue.PgSink(queue).publish(conn, batch) == [True] * len(batch)


class Consumer:
    """A source and its one delivery iterator, read with deadlines."""

    def __init__(self, source: pgqueue.PgSource) -> None:
        self.source = source
        self._it = source.deliveries()

    async def take(self, n: int = 1) -> list[transport.Delivery]:
        return [await asyncio.wait_for(anext(self._it), DEADLINE) for _ in range(n)]


@asynccontextmanager
async def consumer(settings: Settings, queue: str, **kwargs: Any) -> AsyncIterator[Consumer]:
    kwargs.setdefault("max_wait", 60.0)  # so only NOTIFY or a due retry can wake it in time
    source = pgqueue.PgSource(settings.libpq_url, queue, **kwargs)
    await source.connect()
    try:
        yield Consumer(source)
    finally:
        await source.close()


@pytest.fixture
def queue() -> str:
    return f"test.{uuid.uuid4().hex[:8]}"


async def test_published_messages_arrive_once_each_with_their_fields(
    fresh_settings: Settings, queue: str
):
    batch = messages(5)
    async with consumer(fresh_settings, queue) as c:
        await publish(fresh_settings, queue, batch)  # the NOTIFY at commit wakes the consumer
        got = await c.take(5)
        for d in got:
            await d.ack()
    assert sorted(d.message_id for d in got) == sorted(m.message_id for m in batch)
    by_id = {m.message_id: m for m in batch}
    for d in got:
        assert d.routing_key == "game.updated"
        assert d.attempt == 1
        assert d.body == pgqueue._body_text(by_id[d.message_id].body).encode()
    async with await aconnect(fresh_settings) as conn:
        assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 0


async def test_a_rolled_back_publish_leaves_no_message(fresh_settings: Settings, queue: str):
    async with await aconnect(fresh_settings) as conn:
        async with conn.transaction(force_rollback=True):
            await pgqueue.PgSink(queue).publish(conn, messages(3))
            assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 3
        assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 0


async def test_queues_are_namespaces(fresh_settings: Settings, queue: str):
    async with consumer(fresh_settings, queue) as c:
        await publish(fresh_settings, "someone.else", messages(3, prefix="other"))
        await publish(fresh_settings, queue, messages(1, prefix="mine"))
        (d,) = await c.take()
        assert d.message_id == "mine0"
        await d.ack()
    async with await aconnect(fresh_settings) as conn:
        assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 3


async def test_retry_comes_back_after_its_delay_then_parks(fresh_settings: Settings, queue: str):
    delays = (0.2, 0.4)
    async with consumer(fresh_settings, queue, retry_delays=delays) as c:
        await publish(fresh_settings, queue, messages(1))
        (first,) = await c.take()
        await first.retry("discord answered 502")
        loop = asyncio.get_running_loop()
        started = loop.time()
        (second,) = await c.take()
        assert loop.time() - started >= delays[0] - 0.05  # not before its delay
        assert (second.message_id, second.attempt) == (first.message_id, 2)
        await second.retry("discord answered 502")
        (third,) = await c.take()
        assert third.attempt == 3
        await third.retry("still 502")  # no delays left: parked
    parked = await pgqueue.PgDeadLetters(fresh_settings.libpq_url, queue).list()
    assert [(p.message_id, p.attempts) for p in parked] == [(first.message_id, 3)]
    assert parked[0].reason == f"{transport.RETRIES_EXHAUSTED}: still 502"
    assert parked[0].parked_at is not None


async def test_parked_is_listed_not_redelivered_and_replay_sends_it_again(
    fresh_settings: Settings, queue: str
):
    dlq = pgqueue.PgDeadLetters(fresh_settings.libpq_url, queue)
    assert await dlq.list() == []
    assert await dlq.replay() == 0  # an empty dead-letter queue: nothing to do, no error
    async with consumer(fresh_settings, queue, max_wait=0.2) as c:
        await publish(fresh_settings, queue, messages(2))
        bad, good = await c.take(2)
        await bad.park("body is not a game.updated")
        await good.ack()
        (parked,) = await dlq.list()
        assert (parked.message_id, parked.reason) == (bad.message_id, "body is not a game.updated")
        assert parked.body == bad.body
        # parked stays parked: the consumer polls (max_wait 0.2 s) but gets nothing
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(c._it), 1.0)
    async with consumer(fresh_settings, queue) as c:
        assert await dlq.replay(["no-such-id"]) == 0
        assert await dlq.replay([parked.id]) == 1
        (again,) = await c.take()
        assert (again.message_id, again.attempt, again.body) == (bad.message_id, 1, bad.body)
        await again.ack()
    assert await dlq.list() == []


async def test_a_delivery_left_unsettled_comes_back_when_its_lease_runs_out(
    fresh_settings: Settings, queue: str
):
    await publish(fresh_settings, queue, messages(1))
    async with consumer(fresh_settings, queue, lease_seconds=0.5) as c:
        (lost,) = await c.take()  # ...and the consumer dies without settling it
    async with consumer(fresh_settings, queue, lease_seconds=30) as c:
        (again,) = await c.take()
        assert (again.message_id, again.attempt) == (lost.message_id, 2)
        # the dead consumer's late ack is refused by the lease token: the row stays leased
        await lost.source.connect()
        await lost.ack()
        await lost.source.close()  # sends the queued ack
        async with await aconnect(fresh_settings) as conn:
            assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 1
        await again.ack()
    async with await aconnect(fresh_settings) as conn:
        assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 0


async def test_an_expired_message_is_parked_not_delivered(fresh_settings: Settings, queue: str):
    await publish(fresh_settings, queue, messages(1, prefix="late", ttl_ms=1))
    async with await aconnect(fresh_settings) as conn:
        await wait_until(
            lambda: fetch_one(conn, "SELECT bool_and(expires_at < now()) FROM event_queue"),
            DEADLINE,
            "message expired",
        )
    await publish(fresh_settings, queue, messages(1, prefix="fresh", ttl_ms=3_600_000))
    async with consumer(fresh_settings, queue) as c:
        (d,) = await c.take()
        assert d.message_id == "fresh0"
        await d.ack()
    parked = await pgqueue.PgDeadLetters(fresh_settings.libpq_url, queue).list()
    assert [(p.message_id, p.reason) for p in parked] == [("late0", transport.EXPIRED)]


async def test_prefetch_bounds_unsettled_deliveries(fresh_settings: Settings, queue: str):
    await publish(fresh_settings, queue, messages(5))
    async with consumer(fresh_settings, queue, prefetch=2) as c:
        await c.take(2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(c._it), 0.5)


async def test_settling_twice_is_a_bug_not_a_silent_no_op(fresh_settings: Settings, queue: str):
    await publish(fresh_settings, queue, messages(1))
    async with consumer(fresh_settings, queue) as c:
        (d,) = await c.take()
        await d.ack()
        with pytest.raises(RuntimeError, match="settled twice"):
            await d.park("again")


async def test_a_lost_database_connection_raises_from_the_iterator(
    fresh_settings: Settings, queue: str
):
    async with consumer(fresh_settings, queue, max_wait=0.2) as c:
        async with await aconnect(fresh_settings) as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (f"gamesched-consumer-{queue}",),
            )
        with pytest.raises(psycopg.OperationalError):
            await c.take()


async def test_acks_are_grouped_not_one_statement_each(fresh_settings: Settings, queue: str):
    """A consumer acking one message at a time costs a few statements per lease, not one per
    message."""
    await publish(fresh_settings, queue, messages(300))
    statements: list[str] = []
    async with consumer(fresh_settings, queue, prefetch=50) as c:
        conn = c.source._conn
        assert conn is not None
        execute = conn.execute

        def counted(query: Any, *args: Any, **kwargs: Any) -> Any:
            statements.append(str(query))
            return execute(query, *args, **kwargs)

        conn.execute = counted  # type: ignore[method-assign]
        for _ in range(300):
            (d,) = await c.take()
            await d.ack()
    async with await aconnect(fresh_settings) as conn:
        assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 0
    acks = [q for q in statements if q == pgqueue.ACK]
    assert 1 <= len(acks) <= 30, f"{len(acks)} ack statements for 300 acks"


async def test_close_sends_the_acks_queued_so_far(fresh_settings: Settings, queue: str):
    await publish(fresh_settings, queue, messages(3))
    async with consumer(fresh_settings, queue) as c:
        for d in await c.take(3):
            await d.ack()
    async with await aconnect(fresh_settings) as conn:
        assert await fetch_one(conn, "SELECT count(*) FROM event_queue") == 0
