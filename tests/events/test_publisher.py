"""Publisher.publish_many against a real RabbitMQ, on the batch path and on the per-message
fallback: confirmed means delivered once with the right properties; unroutable means False;
a connection lost mid-batch never reports True for a message the broker did not take."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from gamesched import errors
from gamesched.events import publisher, schemas, topology
from tests.conftest import RABBITMQ_URL, delete_broker_objects
from tests.scheduler._helpers import TcpProxy, wait_until

pytestmark = pytest.mark.parametrize("path", ["batch", "fallback"])


@pytest.fixture
async def names() -> AsyncIterator[topology.Names]:
    names = topology.Names(f"gamesched.test.pub.{uuid.uuid4().hex[:10]}")
    yield names
    await delete_broker_objects(names.exchange)


async def connected(url: str, names: topology.Names, path: str) -> publisher.Publisher:
    pub = publisher.Publisher(url, names, confirm_timeout=20)
    await pub.connect()
    assert pub._batch is not None, "batch path unavailable with the installed aiormq"
    if path == "fallback":
        pub._batch = None
    return pub


def outgoing(n: int, routing_key: str = schemas.REMINDER_DUE) -> list[schemas.Outgoing]:
    return [
        schemas.Outgoing(
            message_id=uuid.uuid4().hex,
            routing_key=routing_key,
            body={"i": i, "pad": "x" * 150},
            expiration_ms=None if i % 3 == 0 else 600_000 + i,
        )
        for i in range(n)
    ]


async def queue_depth(queue_name: str) -> int:
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        channel = await conn.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        return queue.declaration_result.message_count or 0


async def drain(queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message now in the queue (acked, so the queue is left empty)."""
    conn = await aio_pika.connect(RABBITMQ_URL)
    async with conn:
        channel = await conn.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(queue_name, passive=True)
        expected = queue.declaration_result.message_count or 0
        got: list[aio_pika.abc.AbstractIncomingMessage] = []
        async with asyncio.timeout(30), queue.iterator() as it:
            while len(got) < expected:
                message = await it.__anext__()
                await message.ack()
                got.append(message)
        return got


async def test_batch_is_confirmed_and_delivered_once_with_properties(
    names: topology.Names, path: str
) -> None:
    pub = await connected(RABBITMQ_URL, names, path)
    messages = outgoing(300)
    messages.append(
        schemas.Outgoing(uuid.uuid4().hex, schemas.GAME_UPDATED, {"big": "b" * 300_000})
    )
    try:
        results = await pub.publish_many(messages)
    finally:
        await pub.close()
    assert results == [True] * len(messages)
    assert (pub.published, pub.failed) == (len(messages), 0)

    received = await drain(names.bot_queue)
    by_id = {m.message_id: m for m in received}
    assert len(received) == len(by_id) == len(messages)
    for sent in messages:
        got = by_id[sent.message_id]
        assert json.loads(got.body) == sent.body
        assert got.content_type == "application/json"
        assert got.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert got.type == sent.routing_key
        assert got.routing_key == sent.routing_key
        assert got.timestamp is not None
        expected = None if sent.expiration_ms is None else str(sent.expiration_ms)
        assert got.headers == {}
        raw_expiration = got.properties.expiration
        assert raw_expiration == expected


async def test_unroutable_message_is_false_others_true(names: topology.Names, path: str) -> None:
    pub = await connected(RABBITMQ_URL, names, path)
    messages = outgoing(20)
    # the bot queue is bound to game.#: nothing takes this one, so it comes back (mandatory)
    messages[7] = schemas.Outgoing(uuid.uuid4().hex, "nobody.listens", {"x": 1})
    try:
        results = await pub.publish_many(messages)
        # the channel stays usable after a basic.return
        again = await pub.publish_many(outgoing(5))
    finally:
        await pub.close()
    assert results == [i != 7 for i in range(20)]
    assert again == [True] * 5
    assert (pub.published, pub.failed) == (24, 1)
    received = await drain(names.bot_queue)
    assert messages[7].message_id not in {m.message_id for m in received}
    assert len(received) == 24


async def test_connection_lost_mid_batch_never_reports_unconfirmed_as_true(
    names: topology.Names, path: str
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    host = RABBITMQ_URL.rsplit("@", 1)[0]
    pub = await connected(f"{host}@127.0.0.1:{proxy.port}/", names, path)
    messages = outgoing(20_000)
    try:
        task = asyncio.create_task(pub.publish_many(messages))
        # cut once the broker has taken some, long before it has taken (and confirmed) them all
        await wait_until(lambda: queue_depth(names.bot_queue), 20, "some enqueued", interval=0)
        await proxy.cut()
        try:
            async with asyncio.timeout(30):
                results = await task
        except publisher.ConnectionLost as exc:  # the usual outcome: the answers come with it
            results = exc.results
        assert not pub.connected
    finally:
        await pub.close()
        await proxy.close()
    received = {m.message_id for m in await drain(names.bot_queue)}
    assert len(results) == len(messages)
    assert not all(results), "the cut came before the broker could confirm everything"
    confirmed = {m.message_id for m, ok in zip(messages, results, strict=True) if ok}
    assert received, "the cut came before the broker took anything: the test proves little"
    assert confirmed <= received
    with pytest.raises(errors.BrokerUnavailable):
        await pub.publish_many(outgoing(1))
