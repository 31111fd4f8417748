"""Plain-text tables of one scenario's result."""

from __future__ import annotations

from typing import Any

from benchmarks._stats import ms


def _mb(value: int) -> str:
    return f"{value / 1048576:.0f} MB"


def _daemon_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    done = result.get("daemon_sent_at") or {}
    sent = done.get("sent_at_lateness") or {}
    if sent.get("n"):
        lines.append(
            f"  daemon sent_at - due      p50 {ms(sent['p50'])}  p99 {ms(sent['p99'])}  "
            f"max {ms(sent['max'])}  (n={sent['n']})"
        )
    if done.get("skipped") or done.get("not_done"):
        lines.append(f"  rows skipped {done.get('skipped')}, not done {done.get('not_done')}")
    for h in result.get("daemon_metrics") or []:
        if h["count"]:
            lines.append(
                f"  daemon {h['metric']}{h['labels'] or ''}: n={h['count']:.0f} "
                f"p50~{ms(h['p50'])} p99~{ms(h['p99'])} mean {ms(h['mean'])}"
            )
    return lines


def print_result(result: dict[str, Any]) -> None:
    name = result["scenario"]
    if name == "scale":
        print(
            f"\n[scale] {result['prefill_rows']} rows pre-filled in "
            f"{result['prefill_seconds']} s ({result['table_size']})"
        )
        for part in ("baseline", "prefilled"):
            for sub in ("wake", "burst"):
                print_result(result[part][sub])
        print("  change vs baseline (positive = worse):")
        for key, value in result["change_positive_is_worse"].items():
            print(f"    {key:22s} {'-' if value is None else f'{value * 100:+.1f} %'}")
        print(f"  all within 20 %: {result['within_20_percent']}")
        return
    print(f"\n[{name}] load average at start {result.get('load_average_at_start')}")
    if "commit_to_arrival" in result:
        s = result["commit_to_arrival"]
        print(
            f"  commit -> arrival        p50 {ms(s['p50'])}  p99 {ms(s['p99'])}  "
            f"max {ms(s['max'])}  (n={s['n']}, not arrived {result['not_arrived_within_10s']}, "
            f"duplicates {result['duplicates']})"
        )
    else:
        s = result["lateness"]
        print(
            f"  arrival - due            p50 {ms(s['p50'])}  p99 {ms(s['p99'])}  "
            f"max {ms(s['max'])}  (arrived {result['arrived']}/{result['rows']}, "
            f"missing {result['missing']}, duplicates {result['duplicates']})"
        )
        if "drain_events_per_s" in result:
            line = f"  drain                    {result['drain_events_per_s']:.0f} events/s"
            if "drain_confirmed_per_s" in result:
                line += f" (by sent_at: {result['drain_confirmed_per_s']:.0f}/s)"
            print(line)
        cpu = result.get("cpu") or {}
        if cpu.get("daemons_cpu_ms_per_1000_events") is not None:
            print(
                f"  CPU per 1,000 events     daemons {cpu['daemons_cpu_ms_per_1000_events']} ms, "
                f"RabbitMQ {cpu['rabbitmq_cpu_ms_per_1000_events']} ms, PostgreSQL "
                f"{cpu['postgres_cpu_ms_per_1000_events']} ms; machine busy "
                f"{cpu.get('machine_busy_fraction', 0) * 100:.0f} %, steal "
                f"{cpu.get('machine_steal_fraction', 0) * 100:.0f} %"
            )
        rss = result.get("peak_rss_bytes") or {}
        if rss:
            print("  peak RSS (VmHWM)         " + ", ".join(_mb(v) for v in rss.values()))
    print("\n".join(_daemon_lines(result)))
