"""Backoff and failure-state logging, the pure parts of the scheduler's retry behaviour."""

from __future__ import annotations

import logging
import math

import pytest

from gamesched import errors
from gamesched._retry import Backoff, FailureState


def test_backoff_stays_finite_and_capped_however_long_it_fails() -> None:
    backoff = Backoff(base=0.1, cap=10.0)
    delays = [backoff.next_delay() for _ in range(10_000)]
    assert all(math.isfinite(d) and 0 < d <= 10.0 for d in delays)
    assert delays[0] <= 0.1
    assert min(delays[20:]) >= 5.0  # capped, with at most half of it taken off as jitter
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_failure_state_logs_once_per_change_of_state(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.retry")
    state = FailureState(log, "thing")
    with caplog.at_level(logging.INFO, logger="test.retry"):
        for text in ("connection refused", "connection lost", "connection refused") * 50:
            state.failed(errors.BrokerUnavailable(text), "broker_failed")
        state.failed(OSError("db gone"), "db_failed")
        state.ok("recovered")
        state.ok("recovered")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "BrokerUnavailable: connection refused" in messages[0]
    assert "OSError: db gone" in messages[1]
    assert "recovered after 151 failed attempt(s)" in messages[2]
