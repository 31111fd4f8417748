"""Scheduler daemons as subprocesses: start, wait for /readyz, scrape /metrics, memory, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, urllib.error.URLError):
        return 0, ""


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM/VmRSS (bytes) of ``pid`` from /proc, or {} once it has gone."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) * 1024
    return out


@dataclass
class Daemon:
    """One ``gamesched scheduler`` process with its own metrics port and log file."""

    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    stop_info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        env = {**os.environ, **self.env, "METRICS_PORT": str(self.port)}
        self.proc = subprocess.Popen(
            self.cmd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float) -> float:
        """Poll /readyz until 200; return seconds taken. Raises if it exits or times out."""
        assert self.proc is not None
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"daemon exited with {self.proc.returncode} before ready; log: "
                    f"{self.log_tail()}"
                )
            status, _ = http_get(f"http://127.0.0.1:{self.port}/readyz", timeout=1.0)
            if status == 200:
                return time.monotonic() - t0
            time.sleep(0.05)
        raise RuntimeError(f"daemon not ready within {timeout} s; log: {self.log_tail()}")

    def metrics(self) -> str:
        status, body = http_get(f"http://127.0.0.1:{self.port}/metrics", timeout=5.0)
        return body if status == 200 else ""

    def memory(self) -> dict[str, int]:
        return proc_status(self.pid) if self.proc is not None else {}

    def stop(self, grace: float = 5.0) -> dict[str, Any]:
        """SIGTERM, wait ``grace`` s, then SIGKILL the process group. Records how it ended."""
        if self.proc is None:
            return {}
        info: dict[str, Any] = {"pid": self.proc.pid}
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
                info["stop_seconds"] = round(time.monotonic() - t0, 3)
            except subprocess.TimeoutExpired:
                info["killed"] = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        else:
            info["exited_early"] = True
        info["returncode"] = self.proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        self.stop_info = info
        return info

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])
