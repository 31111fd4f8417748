"""Smoke run of the retention benchmark: tiny sizes, it runs end to end and its JSON has the
fields docs/benchmarks.md quotes. No timing is asserted (meaningless at this size)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SERVER_URL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_retention_bench_runs_and_prunes_every_row() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.retention_bench",
            "--games",
            "300",
            "--batch",
            "100",
            "--baseline",
            "0.5",
            "--database-url",
            SERVER_URL,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}"
    result = json.loads(proc.stdout)
    assert result["prune"]["deleted"] == {
        "reminder_deliveries": 600,
        "notification_schedule": 600,
        "game_status_schedule": 600,
        "event_outbox": 600,
        "processed_events": 600,
    }
    assert result["prune"]["statements"] == 5 * 7  # 6 full batches of 100 and one empty, each
    assert result["baseline"]["claimed"] > 0
    assert result["counts"]["exact"]["notification_schedule"] == 600
    assert "max_lock_wait_ms" in result["prune"]
