"""The RabbitMQ transport against a real RabbitMQ: what the sink publishes, the source delivers
once; retry comes back later with the next attempt number and parks when the delays are used
up; parked messages are listed (without being consumed) and replayed; nothing unsettled, expired
or hostile is lost or crashes the source. Each test has an exchange and queues of its own."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aio_pika
import aiormq.channel
import pytest

from gamesched import errors
from gamesched.events import rabbitmq, schemas, topology
from gamesched.events.rabbitmq import (
    RabbitDeadLetters,
    RabbitDelivery,
    RabbitSink,
    RabbitSource,
)
from gamesched.events.transport import EXPIRED, RETRIES_EXHAUSTED
from tests.conftest import RABBITMQ_URL
from tests.scheduler._helpers import TcpProxy, wait_until

DELAYS = (0.2, 0.4)
NO_CONN: Any = None  # RabbitSink ignores the claiming transaction's connection


@pytest.fixture
async def names() -> AsyncIterator[topology.Names]:
    names = topology.Names(f"gamesched.test.rmq.{uuid.uuid4().hex[:10]}")
    yield names
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        channel = await conn.channel()
        for queue in names.queues(len(DELAYS)):
            await channel.queue_delete(queue)
        await channel.exchange_delete(names.exchange)


@pytest.fixture
async def sink(names: topology.Names) -> AsyncIterator[RabbitSink]:
    sink = RabbitSink(RABBITMQ_URL, names)
    await sink.connect()
    yield sink
    await sink.close()


@pytest.fixture
async def source(names: topology.Names) -> AsyncIterator[RabbitSource]:
    source = await connected_source(names)
    yield source
    await source.close()


async def connected_source(names: topology.Names, prefetch: int = 32) -> RabbitSource:
    source = RabbitSource(RABBITMQ_URL, names, prefetch=prefetch, retry_delays=DELAYS)
    await source.connect()
    return source


def dead_letters(names: topology.Names) -> RabbitDeadLetters:
    return RabbitDeadLetters(RABBITMQ_URL, names)


def message(
    routing_key: str = schemas.GAME_CREATED, expiration_ms: int | None = None
) -> schemas.Outgoing:
    return schemas.Outgoing(
        uuid.uuid4().hex, routing_key, {"game_id": str(uuid.uuid4())}, expiration_ms
    )


async def publish(sink: RabbitSink, *messages: schemas.Outgoing) -> None:
    assert await sink.publish(NO_CONN, messages) == [True] * len(messages)


async def next_delivery(
    deliveries: AsyncIterator[RabbitDelivery], timeout: float = 20
) -> RabbitDelivery:
    async with asyncio.timeout(timeout):
        return await anext(deliveries)


async def ready_count(queue: str) -> int:
    """Messages ready in ``queue`` (not those delivered and unsettled)."""
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        channel = await conn.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


async def raw_publish(
    names: topology.Names,
    body: bytes,
    *,
    to_queue: bool = False,
    routing_key: str = "",
    **props: Any,
) -> None:
    """Publish what our publisher never would (to the exchange, or straight into the queue)."""
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        channel = await conn.channel(publisher_confirms=True)
        if to_queue:
            exchange = channel.default_exchange
            routing_key = names.bot_queue
        else:
            exchange = await channel.get_exchange(names.exchange)
        await exchange.publish(aio_pika.Message(body, **props), routing_key, mandatory=True)


async def test_batch_is_delivered_once_with_routing_key_id_and_body(
    names: topology.Names, sink: RabbitSink, source: RabbitSource
) -> None:
    assert sink.in_transaction is False and sink.connected
    sent = [message(key) for key in schemas.ROUTING_KEYS for _ in range(5)]
    await publish(sink, *sent)
    # still mandatory: what no queue takes is not confirmed as published
    assert await sink.publish(NO_CONN, [message("nobody.listens")]) == [False]

    deliveries = source.deliveries()
    got = []
    for _ in sent:
        delivery = await next_delivery(deliveries)
        got.append(delivery)
        await delivery.ack()
    await source.close()
    with pytest.raises(StopAsyncIteration):  # closed by us: the end, not an error
        await next_delivery(deliveries)

    assert sorted((d.message_id, d.routing_key, json.loads(d.body)) for d in got) == sorted(
        (m.message_id, m.routing_key, m.body) for m in sent
    )
    assert {d.attempt for d in got} == {1}
    # every ack reached the broker: nothing came back when the consumer's connection closed
    await wait_until(lambda: _is_zero(ready_count(names.bot_queue)), 10, "bot queue empty")


async def _is_zero(count: Any) -> bool:
    return await count == 0


async def test_retry_comes_back_after_each_delay_then_parks_as_exhausted(
    names: topology.Names, sink: RabbitSink, source: RabbitSource
) -> None:
    sent = message(schemas.REMINDER_DUE)
    await publish(sink, sent)
    deliveries = source.deliveries()
    first = await next_delivery(deliveries)
    assert (first.message_id, first.attempt) == (sent.message_id, 1)

    delivery = first
    for attempt, delay in enumerate(DELAYS, start=1):
        started = time.monotonic()
        await delivery.retry(f"discord 503 #{attempt}")
        delivery = await next_delivery(deliveries)
        # the broker's TTL holds it back (a lower bound only: the machine may be slow)
        assert time.monotonic() - started >= delay - 0.01
        assert (delivery.message_id, delivery.routing_key, delivery.body, delivery.attempt) == (
            sent.message_id,
            sent.routing_key,
            first.body,
            attempt + 1,
        )

    await delivery.retry("discord 503 #3")  # the last delay was used: parked
    [parked] = await dead_letters(names).list()
    assert parked.message_id == sent.message_id
    assert parked.reason == f"{RETRIES_EXHAUSTED}: discord 503 #3"
    assert (parked.routing_key, parked.body, parked.attempts) == (
        sent.routing_key,
        first.body,
        len(DELAYS) + 1,
    )
    await source.close()
    for queue in (names.bot_queue, *(names.retry_queue(n) for n in (1, 2))):
        await wait_until(lambda q=queue: _is_zero(ready_count(q)), 10, f"{queue} empty")


async def test_park_is_listed_without_being_consumed_and_not_delivered_again(
    names: topology.Names, sink: RabbitSink, source: RabbitSource
) -> None:
    bad, good = message(), message()
    await publish(sink, bad, good)
    deliveries = source.deliveries()
    delivery = await next_delivery(deliveries)
    assert delivery.message_id == bad.message_id
    before = datetime.now(UTC).replace(microsecond=0)
    await delivery.park("malformed: game_id: invalid")

    dlq = dead_letters(names)
    for _ in range(2):  # listing leaves them where they are
        [parked] = await dlq.list()
        assert (parked.id, parked.message_id, parked.routing_key) == (
            bad.message_id,
            bad.message_id,
            bad.routing_key,
        )
        assert json.loads(parked.body) == bad.body
        assert (parked.reason, parked.attempts) == ("malformed: game_id: invalid", 1)
        assert parked.parked_at is not None and parked.parked_at >= before
    assert await dlq.list(limit=0) == []

    nxt = await next_delivery(deliveries)
    assert nxt.message_id == good.message_id
    await nxt.ack()
    await source.close()
    await wait_until(lambda: _is_zero(ready_count(names.bot_queue)), 10, "bot queue empty")
    assert [p.message_id for p in await dlq.list()] == [bad.message_id]


async def test_replay_sends_parked_messages_back_as_new(
    names: topology.Names, sink: RabbitSink, source: RabbitSource
) -> None:
    sent = [message(schemas.ROSTER_CHANGED), message(), message()]
    await publish(sink, *sent)
    deliveries = source.deliveries()
    first = await next_delivery(deliveries)
    await first.retry("db down")
    for _ in range(3):  # the other two, then the first one's retry
        delivery = await next_delivery(deliveries)
        await delivery.park("handler bug")
    dlq = dead_letters(names)
    assert {p.message_id for p in await dlq.list()} == {m.message_id for m in sent}

    assert await dlq.replay(["not-there"]) == 0
    assert len(await dlq.list()) == 3

    assert await dlq.replay([sent[0].message_id]) == 1
    replayed = await next_delivery(deliveries)
    assert (replayed.message_id, replayed.routing_key, replayed.attempt) == (
        sent[0].message_id,
        sent[0].routing_key,
        1,
    )
    assert json.loads(replayed.body) == sent[0].body
    await replayed.ack()
    assert {p.message_id for p in await dlq.list()} == {m.message_id for m in sent[1:]}

    assert await dlq.replay() == 2
    again = {(await next_delivery(deliveries)).message_id for _ in range(2)}
    assert again == {m.message_id for m in sent[1:]}
    assert await dlq.list() == []


async def test_unsettled_delivery_is_delivered_again(
    names: topology.Names, sink: RabbitSink
) -> None:
    sent = message()
    await publish(sink, sent)
    dying = await connected_source(names)
    delivery = await next_delivery(dying.deliveries())
    await dying.close()  # as if the consumer died before settling it
    with pytest.raises(errors.BrokerUnavailable):
        await delivery.ack()

    survivor = await connected_source(names)
    try:
        again = await next_delivery(survivor.deliveries())
        assert (again.message_id, again.attempt) == (sent.message_id, 1)
        await again.ack()
    finally:
        await survivor.close()


async def test_lost_connection_ends_deliveries_with_an_error_and_nothing_is_lost(
    names: topology.Names, sink: RabbitSink
) -> None:
    sent = [message() for _ in range(3)]
    await publish(sink, *sent)
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    host = RABBITMQ_URL.rsplit("@", 1)[0]
    source = RabbitSource(f"{host}@127.0.0.1:{proxy.port}/", names, retry_delays=DELAYS)
    try:
        await source.connect()
        deliveries = source.deliveries()
        in_hand = await next_delivery(deliveries)
        assert source.connected
        await proxy.cut()
        await wait_until(lambda: not source.connected, 10, "the loss noticed")
        # the others, already buffered, are not handed out: they could not be settled
        with pytest.raises(errors.BrokerUnavailable):
            await next_delivery(deliveries)
        with pytest.raises(errors.BrokerUnavailable):
            await in_hand.retry("the settle fails too: it comes back")
        await proxy.restore()
        await source.connect()
        deliveries = source.deliveries()
        again = [await next_delivery(deliveries) for _ in sent]
        for delivery in again:
            await delivery.ack()
    finally:
        await source.close()
        await proxy.close()
    assert sorted(d.message_id for d in again) == sorted(m.message_id for m in sent)
    assert {d.attempt for d in again} == {1}
    await wait_until(lambda: _is_zero(ready_count(names.bot_queue)), 10, "bot queue empty")
    assert await ready_count(names.retry_queue(1)) == 0


@pytest.mark.parametrize("settle", ["retry", "park"])
async def test_copy_not_confirmed_leaves_the_original_unacked(
    names: topology.Names, sink: RabbitSink, settle: str
) -> None:
    """A retry or park whose copy the broker does not take (its queue was deleted under us:
    the copy comes back unroutable) raises, and the message is delivered again later."""
    sent = message()
    await publish(sink, sent)
    source = await connected_source(names)
    try:
        delivery = await next_delivery(source.deliveries())
        target = names.retry_queue(1) if settle == "retry" else names.dead_letter_queue
        conn = await aio_pika.connect(RABBITMQ_URL)
        async with conn:
            await (await conn.channel()).queue_delete(target)
        with pytest.raises(errors.BrokerUnavailable):
            await getattr(delivery, settle)("transient")
    finally:
        await source.close()

    source = await connected_source(names)  # reconnecting declares the queue again
    try:
        again = await next_delivery(source.deliveries())
        assert (again.message_id, again.attempt) == (sent.message_id, 1)
        await getattr(again, settle)("transient")
    finally:
        await source.close()
    if settle == "park":
        assert [p.message_id for p in await dead_letters(names).list()] == [sent.message_id]


async def test_expired_messages_are_dead_lettered_and_listed_as_expired(
    names: topology.Names, sink: RabbitSink, source: RabbitSource
) -> None:
    # Expires in the bot queue before anyone consumes it: RabbitMQ dead-letters it itself.
    expired = message(schemas.REMINDER_DUE, expiration_ms=50)
    await publish(sink, expired)
    dlq = dead_letters(names)
    await wait_until(dlq.list, 20, "the expired message in the dead-letter queue", interval=0.1)
    [parked] = await dlq.list()
    assert (parked.message_id, parked.routing_key, parked.reason, parked.attempts) == (
        expired.message_id,
        expired.routing_key,
        EXPIRED,
        0,
    )
    assert parked.parked_at is not None

    # Back from a retry, then rejected by some other consumer: RabbitMQ dead-letters it with
    # reason "rejected" (its first death, in the retry queue, was "expired").
    rejected = message(schemas.ROSTER_CHANGED)
    await publish(sink, rejected)
    await (await next_delivery(source.deliveries())).retry("db down")
    await source.close()
    await wait_until(lambda: _is_one(ready_count(names.bot_queue)), 20, "back from retry")
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        queue = await (await conn.channel()).get_queue(names.bot_queue)
        raw = await queue.get(timeout=10)
        assert raw.headers["x-first-death-reason"] == "expired"
        # the retry copy kept the publisher's properties
        assert (raw.message_id, raw.type, raw.content_type) == (
            rejected.message_id,
            rejected.routing_key,
            "application/json",
        )
        assert raw.delivery_mode == aio_pika.DeliveryMode.PERSISTENT and raw.timestamp
        await raw.reject(requeue=False)
    await wait_until(lambda: _has(dlq, rejected.message_id), 20, "rejected", interval=0.1)
    parked = {p.message_id: p for p in await dlq.list()}
    got = parked[rejected.message_id]
    assert (got.reason, got.routing_key, got.attempts) == ("rejected", rejected.routing_key, 2)


async def _is_one(count: Any) -> bool:
    return await count == 1


async def _has(dlq: RabbitDeadLetters, message_id: str) -> bool:
    return message_id in {p.message_id for p in await dlq.list()}


async def test_deadline_is_kept_across_retries(
    names: topology.Names, sink: RabbitSink, source: RabbitSource
) -> None:
    sent = message(schemas.REMINDER_DUE, expiration_ms=2500)
    await publish(sink, sent)
    deliveries = source.deliveries()
    first = await next_delivery(deliveries)
    deadline = first.deadline_ms
    assert deadline is not None
    await first.retry("discord 503")
    second = await next_delivery(deliveries)
    assert (second.attempt, second.deadline_ms) == (2, deadline)  # absolute, not reset
    await wait_until(lambda: time.time() * 1000 > deadline, 10, "the deadline to pass")
    await second.retry("discord 503 again")
    [parked] = await dead_letters(names).list()
    assert (parked.message_id, parked.reason, parked.attempts) == (sent.message_id, EXPIRED, 2)

    # Back from a retry queue after its deadline: parked on arrival, never handed out.
    late, marker = message(schemas.REMINDER_DUE), message()
    past = int(time.time() * 1000) - 1000
    await raw_publish(
        names,
        b"{}",
        to_queue=True,
        message_id=late.message_id,
        type=late.routing_key,
        headers={rabbitmq.ATTEMPT: 2, rabbitmq.DEADLINE: past},
    )
    await publish(sink, marker)
    assert (await next_delivery(deliveries)).message_id == marker.message_id
    parked_ids = {p.message_id: p.reason for p in await dead_letters(names).list()}
    assert parked_ids[late.message_id] == EXPIRED


async def test_prefetch_bounds_unsettled_deliveries(
    names: topology.Names, sink: RabbitSink
) -> None:
    sent = [message() for _ in range(10)]
    await publish(sink, *sent)
    slow = await connected_source(names, prefetch=3)
    other: RabbitSource | None = None
    try:
        slow_deliveries = slow.deliveries()
        held = [await next_delivery(slow_deliveries) for _ in range(3)]
        waiting = asyncio.ensure_future(anext(slow_deliveries))
        # With a bound of 3 the broker holds the other 7 back for the next consumer; without
        # one it would have pushed all 10 to the first.
        other = await connected_source(names)
        other_deliveries = other.deliveries()
        rest = [await next_delivery(other_deliveries) for _ in range(7)]
        assert not waiting.done()
        ids = {d.message_id for d in held} | {d.message_id for d in rest}
        assert ids == {m.message_id for m in sent}
        waiting.cancel()
    finally:
        await slow.close()
        if other is not None:
            await other.close()


async def test_hostile_messages_do_not_crash_the_source(
    names: topology.Names, source: RabbitSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No type, a nonsense attempt header: the exchange's routing key counts, attempt 1.
    await raw_publish(
        names,
        b"not json",
        routing_key=schemas.GAME_UPDATED,
        message_id="hostile-1",
        headers={rabbitmq.ATTEMPT: "abc", rabbitmq.DEADLINE: "soon"},
    )
    # Straight into the queue, no type, no message id: parked by the source, never handed out.
    # (aiormq gives every message a random id; other clients need not, so take that away.)
    with monkeypatch.context() as patch:
        patch.setattr(aiormq.channel, "UUID", lambda **_: SimpleNamespace(hex=""))
        await raw_publish(names, b"{}", to_queue=True, headers={rabbitmq.ATTEMPT: -5})
    # Straight into the queue, no type: a routing key no consumer knows, so the bot parks it.
    await raw_publish(names, b"{}", to_queue=True, message_id="hostile-3")

    deliveries = source.deliveries()
    first = await next_delivery(deliveries)
    assert (first.message_id, first.routing_key, first.attempt, first.deadline_ms) == (
        "hostile-1",
        schemas.GAME_UPDATED,
        1,
        None,
    )
    await first.retry("cannot tell yet")
    third = await next_delivery(deliveries)
    assert third.message_id == "hostile-3"
    with pytest.raises(schemas.MalformedEvent):
        schemas.parse(third.routing_key, third.body)
    await third.park("malformed: unknown routing key")
    again = await next_delivery(deliveries)
    assert (again.message_id, again.routing_key, again.attempt) == (
        "hostile-1",
        schemas.GAME_UPDATED,
        2,
    )
    await again.ack()
    dlq = dead_letters(names)
    parked = {p.reason: (p.routing_key, p.message_id) for p in await dlq.list()}
    assert parked.keys() == {"no message_id", "malformed: unknown routing key"}
    assert parked["malformed: unknown routing key"] == ("", "hostile-3")
    assert parked["no message_id"][0] == ""
    assert parked["no message_id"][1], "parked with an id of its own, so it can be named"
    # with no routing key no queue would take them: a replay leaves them parked
    assert await dlq.replay() == 0
    assert len(await dlq.list()) == 2


async def test_queue_arguments(names: topology.Names, source: RabbitSource) -> None:
    """The queues exist with exactly these arguments (a declare with any other fails)."""
    at_least_once = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    expected = {
        names.bot_queue: {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": names.dead_letter_queue,
            **at_least_once,
        },
        names.dead_letter_queue: {"x-queue-type": "quorum"},
        **{
            names.retry_queue(n): {
                "x-queue-type": "quorum",
                "x-message-ttl": ms,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": names.bot_queue,
                **at_least_once,
            }
            for n, ms in ((1, 200), (2, 400))
        },
    }
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        for queue, arguments in expected.items():
            channel = await conn.channel()
            await channel.declare_queue(queue, durable=True, arguments=arguments)


async def test_bot_queue_declared_by_an_older_version_is_used_as_it_is(
    names: topology.Names,
) -> None:
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        channel = await conn.channel()
        await channel.declare_queue(
            names.bot_queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": names.dead_letter_queue,
            },
        )
    sink = RabbitSink(RABBITMQ_URL, names)
    source = await connected_source(names)
    try:
        await sink.connect()
        sent = message()
        await publish(sink, sent)
        deliveries = source.deliveries()
        delivery = await next_delivery(deliveries)
        assert delivery.message_id == sent.message_id
        await delivery.retry("comes back through a retry queue too")
        assert (await next_delivery(deliveries)).attempt == 2
    finally:
        await sink.close()
        await source.close()


async def test_retry_queue_with_another_delay_is_a_configuration_error(
    names: topology.Names, source: RabbitSource
) -> None:
    """Not an outage to reconnect for: the retry schedule differs from the queue's TTL."""
    other = RabbitSource(RABBITMQ_URL, names, retry_delays=(0.3, 0.4))
    with pytest.raises(errors.ConfigError, match=r"retry\.1 exists with other arguments"):
        await other.connect()
    assert not other.connected
