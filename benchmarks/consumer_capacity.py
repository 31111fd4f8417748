"""How fast can the benchmark's consumer take messages? (A ceiling on any drain rate it reports.)

A separate publisher process (:mod:`benchmarks._publisher`) sends N persistent
``game.reminder_due`` messages with unique message_ids to a fresh exchange as fast as it can (with
publisher confirms, in windows of 1,000) while the consumers' queues are bound but not consumed;
then each consumer in turn drains its own queue (the same N messages), alone on the machine's
cores. Prints the publisher's rate (confirmed msg/s) and, per consumer, N / (last arrival -
first arrival) and the consumer's own CPU per 1,000 messages; also the CPU the publisher and
RabbitMQ spent per 1,000 messages. ``--quorum`` also binds a quorum queue like the daemon's
``<exchange>.bot``, so the broker's share of a burst can be told apart from the daemon's.

    .venv/bin/python -m benchmarks.consumer_capacity --messages 20000
    .venv/bin/python -m benchmarks.consumer_capacity --consumers raw,aiormq,aio-pika
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import _cpu, _machine, _results
from benchmarks._consumer import RECEIVERS, Consumer, ReceiverName, delete_topology

ROOT = Path(__file__).resolve().parent.parent


async def _publish(url: str, exchange: str, n: int, quorum: bool) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks._publisher",
        url,
        exchange,
        str(n),
        "1" if quorum else "0",
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 30)  # "ready"
        cpu0 = _cpu.snapshot([])
        t0 = time.time()
        line = await asyncio.wait_for(proc.stdout.readline(), 600)
        seconds = time.time() - t0
        cpu = _cpu.delta(cpu0, _cpu.snapshot([]), n)
        if await asyncio.wait_for(proc.wait(), 30) != 0 or not line.strip():
            raise RuntimeError(f"publisher failed with exit status {proc.returncode}")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    pub_cpu = float(line)
    print(
        f"publisher ({'quorum queue + ' if quorum else ''}consumer queues): {n} confirmed "
        f"in {seconds:.2f} s = {n / seconds:.0f} msg/s; CPU per 1,000 messages: "
        f"publisher {1e6 * pub_cpu / n:.0f} ms, RabbitMQ "
        f"{cpu['rabbitmq_cpu_ms_per_1000_events']:.0f} ms; machine busy "
        f"{cpu.get('machine_busy_fraction', 0) * 100:.0f} %"
    )
    return {
        "published_per_s": n / seconds,
        "publisher_cpu_ms_per_1000": 1e6 * pub_cpu / n,
        "rabbitmq_cpu_ms_per_1000": cpu["rabbitmq_cpu_ms_per_1000_events"],
        "machine_busy_fraction": cpu.get("machine_busy_fraction"),
    }


async def _drain(consumer: Consumer, n: int) -> dict[str, Any]:
    """Consume the queue filled while nobody consumed it; rate and this process's CPU."""
    cpu0, t0 = time.process_time(), time.time()
    await consumer.begin_consuming()
    missing = await consumer.wait_all({f"m{i}" for i in range(n)}, time.monotonic() + 300)
    cpu = time.process_time() - cpu0
    times = sorted(a.wall for a in consumer.arrivals.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = len(times) / span if span else None
    print(
        f"consumer {consumer.receiver_name:8s}: {len(times)} received ({len(missing)} missing) "
        f"in {span:.2f} s: {rate or 0:.0f} msg/s; its CPU {1e6 * cpu / n:.0f} ms per 1,000 "
        f"(includes the harness's bookkeeping)"
    )
    return {
        "consumer": consumer.receiver_name,
        "received": len(times),
        "missing": len(missing),
        "duplicates": consumer.duplicates,
        "span_seconds": span,
        "first_arrival_after_consume": times[0] - t0 if times else None,
        "messages_per_s": rate,
        "consumer_cpu_ms_per_1000": 1e6 * cpu / n,
    }


async def run(url: str, n: int, quorum: bool, receivers: list[ReceiverName]) -> dict[str, Any]:
    exchange = f"bench.{uuid.uuid4().hex[:12]}"
    consumers = [Consumer(url, exchange, receiver_name=name) for name in receivers]
    load = _machine.load_average()
    try:
        for consumer in consumers:  # each binds its own queue before anything is published
            await consumer.start(consume=False)
        publisher = await _publish(url, exchange, n, quorum)
        drains = []
        for consumer in consumers:
            drains.append(await _drain(consumer, n))
            await consumer.close()  # so the next one runs alone
    finally:
        try:
            for consumer in consumers:
                await consumer.close()
        finally:
            await delete_topology(url, exchange)
    return {
        "scenario": "consumer_capacity",
        "exchange": exchange,
        "load_average_at_start": load,
        "messages": n,
        "quorum": quorum,
        "publisher": publisher,
        "consumers": drains,
    }


def _receivers(text: str) -> list[ReceiverName]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    valid: list[ReceiverName] = []
    for name in names:
        matches = [r for r in RECEIVERS if r == name]
        if not matches:
            raise argparse.ArgumentTypeError(f"unknown consumer {name!r}; one of {RECEIVERS}")
        valid.append(matches[0])
    return valid


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument(
        "--quorum",
        action="store_true",
        help="also bind a quorum queue to game.#, like the daemon's <exchange>.bot",
    )
    parser.add_argument(
        "--consumers",
        type=_receivers,
        default=["raw"],
        help=f"comma-separated, drained in this order: {', '.join(RECEIVERS)} (default: raw)",
    )
    _results.add_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = asyncio.run(run(args.rabbitmq_url, args.messages, args.quorum, args.consumers))
    path = _results.save(args.results_dir, "consumer_capacity", {"results": [result]})
    print(f"result written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
