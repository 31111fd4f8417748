"""Smoke run of every benchmark: it still runs end to end and writes a well-formed result.

Tiny sizes against the real PostgreSQL and RabbitMQ, each run on a fresh database and exchange
of its own (the harness creates and removes them), through the same ``python -m benchmarks.*``
command a user types. No timing is asserted: the figures of a run this small on a shared machine
mean nothing; only that the harness, the daemon it starts and the result file still fit together:
every message arrives (within the harness's own generous deadlines) and the result file has the
shape report_md and docs/benchmarks.md rely on. Results go to a temporary directory, never to
benchmarks/results/.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiormq
import pytest

from benchmarks import _results
from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.conftest import RABBITMQ_URL, SERVER_URL, database_url

ROOT = Path(__file__).resolve().parents[2]

# About 25-30 s for all of them on the 2-core development machine.
pytestmark = pytest.mark.slow

SERVERS = ["--database-url", SERVER_URL, "--rabbitmq-url", RABBITMQ_URL]
SCHEDULER_SCENARIOS = {
    "wake": ["wake", "--trials", "3"],
    "accuracy": ["accuracy", "--rows", "20", "--span", "1", "--lead", "0.5"],
    "burst": ["burst", "--rows", "50", "--replicas", "2", "--lead", "0.5"],
    "scale": ["scale", "--prefill", "100", "--rows", "20", "--trials", "2", "--lead", "0.5"],
}


def run_module(module: str, *args: str) -> str:
    """``python -m benchmarks.<module> ...`` from the repository root; its output."""
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}"
    return proc.stdout


def only_result(results_dir: Path, name: str) -> dict[str, Any]:
    files = sorted(results_dir.glob(f"{name}-*.json"))
    assert len(files) == 1, f"expected one {name} result file, found {files}"
    payload: dict[str, Any] = json.loads(files[0].read_text())
    assert len(payload["results"]) == 1
    result: dict[str, Any] = payload["results"][0]
    assert result["scenario"] == name
    return result


async def _missing_on_broker(names: list[str]) -> list[str]:
    """Which of ``names`` (exchanges ending in an id, or queues) the broker no longer has."""
    gone = []
    conn = await aiormq.connect(RABBITMQ_URL)
    try:
        for name in names:
            channel = await conn.channel()  # a failed passive declare closes the channel
            try:
                if name.endswith((".bot", ".dlq", ".classic")):
                    await channel.queue_declare(name, passive=True)
                else:
                    await channel.exchange_declare(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                gone.append(name)
    finally:
        await conn.close()
    return gone


def assert_removed(result: dict[str, Any]) -> None:
    """The run's own database, exchange and the daemon's queues are gone after it."""
    if "database" in result:
        settings = Settings(database_url=database_url(result["database"]))
        assert not db_engine.database_exists(settings), (
            f"database {settings.database_name} left behind"
        )
    exchange = result["exchange"]
    assert exchange.startswith(("bench.", "rate."))
    names = [exchange, f"{exchange}.bot", f"{exchange}.dlq"]
    assert asyncio.run(_missing_on_broker(names)) == names


@pytest.fixture
def results_dir(tmp_path: Path) -> Iterator[Path]:
    """A temporary results directory; the default one must not change while the test runs."""
    before = sorted(_results.DEFAULT_DIR.glob("**/*"))
    yield tmp_path
    assert sorted(_results.DEFAULT_DIR.glob("**/*")) == before


def check_wake(result: dict[str, Any], trials: int) -> None:
    assert_removed(result)
    assert result["commit_to_arrival"]["n"] == trials
    assert result["not_arrived_within_10s"] == 0
    assert set(result["commit_to_arrival"]) >= {"p50", "p99", "max"}
    assert [stop["returncode"] for stop in result["daemon_stop"]] == [0]


def check_timed(result: dict[str, Any], rows: int, replicas: int) -> None:
    assert_removed(result)
    assert result["rows"] == rows and result["replicas"] == replicas
    assert (result["arrived"], result["missing"]) == (rows, 0)
    assert result["lateness"]["n"] == rows
    assert result["daemon_sent_at"]["not_done"] == 0
    assert set(result["daemon_sent_at"]) == {
        "sent_at_lateness",
        "skipped",
        "not_done",
        "max_sent_at",
    }
    assert {"daemons_cpu_s", "rabbitmq_cpu_s", "postgres_cpu_s"} <= set(result["cpu"])
    assert [stop["returncode"] for stop in result["daemon_stop"]] == [0] * replicas


@pytest.mark.parametrize("scenario", list(SCHEDULER_SCENARIOS))
def test_scheduler_bench_scenario(scenario: str, results_dir: Path) -> None:
    args = SCHEDULER_SCENARIOS[scenario]
    run_module("scheduler_bench", *SERVERS, "--results-dir", str(results_dir), *args)

    files = sorted(results_dir.glob(f"{scenario}-*.json"))
    assert len(files) == 1, files
    payload = json.loads(files[0].read_text())
    assert {"machine", "results", "daemon_cmd", "load_average_at_end"} <= set(payload)
    assert payload["machine"]["postgresql"] and payload["machine"]["rabbitmq"] != "?"
    (result,) = payload["results"]
    if scenario == "wake":
        assert result["scenario"] == "wake"
        check_wake(result, trials=3)
    elif scenario == "accuracy":
        assert result["scenario"] == "accuracy"
        check_timed(result, rows=20, replicas=1)
    elif scenario == "burst":
        assert result["scenario"] == "burst-50-r2"
        check_timed(result, rows=50, replicas=2)
    else:
        assert result["scenario"] == "scale" and result["prefill_rows"] == 100
        for part in ("baseline", "prefilled"):
            check_wake(result[part]["wake"], trials=2)
            check_timed(result[part]["burst"], rows=20, replicas=1)
        assert set(result["change_positive_is_worse"]) >= {"wake_p50", "burst_drain"}
    assert any(results_dir.glob(f"logs-{scenario}-*/*-daemon0.log"))

    # The Markdown report of docs/benchmarks.md still reads the file.
    table = run_module("report_md", str(files[0]))
    assert "| run |" in table


def test_consumer_capacity(results_dir: Path) -> None:
    messages = 200
    run_module(
        "consumer_capacity",
        "--rabbitmq-url",
        RABBITMQ_URL,
        "--results-dir",
        str(results_dir),
        "--messages",
        str(messages),
        "--consumers",
        "raw,aiormq,aio-pika",
    )
    result = only_result(results_dir, "consumer_capacity")
    assert_removed(result)
    assert result["publisher"]["published_per_s"] > 0
    assert [c["consumer"] for c in result["consumers"]] == ["raw", "aiormq", "aio-pika"]
    for consumer in result["consumers"]:
        assert (consumer["received"], consumer["missing"]) == (messages, 0)
        assert consumer["consumer_cpu_ms_per_1000"] >= 0


def test_publish_rate(results_dir: Path) -> None:
    run_module(
        "publish_rate",
        "--rabbitmq-url",
        RABBITMQ_URL,
        "--results-dir",
        str(results_dir),
        "-n",
        "50",
        "--batch",
        "10",
    )
    result = only_result(results_dir, "publish_rate")
    assert_removed(result)
    assert result["messages"] == 50 and result["messages_per_s"] > 0
