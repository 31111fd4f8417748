"""Logging set-up: readable text by default, one JSON object per line with LOG_FORMAT=json.

Every JSON line has ``ts``, ``level``, ``component`` (the process part: api, scheduler, bot, or
the command's name for migrate, token, dlq), ``logger``, ``msg`` and ``action``. Call sites pass
a stable ``action`` key in ``extra`` so lines can be filtered by what happened, and the ids of
what they concern (``game_id``, ``row_id``, ``message_id``); a line with no action of its own
(a library's) gets ``"action": "log"``. ``bind()`` attaches ids to every later line of the
current asyncio task, for code deep inside one delivery that does not know them (the dry run).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
#: uvicorn attaches a copy of its message with ANSI colour escapes; never output it.
_DROPPED = _STANDARD | {"color_message"}
#: Shown once per line in JSON; text lines already start with the logger's name.
_TEXT_HIDDEN = {"component"}

#: The action of a line whose call site gave none (libraries: uvicorn, alembic, ...).
NO_ACTION = "log"

#: ``gamesched run`` hosts all three parts in one process: there the part is the logger's.
#: (Not uvicorn's: it serves the API and the scheduler's and bot's /metrics alike.)
_PARTS = (
    ("gamesched.api", "api"),
    ("gamesched.scheduler", "scheduler"),
    ("gamesched.bot", "bot"),
    ("hikari", "bot"),
)

_bound: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "gamesched_log_ids", default=()
)


def bind(**ids: object) -> None:
    """Attach ``ids`` (say ``game_id=...``) to every line logged later in the current asyncio
    task (or thread), replacing any bound before; ids a call site passes itself win."""
    _bound.set(tuple((k, str(v)) for k, v in ids.items() if v is not None))


def part_of(logger: str, process: str) -> str:
    """The component of a line from ``logger`` in a process started as ``process``."""
    if process != "run":
        return process
    for prefix, part in _PARTS:
        if logger == prefix or logger.startswith(prefix + "."):
            return part
    return process


class ContextFilter(logging.Filter):
    """Adds ``component`` and the bound ids to each record (before any formatter sees it)."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "component"):
            record.component = part_of(record.name, self.component)
        for key, value in _bound.get():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _DROPPED}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": extras.pop("component", None),
            "logger": record.name,
            "msg": record.getMessage(),
            "action": extras.pop("action", NO_ACTION),
        }
        out.update(extras)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in _extras(record).items() if k not in _TEXT_HIDDEN}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure(level: str = "INFO", fmt: str = "text", component: str = "gamesched") -> None:
    """Log to stderr. ``component``: the command being run (``run``: each line gets the part
    its logger belongs to)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "httpx", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The AMQP client logs every failed connection attempt at ERROR; our own code logs one line
    # per change of failure state instead, so its lines only show when debugging.
    for chatty in ("aiormq", "aio_pika"):
        logging.getLogger(chatty).setLevel(
            logging.DEBUG if root.level <= logging.DEBUG else logging.CRITICAL
        )
