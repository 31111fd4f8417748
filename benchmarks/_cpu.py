"""CPU time spent by the daemons, RabbitMQ and PostgreSQL during a run, from /proc.

Wall-clock rates on a shared 2-core machine depend on what else runs; CPU seconds per event do
much less, so they tell what each component costs and what a free core would allow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _by_command(names: tuple[str, ...]) -> dict[int, float]:
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            out[int(entry.name)] = process_cpu(int(entry.name))
    return out


def _system() -> dict[str, int]:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    keys = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {k: int(v) for k, v in zip(keys, parts, strict=False)}


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds so far of each daemon, RabbitMQ and PostgreSQL process; machine-wide ticks."""

    daemons: dict[int, float]
    rabbitmq: dict[int, float]
    postgres: dict[int, float]
    system: dict[str, int]


def snapshot(daemon_pids: list[int]) -> Snapshot:
    return Snapshot(
        daemons={pid: process_cpu(pid) for pid in daemon_pids},
        rabbitmq=_by_command(("beam.smp",)),
        postgres=_by_command(("postgres",)),
        system=_system(),
    )


def _spent(start: dict[int, float], end: dict[int, float]) -> float:
    """CPU seconds between two snapshots of the same processes (a new process counts from 0)."""
    return sum(v - start.get(pid, 0.0) for pid, v in end.items())


def delta(start: Snapshot, end: Snapshot, events: int) -> dict[str, Any]:
    """CPU seconds per component between two snapshots, and per 1,000 events."""
    s0, s1 = start.system, end.system
    total = sum(s1.values()) - sum(s0.values())
    out: dict[str, Any] = {}
    for key, seconds in (
        ("daemons", _spent(start.daemons, end.daemons)),
        ("rabbitmq", _spent(start.rabbitmq, end.rabbitmq)),
        ("postgres", _spent(start.postgres, end.postgres)),
    ):
        out[f"{key}_cpu_s"] = round(seconds, 2)
        out[f"{key}_cpu_ms_per_1000_events"] = round(1e6 * seconds / events, 1) if events else None
    if total > 0:
        idle = (s1["idle"] + s1["iowait"]) - (s0["idle"] + s0["iowait"])
        out["machine_busy_fraction"] = round(1 - idle / total, 3)
        out["machine_steal_fraction"] = round((s1["steal"] - s0["steal"]) / total, 3)
    return out
