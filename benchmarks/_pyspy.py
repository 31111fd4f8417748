"""Optional profile of one daemon with py-spy (``py-spy record --format raw``), summarised."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 100  # samples per second


def find_py_spy() -> str | None:
    venv_bin = Path(sys.executable).parent / "py-spy"
    return str(venv_bin) if venv_bin.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = find_py_spy()
    if exe is None:
        print("    py-spy not found; skipping profile")
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> str:
    """End the recording (SIGINT makes py-spy write what it has) and return its stderr tail."""
    if proc is None:
        return ""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")[-500:]


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Top frames by own samples (leaf) and by total samples (anywhere on the stack)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    try:
        lines = raw.read_text(errors="replace").splitlines()
    except OSError:
        return {"samples": 0, "own": [], "total": []}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    return {
        "samples": samples,
        "own": [(f, c, round(100 * c / samples, 1)) for f, c in own.most_common(top)],
        "total": [(f, c, round(100 * c / samples, 1)) for f, c in total.most_common(top * 2)],
    }
