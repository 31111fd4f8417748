"""A bound on how long a stopping process may take to be gone.

The daemons stop cleanly on SIGTERM: they stop taking work, finish what is in hand within a
grace period, and return their exit code. What comes after that is not theirs to bound: the
event loop waits for its default executor's threads, and the interpreter joins every worker
thread before it exits. A thread still blocked in a database call (a delivery cancelled at the
end of the grace, a probe on a stalled connection) holds the process there for as long as that
call takes, which can be a minute; a supervisor waiting 10 s then kills it.

:class:`ExitDeadline` is armed by the first stop signal. If the process is still alive when it
expires, it logs what is still running (each live thread's name and where it is) and ends the
process with ``os._exit``: with the exit code the daemon returned if it got that far (its work
was settled; only teardown hung), else 1. Nothing is lost either way: work not settled is
redelivered by the transport, and an open transaction rolls back when its connection closes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback

log = logging.getLogger("gamesched")

#: From the first SIGTERM to the process being gone, with room under a supervisor's usual 10 s.
EXIT_DEADLINE = 9.0


class ExitDeadline:
    def __init__(self, seconds: float = EXIT_DEADLINE) -> None:
        self.seconds = seconds
        self.code: int | None = None
        self._timer: threading.Timer | None = None

    def __repr__(self) -> str:
        return f"<ExitDeadline {self.seconds} s armed={self._timer is not None} code={self.code}>"

    def arm(self) -> None:
        """Start counting (idempotent: the first call counts)."""
        if self._timer is not None:
            return
        # a daemon thread: it never holds the process up itself, and it keeps running while the
        # interpreter joins the other threads at exit
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.name = "gamesched-exit-deadline"
        self._timer.daemon = True
        self._timer.start()

    def finished(self, code: int) -> None:
        """The daemon returned ``code``: if only teardown is left, exit with it."""
        self.code = code

    def _expire(self) -> None:
        code = 1 if self.code is None else self.code
        log.error(
            "still stopping %.0f s after the signal: exiting now with status %d; still running: %s",
            self.seconds,
            code,
            "; ".join(still_running()) or "nothing",
            extra={"action": "exit_deadline", "exit_code": code},
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(code)


def still_running() -> list[str]:
    """Each live thread other than this one: its name and the innermost line it is on."""
    frames = sys._current_frames()
    out = []
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.ident is None:
            continue
        frame = frames.get(thread.ident)
        where = ""
        if frame is not None:
            last = traceback.extract_stack(frame, limit=1)[-1]
            where = f" at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"
        out.append(f"{thread.name}{where}")
    return out
