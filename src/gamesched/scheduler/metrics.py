"""Prometheus metrics of the scheduler, in a registry of its own (several daemons may share a
test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Fine below a second (timer accuracy), and still fine up to minutes (bursts drain for tens of
# seconds; a 10 -> 30 -> 60 s gap made a p99 read from /metrics useless there).
LATENESS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2,
    3,
    5,
    7.5,
    10,
    15,
    20,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    1800,
    3600,
)


class SchedulerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.lateness = Histogram(
            "gamesched_scheduler_lateness_seconds",
            "Publish confirmed (row marked done) minus due time, database clock",
            ["kind"],
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.published = Counter(
            "gamesched_scheduler_published",
            "Rows published with a broker confirm and marked done",
            ["kind"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "gamesched_scheduler_skipped",
            "Rows marked done without publishing (game started, illegal transition, ...)",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.failed = Counter(
            "gamesched_scheduler_failed",
            "Publish attempts not confirmed (left pending, retried)",
            ["kind"],
            registry=self.registry,
        )
        self.due = Gauge(
            "gamesched_scheduler_due_rows",
            "Rows due now and not yet done: counted while a backlog drains and while due rows "
            "are locked elsewhere, 0 once the loop sleeps with nothing due",
            ["kind"],
            registry=self.registry,
        )
        self.last_loop = Gauge(
            "gamesched_scheduler_last_loop_timestamp_seconds",
            "Unix time of the last successful loop iteration",
            ["kind"],
            registry=self.registry,
        )
        # retention (gamesched.scheduler.retention)
        self.table_rows = Gauge(
            "gamesched_table_rows",
            "Rows in the table: exact up to about 100,000, PostgreSQL's estimate above "
            "(refreshed every minute)",
            ["table"],
            registry=self.registry,
        )
        self.pruned = Counter(
            "gamesched_retention_pruned_rows",
            "Rows deleted by retention (done and older than GAMESCHED_RETENTION_DAYS)",
            ["table"],
            registry=self.registry,
        )
        self.last_prune = Gauge(
            "gamesched_retention_last_prune_timestamp_seconds",
            "Unix time this process last finished a prune pass (0: never)",
            registry=self.registry,
        )
