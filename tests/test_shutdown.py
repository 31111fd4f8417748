"""The exit deadline: a process whose teardown hangs on a thread still ends in time, with the
daemon's own exit code once its work is settled, and says what was still running."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import logging, sys, threading
    from gamesched import _shutdown

    logging.basicConfig(level=logging.INFO)
    stuck, finished = sys.argv[1] == "stuck", sys.argv[2] == "finished"
    if stuck:
        # a non-daemon worker blocked for good: the interpreter joins it at exit
        threading.Thread(target=threading.Event().wait, name="blocked-in-db-call").start()
    deadline = _shutdown.ExitDeadline(0.5)
    deadline.arm()
    if finished:
        deadline.finished(0)
    sys.exit(0 if finished else 3)
    """
)


def run(*args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=30
    )
    return proc.returncode, proc.stderr, time.monotonic() - started


def test_hung_teardown_after_a_clean_stop_exits_with_the_daemons_code():
    code, err, took = run("stuck", "finished")
    assert code == 0, err
    assert took < 10, took
    assert "exiting now with status 0" in err, err
    assert "blocked-in-db-call at threading.py" in err, err


def test_hung_stop_before_the_daemon_returned_exits_1():
    code, err, _ = run("stuck", "not-finished")
    assert code == 1, err
    assert "exiting now with status 1" in err, err


def test_a_process_that_ends_in_time_is_left_alone():
    code, err, _ = run("free", "not-finished")
    assert code == 3, err
    assert "exiting now" not in err, err
