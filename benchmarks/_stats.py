"""Percentiles over raw samples, and quantiles estimated from a Prometheus histogram."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def summarize(values: Iterable[float]) -> dict[str, float | int | None]:
    """n, min, p50, p90, p99, max and mean of ``values`` (None when there are none).

    Percentiles are ``statistics.quantiles(n=100, method="inclusive")``: linear interpolation
    between order statistics, so p99 of 200 samples lies between the 198th and 199th values.
    """
    data = sorted(values)
    n = len(data)
    if n == 0:
        return {
            "n": 0,
            "min": None,
            "p50": None,
            "p90": None,
            "p99": None,
            "max": None,
            "mean": None,
        }
    if n == 1:
        v = data[0]
        return {"n": 1, "min": v, "p50": v, "p90": v, "p99": v, "max": v, "mean": v}
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    return {
        "n": n,
        "min": data[0],
        "p50": cuts[49],
        "p90": cuts[89],
        "p99": cuts[98],
        "max": data[-1],
        "mean": statistics.fmean(data),
    }


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Estimate quantile ``q`` from cumulative Prometheus buckets ``[(upper_bound, count), ...]``.

    Same rule as PromQL's ``histogram_quantile``: linear interpolation inside the bucket that
    holds the rank; the lowest bucket interpolates from 0; a rank in the +Inf bucket returns the
    highest finite bound. Accuracy is limited by the bucket layout.
    """
    ordered = sorted(buckets)
    if not ordered:
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def ms(value: float | None) -> str:
    """Seconds as a short millisecond string for tables."""
    if value is None:
        return "-"
    millis = value * 1000.0
    if abs(millis) >= 10000:
        return f"{value:.1f} s"
    if abs(millis) >= 100:
        return f"{millis:.0f} ms"
    return f"{millis:.1f} ms"
