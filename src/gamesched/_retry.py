"""Capped exponential backoff with jitter, and one log line per change of failure state."""

from __future__ import annotations

import logging
import random

from gamesched import errors

# Past this many doublings every delay is the cap anyway: the exponent stops growing there, so
# the arithmetic stays bounded however long a failure lasts (2**1025 does not fit a float).
_MAX_DOUBLINGS = 32


class Backoff:
    def __init__(self, *, base: float = 0.1, cap: float = 10.0) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2.0 ** min(self.attempt, _MAX_DOUBLINGS))
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0


class FailureState:
    """Logs a failure only when it differs from the previous one, and the recovery once.

    Failures differ by what failed (``action``) and the exception's type, not its text: an outage
    shows several wordings of one state ("connection lost", "connection refused", ...)."""

    def __init__(self, log: logging.Logger, what: str, **context: object) -> None:
        self.log = log
        self.what = what
        self.context = context
        self.current: str | None = None
        self.count = 0

    def failed(self, exc: BaseException, action: str) -> None:
        name = type(exc).__name__
        state = f"{name}: {errors.first_line(exc)}" if str(exc).strip() else name
        self.count += 1
        key = f"{action}: {type(exc).__name__}"
        if key != self.current:
            self.current = key
            self.log.warning(
                "%s failing: %s (retrying with backoff)",
                self.what,
                state,
                extra={"action": action, **self.context},
            )

    def ok(self, action: str) -> None:
        if self.current is not None:
            self.log.info(
                "%s recovered after %d failed attempt(s)",
                self.what,
                self.count,
                extra={"action": action, **self.context},
            )
        self.current = None
        self.count = 0
