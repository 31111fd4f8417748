"""One exception hierarchy for the whole package.

Each subclass's docstring is its default message. Driver errors are wrapped once, at the data
boundary (``raise ... from exc``); the API maps these classes to 4xx/503 answers in one handler.
"""

from __future__ import annotations


class GameschedError(Exception):
    """Something went wrong in gamesched."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or (self.__doc__ or "error").strip()
        self.field = field
        super().__init__(self.message)


class ConfigError(GameschedError):
    """The configuration is invalid or a required service is unreachable."""


class DatabaseUnavailable(GameschedError):
    """The database is unreachable; try again shortly."""


class BrokerUnavailable(GameschedError):
    """The message broker is unreachable; try again shortly."""


class NotFound(GameschedError):
    """The requested object does not exist."""


class Conflict(GameschedError):
    """The request conflicts with the current state."""


class InvalidInput(GameschedError):
    """The request is invalid."""


class IllegalTransition(Conflict):
    """That status change is not allowed."""


class Unauthorized(GameschedError):
    """A valid bearer token is required."""


class Forbidden(GameschedError):
    """This token may not do that."""


def first_line(exc: BaseException, limit: int = 500) -> str:
    """The first line of an exception's message, for one-line logs and errors (drivers put
    detail and hints on further lines); the exception's type name when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
