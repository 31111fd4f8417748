#!/usr/bin/env python3
"""Render result files of scheduler_bench as Markdown tables (for docs/benchmarks.md).

.venv/bin/python -m benchmarks.report_md benchmarks/results/all-*.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks._stats import ms


def _daemon_hist(r: dict[str, Any]) -> str:
    for h in r.get("daemon_metrics") or []:
        if h["count"] and h["labels"].get("kind") == "reminders":
            return f"{ms(h['p50'])} / {ms(h['p99'])}"
    return "-"


def _sent(r: dict[str, Any]) -> str:
    s = r["daemon_sent_at"]["sent_at_lateness"]
    return f"{ms(s['p50'])} / {ms(s['p99'])} / {ms(s['max'])}" if s["n"] else "-"


def _rss(r: dict[str, Any]) -> str:
    values = (r.get("peak_rss_bytes") or {}).values()
    return ", ".join(f"{v / 1048576:.0f}" for v in values) or "-"


def wake_row(r: dict[str, Any]) -> str:
    s = r["commit_to_arrival"]
    return (
        f"| {r['scenario']} | {s['n']} | {ms(s['p50'])} | {ms(s['p99'])} | {ms(s['max'])} | "
        f"{r['not_arrived_within_10s']} | {r['duplicates']} | {_sent(r)} | {_daemon_hist(r)} |"
    )


def timed_row(r: dict[str, Any]) -> str:
    s = r["lateness"]
    drain = r.get("drain_events_per_s")
    confirmed = r.get("drain_confirmed_per_s")
    return (
        f"| {r['scenario']} | {r['rows']} | {r['replicas']} | "
        f"{'-' if drain is None else f'{drain:,.0f}'} | "
        f"{'-' if confirmed is None else f'{confirmed:,.0f}'} | "
        f"{ms(s['p50'])} | {ms(s['p99'])} | {ms(s['max'])} | {r['missing']} | "
        f"{r['duplicates']} | {_sent(r)} | {_rss(r)} |"
    )


WAKE_HEAD = (
    "| run | trials | commit→arrival p50 | p99 | max | lost | dup | "
    "daemon sent_at-due p50/p99/max | daemon histogram p50/p99 |\n"
    "|---|---|---|---|---|---|---|---|---|"
)
TIMED_HEAD = (
    "| run | rows | replicas | drain at consumer (ev/s) | drain by sent_at (ev/s) | "
    "lateness p50 | p99 | max | missing | dup | daemon sent_at-due p50/p99/max | "
    "peak RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


CPU_HEAD = (
    "| run | daemons CPU ms / 1,000 ev | RabbitMQ | PostgreSQL | machine busy | steal | "
    "load at start |\n|---|---|---|---|---|---|---|"
)


def cpu_row(r: dict[str, Any]) -> str:
    c = r.get("cpu") or {}
    if c.get("daemons_cpu_ms_per_1000_events") is None:
        return ""
    return (
        f"| {r['scenario']} | {c['daemons_cpu_ms_per_1000_events']:.0f} | "
        f"{c['rabbitmq_cpu_ms_per_1000_events']:.0f} | "
        f"{c['postgres_cpu_ms_per_1000_events']:.0f} | "
        f"{c.get('machine_busy_fraction', 0) * 100:.0f} % | "
        f"{c.get('machine_steal_fraction', 0) * 100:.0f} % | "
        f"{r.get('load_average_at_start', '-')} |"
    )


def flatten(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    wakes, timed = [], []
    for r in results:
        if r["scenario"] == "scale":
            for part in ("baseline", "prefilled"):
                wakes.append(r[part]["wake"])
                timed.append(r[part]["burst"])
        elif "commit_to_arrival" in r:
            wakes.append(r)
        else:
            timed.append(r)
    return wakes, timed


def render(path: Path) -> str:
    data = json.loads(path.read_text())
    m = data["machine"]
    out = [
        f"### {path.name}",
        "",
        f"{m['date_utc']}; {m['nproc']} x {m['cpu_model']}; PostgreSQL {m['postgresql']}; "
        f"RabbitMQ {m['rabbitmq']}; commit {m['git_commit'][:10]}; load average at start "
        f"{m['load_average_at_start']}, at end {data.get('load_average_at_end')}",
        "",
    ]
    wakes, timed = flatten(data["results"])
    if wakes:
        out += [WAKE_HEAD, *map(wake_row, wakes), ""]
    if timed:
        out += [TIMED_HEAD, *map(timed_row, timed), ""]
        # Only bursts: over accuracy's minute, idle time would dominate the per-event figure.
        cpu_rows = [row for r in timed if r.get("drain_events_per_s") and (row := cpu_row(r))]
        if cpu_rows:
            out += [CPU_HEAD, *cpu_rows, ""]
    for r in data["results"]:
        if r["scenario"] == "scale":
            out.append(
                f"Scale: {r['prefill_rows']:,} rows pre-filled in {r['prefill_seconds']} s "
                f"({r['table_size']}). Change vs. empty table (positive = worse):"
            )
            out.append("")
            out.append("| figure | change |\n|---|---|")
            for k, v in r["change_positive_is_worse"].items():
                out.append(f"| {k} | {'-' if v is None else f'{v * 100:+.1f} %'} |")
            out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="result files of scheduler_bench")
    for path in parser.parse_args(argv).files:
        print(render(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
