"""The daemon's own view: lateness histograms scraped from its Prometheus ``/metrics``.

The metric name is not part of the contract, so every histogram whose name contains
``lateness`` is read, per label set (e.g. per kind), and p50/p99 are estimated from its buckets.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from benchmarks._stats import histogram_quantile


def lateness_histograms(text: str) -> list[dict[str, Any]]:
    """One entry per (histogram, label set): count, sum, mean, estimated p50/p99 (seconds)."""
    out: list[dict[str, Any]] = []
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError:
        return out  # not Prometheus text
    for family in families:
        if "lateness" not in family.name or family.type != "histogram":
            continue
        groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = defaultdict(
            lambda: {"buckets": [], "count": 0.0, "sum": 0.0}
        )
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            key = tuple(sorted(labels.items()))
            if sample.name.endswith("_bucket"):
                groups[key]["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                groups[key]["count"] = sample.value
            elif sample.name.endswith("_sum"):
                groups[key]["sum"] = sample.value
        for key, g in groups.items():
            count = g["count"]
            out.append(
                {
                    "metric": family.name,
                    "labels": dict(key),
                    "count": count,
                    "mean": g["sum"] / count if count else None,
                    "p50": histogram_quantile(0.50, g["buckets"]),
                    "p99": histogram_quantile(0.99, g["buckets"]),
                    "buckets": g["buckets"],
                }
            )
    return out


def merge(histograms: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Sum the same (metric, labels) histogram across replicas and re-estimate its quantiles."""
    acc: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for per_daemon in histograms:
        for h in per_daemon:
            key = (h["metric"], tuple(sorted(h["labels"].items())))
            a = acc.setdefault(key, {"buckets": defaultdict(float), "count": 0.0, "sum": 0.0})
            for bound, value in h["buckets"]:
                a["buckets"][bound] += value
            a["count"] += h["count"]
            a["sum"] += (h["mean"] or 0.0) * h["count"]
    out = []
    for (metric, labels), a in acc.items():
        buckets = sorted(a["buckets"].items())
        out.append(
            {
                "metric": metric,
                "labels": dict(labels),
                "count": a["count"],
                "mean": a["sum"] / a["count"] if a["count"] else None,
                "p50": histogram_quantile(0.50, buckets),
                "p99": histogram_quantile(0.99, buckets),
            }
        )
    return out
